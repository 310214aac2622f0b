/* Subject packs on the device (docs/bundle.md, "Packs"): what is installed, downloading a part,
 * updating it, removing it. Plain browser JavaScript, loaded by the page (app.js: the dialog and
 * updates) and by the service worker (sw.js: answering from what is installed).
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
  // Files fetched at a time. Downloads are bound by round trips (a phone's 300-500 ms each), and
  // Chromium opens at most 6 HTTP/1.1 connections per host: benchmarks/packs.py measures 3, 6 and 8
  // against one packed file per subject fetched with Range (docs/bundle.md, "Packs").
  var PARALLEL = 6;
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

  /* The lists of one kind ('installed' or 'pending'): [{code, part, sha256, list}]. */
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

  /* What installing or updating `partIds` of a language costs: the lists to switch to, and the
   * files not yet on the device (each once), with their bytes. Writes nothing. */
  Packs.prototype.plan = async function (code, partIds, index) {
    index = index || await this.index(code);
    var lists = await caches.open(LISTS);
    var files = await caches.open(FILES);
    var have = new Set((await files.keys()).map(function (r) { return r.url; }));
    var installed = new Set((await this.lists('installed', code)).map(function (i) { return i.part; }));
    var self = this;
    // The lists are fetched together: one round trip, not one per part.
    var parts = (await Promise.all(index.parts.map(async function (entry) {
      if (partIds.indexOf(entry.id) < 0) return null;
      var current = await lists.match(self.listKey('installed', code, entry.id));
      if (current && current.headers.get(HASH) === entry.sha256) return null;  // up to date
      var pending = await lists.match(self.listKey('pending', code, entry.id));
      var list;
      if (pending && pending.headers.get(HASH) === entry.sha256) {
        list = await pending.json();
      } else {
        var response = await fetch(new URL(entry.url, self.root).href, { cache: 'no-cache', headers: DOWNLOAD });
        if (!response.ok) throw new Error(entry.url + ': HTTP ' + response.status);
        var body = await response.arrayBuffer();
        if (await sha256(body) !== entry.sha256) throw new Error(entry.url + ': changed on the server, try again');
        list = JSON.parse(new TextDecoder().decode(body));
      }
      return { id: entry.id, sha256: entry.sha256, list: list, update: installed.has(entry.id) };
    }))).filter(Boolean);
    var seen = new Set();
    var todo = [];
    for (var part of parts) {
      for (var file of part.list.files) {
        if (seen.has(file.sha256) || have.has(this.fileKey(file.sha256))) continue;
        seen.add(file.sha256);
        todo.push(file);
      }
    }
    var gone = Array.from(installed).filter(function (id) {
      return !index.parts.some(function (p) { return p.id === id; });
    });
    return { code: code, index: index, parts: parts, todo: todo, gone: gone,
             bytes: todo.reduce(function (sum, f) { return sum + f.bytes; }, 0) };
  };

  /* Download what a plan lacks, then switch its parts. onProgress(bytesDone, bytesTotal).
   * Aborting (options.signal) keeps what was downloaded for the next try. options.parallel: files
   * at a time (benchmarks). */
  Packs.prototype.download = async function (plan, options) {
    options = options || {};
    var self = this;
    var lists = await caches.open(LISTS);
    var files = await caches.open(FILES);
    for (var part of plan.parts) {
      await lists.put(this.listKey('pending', plan.code, part.id), listResponse(part.list, part.sha256));
    }
    var queue = plan.todo.slice();
    var done = 0;
    var failure = null;
    var parallel = options.parallel || PARALLEL;
    async function worker() {
      while (queue.length && !failure) {
        var file = queue.shift();
        try {
          var response = await fetch(new URL(file.url, self.root).href, { cache: 'no-cache', headers: DOWNLOAD, signal: options.signal });
          if (!response.ok) throw new Error(file.url + ': HTTP ' + response.status);
          var body = await response.arrayBuffer();
          if (await sha256(body) !== file.sha256) throw new Error(file.url + ': changed on the server, try again');
          var headers = new Headers({ 'content-type': response.headers.get('content-type') || 'application/octet-stream' });
          headers.set(HASH, file.sha256);
          await files.put(self.fileKey(file.sha256), new Response(body, { status: 200, headers: headers }));
        } catch (error) {
          failure = failure || error;
          return;
        }
        done += file.bytes;
        if (options.onProgress) options.onProgress(done, plan.bytes);
      }
    }
    var workers = [];
    for (var n = 0; n < parallel; n++) workers.push(worker());
    await Promise.all(workers);
    if (failure) throw failure;
    for (var ready of plan.parts) {
      await lists.put(this.listKey('installed', plan.code, ready.id), listResponse(ready.list, ready.sha256));
      await lists.delete(this.listKey('pending', plan.code, ready.id));
    }
    for (var id of plan.gone) await lists.delete(this.listKey('installed', plan.code, id));
    await this.collect();
    announce();
  };

  /* Forget a download under way (not enough room): its pending lists, and files only they needed. */
  Packs.prototype.discard = async function (plan) {
    var lists = await caches.open(LISTS);
    for (var part of plan.parts) await lists.delete(this.listKey('pending', plan.code, part.id));
    await this.collect();
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

  /* The media lists of one kind ('media' or 'media-pending'). */
  Packs.prototype.mediaLists = async function (kind, code) {
    var cache = await caches.open(LISTS);
    var prefix = this.root + 'satchel/' + kind + '/' + (code ? code + '/' : '');
    var found = [];
    for (var request of await cache.keys()) {
      if (request.url.indexOf(prefix) !== 0) continue;
      var path = request.url.slice((this.root + 'satchel/' + kind + '/').length).replace(/\.json$/, '').split('/');
      found.push({ code: path[0], part: path[1], media: await (await cache.match(request)).json() });
    }
    return found;
  };

  /* Delete the media and pieces no media list refers to. */
  Packs.prototype.collectMedia = async function () {
    var urls = new Set();
    var shas = new Set();
    for (var kind of ['media', 'media-pending']) {
      for (var item of await this.mediaLists(kind)) {
        for (var file of item.media) { urls.add(new URL(file.url, this.root).href); shas.add(file.sha256); }
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

  Packs.sha256 = sha256;  // for media.js
  Packs.listResponse = listResponse;
  global.SatchelPacks = Packs;
}(self));
