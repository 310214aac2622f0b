/* Subject packs on the device (docs/bundle.md, "Packs"): what is installed, answering from it,
 * removing it. Plain browser JavaScript, loaded by the page and by the service worker (sw.js:
 * answering from what is installed). Planning and downloading a part, which only the offline
 * dialog and the updates do, are added by offline.js, loaded when needed (not in the app shell).
 *
 * Storage, in Cache Storage:
 *  - satchel-files: every file once, by content: <root>satchel/file/<sha256>. Two versions, two
 *    languages or two subjects that share a file store it once.
 *  - satchel-packs: the part lists. <root>satchel/installed/<code>/<part>.json is what the device
 *    answers from; <root>satchel/pending/<code>/<part>.json is a download or an update under way.
 *
 * A part switches to a new version in one write (its installed list), after every file of the
 * new version is stored: until then the old version answers, so a subject is never half updated.
 * An interrupted download keeps its pending list and files: the next try fetches only what is
 * missing. Files no list refers to are deleted (collect).
 *
 * Media (videos, audio, PDFs, EPUBs: the part list's "media", docs/bundle.md) are downloaded apart,
 * when the learner asks for them ("With videos"), and can be removed alone. The downloading is
 * media.js's (loaded by pages with media only, to keep the shell small); here is what the service
 * worker and removing a subject need:
 *  - satchel-media-parts: <root>satchel/part/<sha256>/<start>, the CHUNK-byte pieces of a file
 *    fetched with Range; an interrupted download resumes at the first piece missing;
 *  - satchel-media: the whole file at its own URL (assets/media/<hash>.<ext>), put there once the
 *    sha256 of all its pieces matched, then its pieces deleted. The service worker answers from it;
 *  - satchel-packs: <root>satchel/media/<code>/<part>.json, the media a subject keeps. */
(function (global) {
  'use strict';
  var FILES = 'satchel-files';
  var LISTS = 'satchel-packs';
  var HASH = 'x-satchel-sha256';
  var DOWNLOAD = { 'x-satchel-download': '1' };  // the service worker lets these through to the network
  var MEDIA = 'satchel-media';
  var PIECES = 'satchel-media-parts';

  function hex(buffer) {
    return Array.from(new Uint8Array(buffer), function (b) { return b.toString(16).padStart(2, '0'); }).join('');
  }

  async function sha256(buffer) {
    return hex(await crypto.subtle.digest('SHA-256', buffer));
  }

  function Packs(root) {
    this.root = String(root);
  }

  Packs.prototype.fileKey = function (sha) { return this.root + 'satchel/file/' + sha; };
  Packs.prototype.listKey = function (kind, code, part) { return this.root + 'satchel/' + kind + '/' + code + '/' + part + '.json'; };

  /* The lists of one kind ('installed' or 'pending': a part's files; 'media' or 'media-pending': its
   * media): [{code, part, sha256, list}] (media lists have no sha256). */
  Packs.prototype.lists = async function (kind, code) {
    var cache = await caches.open(LISTS);
    var prefix = this.root + 'satchel/' + kind + '/' + (code ? code + '/' : '');
    var found = [];
    for (var request of await cache.keys()) {
      if (request.url.indexOf(prefix) !== 0) continue;
      var response = await cache.match(request);
      var path = request.url.slice((this.root + 'satchel/' + kind + '/').length).replace(/\.json$/, '').split('/');
      found.push({ code: path[0], part: path[1], sha256: response.headers.get(HASH), list: await response.json() });
    }
    return found;
  };

  /* URL -> sha256 of every installed file (a page answers at '.../' and '.../index.html'). */
  Packs.prototype.urlMap = async function () {
    var map = new Map();
    for (var installed of await this.lists('installed')) {
      for (var file of installed.list.files) {
        var href = new URL(file.url, this.root).href;
        map.set(href, file.sha256);
        if (href.endsWith('/')) map.set(href + 'index.html', file.sha256);
      }
    }
    return map;
  };

  /* The language's index of parts, from the network (it says what the current version is). */
  Packs.prototype.index = async function (code) {
    var response = await fetch(this.root + 'satchel/packs/' + code + '.json', { cache: 'no-cache', headers: DOWNLOAD });
    if (!response.ok) throw new Error('satchel/packs/' + code + '.json: HTTP ' + response.status);
    return response.json();
  };

  /* The bytes that getting `partIds` of a language would download, from its index alone (no list
   * fetched): every part not installed at its current version, each once. `installed` maps a part
   * id to the sha256 of its installed list. The shared part counts only when it is not on the
   * device: the size a learner is shown is what the download then fetches. */
  Packs.cost = function (index, partIds, installed) {
    var bytes = 0;
    for (var entry of index.parts) {
      if (partIds.indexOf(entry.id) >= 0 && installed[entry.id] !== entry.sha256) bytes += entry.bytes;
    }
    return bytes;
  };

  Packs.prototype.remove = async function (code, part) {
    var lists = await caches.open(LISTS);
    await lists.delete(this.listKey('installed', code, part));
    await lists.delete(this.listKey('pending', code, part));
    await lists.delete(this.listKey('media', code, part));
    await lists.delete(this.listKey('media-pending', code, part));
    await this.collect();
    await this.collectMedia();
    announce();
  };

  /* Delete the files that no installed or pending list of this bundle refers to. */
  Packs.prototype.collect = async function () {
    var keep = new Set();
    for (var kind of ['installed', 'pending']) {
      for (var item of await this.lists(kind)) {
        for (var file of item.list.files) keep.add(this.fileKey(file.sha256));
      }
    }
    var files = await caches.open(FILES);
    var prefix = this.root + 'satchel/file/';
    for (var request of await files.keys()) {
      if (request.url.indexOf(prefix) === 0 && !keep.has(request.url)) await files.delete(request);
    }
  };

  /* The answer to a request from the installed files, or undefined. (Service worker.) */
  Packs.prototype.match = async function (url) {
    if (!this.map) this.map = this.urlMap();
    var clean = new URL(url);
    clean.search = '';
    clean.hash = '';
    var sha = (await this.map).get(clean.href);
    if (!sha) return undefined;
    var found = await (await caches.open(FILES)).match(this.fileKey(sha));
    if (!found) this.map = null;  // a part switched meanwhile: read the lists again next time
    return found;
  };

  Packs.prototype.forget = function () { this.map = null; };

  // Media

  /* Delete the media and pieces no media list refers to. */
  Packs.prototype.collectMedia = async function () {
    var urls = new Set();
    var shas = new Set();
    for (var kind of ['media', 'media-pending']) {
      for (var item of await this.lists(kind)) {
        for (var file of item.list) { urls.add(new URL(file.url, this.root).href); shas.add(file.sha256); }
      }
    }
    var media = await caches.open(MEDIA);
    var mediaRoot = new URL('assets/media/', this.root).href;
    for (var request of await media.keys()) {
      if (request.url.indexOf(mediaRoot) === 0 && !urls.has(request.url)) await media.delete(request);
    }
    var pieces = await caches.open(PIECES);
    var prefix = this.root + 'satchel/part/';
    for (var piece of await pieces.keys()) {
      if (piece.url.indexOf(prefix) === 0 && !shas.has(piece.url.slice(prefix.length).split('/')[0])) await pieces.delete(piece);
    }
  };

  /* The device's copy of a media file, or undefined. (Service worker.) */
  Packs.prototype.matchMedia = async function (url) {
    var clean = new URL(url);
    clean.search = '';
    clean.hash = '';
    return (await caches.open(MEDIA)).match(clean.href);
  };

  function listResponse(list, hash) {
    var headers = { 'content-type': 'application/json' };
    headers[HASH] = hash;
    return new Response(JSON.stringify(list), { headers: headers });
  }

  /* Tell the service worker that installed parts changed (it keeps a map of them). */
  function announce() {
    if (global.navigator && navigator.serviceWorker && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({ type: 'satchel-packs-changed' });
    }
  }

  // For offline.js (planning and downloading) and media.js.
  Packs.sha256 = sha256;
  Packs.listResponse = listResponse;
  Packs.announce = announce;
  Packs.LISTS = LISTS;
  Packs.FILES = FILES;
  Packs.HASH = HASH;
  Packs.DOWNLOAD = DOWNLOAD;
  global.SatchelPacks = Packs;
}(self));
