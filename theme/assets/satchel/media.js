/* Video, audio and textbooks in a lesson (docs/bundle.md, "Media"), loaded only by pages that have
 * them, after the app. For each <video>/<audio data-satchel-media>:
 *  - not on the device and no network: the poster and captions stay, and a message says to
 *    download the subject's videos (the service worker answers 503: sw.js);
 *  - the subject's videos: "With videos, M MB" downloads them (packs.js, by Range, resumed where it
 *    stopped), "Remove videos (M MB)" removes them alone, pages and progress staying;
 *  - watching is recorded as xAPI statements with the verbs of the xAPI Video Profile
 *    (https://w3id.org/xapi/video): played, paused, seeked, completed, each with the time and the
 *    fraction watched; throttled: a statement per learner action, never per timeupdate.
 * Textbooks (a.satchel-resource) open from the device: the service worker answers their URL.
 * Plain browser JavaScript, no other origin. */
(function () {
  'use strict';

  // Downloading and removing media: SatchelPacks (packs.js) grows what only pages with media need.

  var sha256 = SatchelPacks.sha256;
  var listResponse = SatchelPacks.listResponse;
  var LISTS = 'satchel-packs';
  var MEDIA = 'satchel-media';
  var PIECES = 'satchel-media-parts';
  var HASH = 'x-satchel-sha256';
  var DOWNLOAD = { 'x-satchel-download': '1' };  // the service worker lets these through to the network
  // Media pieces: small enough that an interruption loses little, large enough that a phone's
  // round trips do not dominate (2 MB at 1 Mbit/s is 16 s, a round trip 0.3-0.5 s of it).
  var CHUNK = 2 * 1024 * 1024;
  var Packs = SatchelPacks;

  /* What the media of `partIds` add to a download (the index's media_bytes), for parts whose media
   * are not all on the device (`haveMedia`: part id -> true). */
  Packs.mediaCost = function (index, partIds, haveMedia) {
    var bytes = 0;
    for (var entry of index.parts) {
      if (partIds.indexOf(entry.id) >= 0 && !(haveMedia && haveMedia[entry.id])) bytes += entry.media_bytes || 0;
    }
    return bytes;
  };

  /* A part's list at the index's version: the device's copy if it has it, else the network's. */
  Packs.prototype.partList = async function (code, entry) {
    var lists = await caches.open(LISTS);
    for (var kind of ['installed', 'pending']) {
      var copy = await lists.match(this.listKey(kind, code, entry.id));
      if (copy && copy.headers.get(HASH) === entry.sha256) return copy.json();
    }
    var response = await fetch(new URL(entry.url, this.root).href, { cache: 'no-cache', headers: DOWNLOAD });
    if (!response.ok) throw new Error(entry.url + ': HTTP ' + response.status);
    var body = await response.arrayBuffer();
    if (await sha256(body) !== entry.sha256) throw new Error(entry.url + ': changed on the server, try again');
    return JSON.parse(new TextDecoder().decode(body));
  };

  /* The media of `partIds` not yet on the device, and their bytes less the pieces already kept. */
  Packs.prototype.mediaPlan = async function (code, partIds, index) {
    index = index || await this.index(code);
    var self = this;
    var media = await caches.open(MEDIA);
    var parts = [];
    for (var entry of index.parts) {
      if (partIds.indexOf(entry.id) < 0) continue;
      parts.push({ id: entry.id, media: ((await self.partList(code, entry)).media || []) });
    }
    var seen = new Set();
    var todo = [];
    var bytes = 0;
    for (var part of parts) {
      for (var file of part.media) {
        if (seen.has(file.sha256)) continue;
        seen.add(file.sha256);
        if (await media.match(new URL(file.url, this.root).href)) continue;
        todo.push(file);
        bytes += file.bytes - (await this.piecesKept(file)).bytes;
      }
    }
    return { code: code, parts: parts, todo: todo, bytes: bytes };
  };

  Packs.prototype.pieceKey = function (sha, start) { return this.root + 'satchel/part/' + sha + '/' + start; };

  /* The pieces of `file` on the device: {starts: Set, bytes}. */
  Packs.prototype.piecesKept = async function (file) {
    var pieces = await caches.open(PIECES);
    var prefix = this.root + 'satchel/part/' + file.sha256 + '/';
    var starts = new Set();
    var bytes = 0;
    for (var request of await pieces.keys()) {
      if (request.url.indexOf(prefix) !== 0) continue;
      var start = Number(request.url.slice(prefix.length));
      starts.add(start);
      bytes += Math.min(CHUNK, file.bytes - start);
    }
    return { starts: starts, bytes: bytes };
  };

  /* Download the files of a media plan one after another, each by Range in CHUNK pieces from the
   * first one missing, then keep each part's media list. onProgress(bytesDone, bytesTotal). An
   * abort or a lost connection keeps the pieces; a full device throws QuotaExceededError and
   * loses nothing already kept. */
  Packs.prototype.downloadMedia = async function (plan, options) {
    options = options || {};
    var done = 0;
    var lists = await caches.open(LISTS);
    for (var part of plan.parts) {
      // Listed first: what is being downloaded is kept by collectMedia meanwhile.
      await lists.put(this.listKey('media-pending', plan.code, part.id), listResponse(part.media, ''));
    }
    for (var file of plan.todo) {
      await this.fetchMedia(file, function (n) {
        done += n;
        if (options.onProgress) options.onProgress(done, plan.bytes);
      }, options.signal);
    }
    for (var ready of plan.parts) {
      await lists.put(this.listKey('media', plan.code, ready.id), listResponse(ready.media, ''));
      await lists.delete(this.listKey('media-pending', plan.code, ready.id));
    }
    await this.collectMedia();
  };

  /* One media file: its missing pieces by Range, then all of them checked against its sha256 and
   * kept whole at its URL. Memory: a piece at a time while downloading; checking the hash reads
   * the whole file once (WebCrypto has no incremental SHA-256), so a file takes its size in memory
   * for a moment: the build's per-file budget (docs/bundle.md, "Media") bounds it. */
  Packs.prototype.fetchMedia = async function (file, progressed, signal) {
    var url = new URL(file.url, this.root).href;
    var pieces = await caches.open(PIECES);
    var kept = (await this.piecesKept(file)).starts;
    for (var start = 0; start < file.bytes; start += CHUNK) {
      if (kept.has(start)) continue;
      var end = Math.min(start + CHUNK, file.bytes) - 1;
      var headers = new Headers(DOWNLOAD);
      headers.set('range', 'bytes=' + start + '-' + end);
      var response = await fetch(url, { cache: 'no-store', headers: headers, signal: signal });
      if (response.status === 200) {
        // A server that ignores Range sends the whole file: keep it in pieces all the same.
        var whole = await response.blob();
        if (whole.size !== file.bytes) throw new Error(file.url + ': changed on the server, try again');
        for (var s = 0; s < file.bytes; s += CHUNK) {
          if (!kept.has(s)) await putPiece(pieces, this.pieceKey(file.sha256, s), whole.slice(s, Math.min(s + CHUNK, file.bytes)));
        }
        progressed(file.bytes - start);
        break;
      }
      if (response.status !== 206) throw new Error(file.url + ': HTTP ' + response.status);
      var piece = await response.blob();
      if (piece.size !== end - start + 1) throw new Error(file.url + ': the server sent ' + piece.size + ' bytes for ' + (end - start + 1));
      await putPiece(pieces, this.pieceKey(file.sha256, start), piece);
      progressed(piece.size);
    }
    var blobs = [];
    for (var at = 0; at < file.bytes; at += CHUNK) {
      var kept2 = await pieces.match(this.pieceKey(file.sha256, at));
      if (!kept2) throw new Error(file.url + ': a piece went missing, try again');
      blobs.push(await kept2.blob());
    }
    var body = new Blob(blobs, { type: file.type || 'application/octet-stream' });
    if (await sha256(await body.arrayBuffer()) !== file.sha256) {
      await this.dropPieces(file.sha256);
      throw new Error(file.url + ': changed on the server, try again');
    }
    var media = await caches.open(MEDIA);
    await media.put(url, new Response(body, { status: 200, headers: {
      'content-type': file.type || 'application/octet-stream', 'content-length': String(file.bytes), 'x-satchel-sha256': file.sha256 } }));
    await this.dropPieces(file.sha256);
  };

  async function putPiece(pieces, key, blob) {
    await pieces.put(key, new Response(blob, { headers: { 'content-type': 'application/octet-stream' } }));
  }

  Packs.prototype.dropPieces = async function (sha) {
    var pieces = await caches.open(PIECES);
    var prefix = this.root + 'satchel/part/' + (sha ? sha + '/' : '');
    for (var request of await pieces.keys()) if (request.url.indexOf(prefix) === 0) await pieces.delete(request);
  };

  /* Part id -> bytes of its media on the device (parts that keep media only). */
  Packs.prototype.mediaOnDevice = async function (code) {
    var media = await caches.open(MEDIA);
    var bytes = {};
    for (var item of await this.lists('media', code)) {
      bytes[item.part] = 0;
      for (var file of item.list) {
        if (await media.match(new URL(file.url, this.root).href)) bytes[item.part] += file.bytes;
      }
    }
    return bytes;
  };

  /* "Remove videos": the part's media go (unless another part keeps them); its pages and the
   * learner's progress stay. */
  Packs.prototype.removeMedia = async function (code, part) {
    var lists = await caches.open(LISTS);
    await lists.delete(this.listKey('media', code, part));
    await lists.delete(this.listKey('media-pending', code, part));
    await this.collectMedia();
  };

  var C = window.satchelCommon;
  var config = C.config;
  var root = new URL(document.querySelector('meta[name="satchel-root"]').content, location.href);
  var packs = new SatchelPacks(root.href);
  var strings = readStrings();
  var EXT = 'https://w3id.org/xapi/video/extensions/';
  var COMPLETE_AT = 0.95;  // the fraction watched that completes a video (the profile leaves it to us)
  var SEEK_QUIET_MS = 1000;  // a scrub is one 'seeked' statement, sent when it has stopped this long
  var SAME_VERB_MS = 5000;  // played/paused of one video at most every 5 s (play-pause-play bursts)
  var lesson = config.progress && config.progress.lesson;
  var subject = lesson ? lesson.id.split('/')[0] : null;

  /* The words, from the dialogs (theme/dialogs.html, rendered in the page's language), and the
   * offline dialog's own (config.strings: ready, progress, failed, noroom). */
  function readStrings() {
    var found = Object.assign({}, config.strings);
    document.querySelectorAll('[data-satchel-media-strings] [data-key]').forEach(function (el) { found[el.dataset.key] = el.textContent; });
    return found;
  }

  function say(key, values) { return C.format(strings[key] || key, values || {}); }

  // Watching, as xAPI statements

  /* The played segments of one video, merged: the fraction watched is their length over the duration. */
  function Watch(element, number) {
    this.element = element;
    this.number = number;
    this.segments = [];
    this.from = null;
    this.completed = false;
    this.last = {};
    this.seekFrom = null;
    this.seekTimer = null;
  }

  Watch.prototype.duration = function () {
    var d = this.element.duration;
    return isFinite(d) && d > 0 ? d : Number(this.element.dataset.satchelDuration) || 0;
  };

  /* End the segment being played at `to` (default: now). */
  Watch.prototype.close = function (to) {
    if (this.from === null) return;
    to = to === undefined ? this.element.currentTime : to;
    if (to > this.from) this.segments.push([this.from, to]);
    this.from = this.element.paused ? null : to;
    this.segments.sort(function (a, b) { return a[0] - b[0]; });
    var merged = [];
    this.segments.forEach(function (s) {
      var top = merged[merged.length - 1];
      if (top && s[0] <= top[1] + 0.25) top[1] = Math.max(top[1], s[1]);
      else merged.push([s[0], s[1]]);
    });
    this.segments = merged;
  };

  Watch.prototype.progress = function () {
    var d = this.duration();
    if (!d) return 0;
    var seen = this.segments.reduce(function (sum, s) { return sum + (s[1] - s[0]); }, 0);
    return Math.min(1, Math.round(seen / d * 1000) / 1000);
  };

  function round(t) { return Math.round((Number(t) || 0) * 1000) / 1000; }

  Watch.prototype.extensions = function (more) {
    var ext = {};
    ext[EXT + 'time'] = round(this.element.currentTime);
    ext[EXT + 'progress'] = this.progress();
    ext[EXT + 'played-segments'] = this.segments.slice(0, 50).map(function (s) { return round(s[0]) + '[.]' + round(s[1]); }).join('[,]');
    return Object.assign(ext, more || {});
  };

  var queue = Promise.resolve();

  /* Store one statement through the progress model (progress.js: stored, then sent to the hub). */
  function record(watch, verb, result) {
    var P = window.satchelProgress;
    if (!P || !P.video || !lesson) return queue;
    queue = queue.then(function () { return P.video(verb, watch.number, result); }).catch(function (error) {
      console.warn('Satchel: recording the video failed:', error);
    });
    return queue;
  }

  function throttled(watch, verb) {
    var now = Date.now();
    if (watch.last[verb] && now - watch.last[verb] < SAME_VERB_MS) return true;
    watch.last[verb] = now;
    return false;
  }

  function maybeComplete(watch) {
    if (watch.completed || watch.progress() < COMPLETE_AT) return;
    watch.completed = true;
    var result = { completion: true, extensions: watch.extensions() };
    var seconds = Math.round(watch.duration());
    if (seconds > 0 && seconds <= 86400) result.duration = 'PT' + seconds + 'S';
    record(watch, 'completed', result);
  }

  function track(element, number) {
    var watch = new Watch(element, number);
    element.addEventListener('play', function () {
      watch.from = element.currentTime;
      if (!throttled(watch, 'played')) record(watch, 'played', { extensions: watch.extensions() });
    });
    element.addEventListener('timeupdate', function () {
      if (element.seeking || element.paused) return;
      watch.close();
      maybeComplete(watch);
    });
    element.addEventListener('pause', function () {
      watch.close();
      watch.from = null;
      maybeComplete(watch);
      if (!element.ended && !element.seeking && !throttled(watch, 'paused')) record(watch, 'paused', { extensions: watch.extensions() });
    });
    element.addEventListener('seeking', function () {
      // currentTime is already the target here: the segment ends where the last timeupdate was.
      if (watch.seekFrom === null) watch.seekFrom = watch.lastTime || 0;
      watch.close(watch.lastTime || 0);
      watch.from = null;
    });
    element.addEventListener('timeupdate', function () { if (!element.seeking) watch.lastTime = element.currentTime; });
    element.addEventListener('seeked', function () {
      if (!element.paused) watch.from = element.currentTime;
      clearTimeout(watch.seekTimer);
      watch.seekTimer = setTimeout(function () {
        var more = {};
        more[EXT + 'time-from'] = round(watch.seekFrom || 0);
        more[EXT + 'time-to'] = round(element.currentTime);
        watch.seekFrom = null;
        record(watch, 'seeked', { extensions: watch.extensions(more) });
      }, SEEK_QUIET_MS);
    });
    element.addEventListener('ended', function () {
      watch.close();
      watch.from = null;
      maybeComplete(watch);
    });
    return watch;
  }

  // On the device, or not

  /* The message under a video the device does not have and cannot fetch. */
  function showAbsent(element) {
    var figure = element.closest('figure') || element.parentNode;
    if (figure.querySelector('.satchel-media__absent')) return;
    var note = document.createElement('p');
    note.className = 'satchel-media__absent';
    note.setAttribute('role', 'status');
    note.textContent = say(element.tagName === 'AUDIO' ? 'absent_audio' : 'absent');
    figure.append(note);
  }

  function watchAvailability(element) {
    element.addEventListener('error', function () { showAbsent(element); });
    var source = element.querySelector('source');
    if (source) source.addEventListener('error', function () { showAbsent(element); });
  }

  // The subject's videos: download, remove

  async function mediaEntry() {
    var index = await packs.index(config.language);
    return { index: index, entry: index.parts.filter(function (p) { return p.id === subject; })[0] || null };
  }

  /* Download the subject's media (resumed where a previous try stopped). Resolves with a message. */
  async function downloadVideos(onProgress, signal) {
    var found = await mediaEntry();
    if (!found.entry) throw new Error(subject + ': not in satchel/packs/' + config.language + '.json');
    var plan = await packs.mediaPlan(config.language, [found.entry.id], found.index);
    var free = await C.freeSpace();
    if (free !== null && free < plan.bytes) {
      var full = new Error(say('noroom', { size: C.size(plan.bytes), free: C.size(free) }));
      full.name = 'QuotaExceededError';
      throw full;
    }
    if (navigator.storage && navigator.storage.persist) navigator.storage.persist();
    try {
      await packs.downloadMedia(plan, { onProgress: onProgress, signal: signal });
    } catch (error) {
      if (error.name === 'QuotaExceededError') {
        // What is already on the device stays; the pieces of this file wait for a retry.
        var message = new Error(say('noroom', { size: C.size(plan.bytes), free: C.size((await C.freeSpace()) || 0) }));
        message.name = 'QuotaExceededError';
        throw message;
      }
      throw error;
    }
    return plan;
  }

  async function removeVideos() {
    await packs.removeMedia(config.language, subject);
  }

  /* The bar above the first video: what the subject's videos take, and the button for them. */
  async function paintBar(bar) {
    var found;
    try { found = await mediaEntry(); } catch (error) { found = null; }
    var onDevice = (await packs.mediaOnDevice(config.language))[subject];
    var info = bar.querySelector('span');
    var button = bar.querySelector('button');
    var bytes = found && found.entry ? found.entry.media_bytes || 0 : 0;
    bar.hidden = false;
    if (onDevice !== undefined && (!bytes || onDevice >= bytes)) {
      bar.dataset.state = 'installed';
      info.textContent = '';
      info.dataset.bytes = onDevice;
      button.textContent = say('remove', { size: C.size(onDevice) });
      button.dataset.action = 'remove';
    } else if (found && found.entry && bytes) {
      bar.dataset.state = 'absent';
      // The lessons count while they are not on the device (at their current version).
      var installed = {};
      (await packs.lists('installed', config.language)).forEach(function (i) { installed[i.part] = i.sha256; });
      var lessons = SatchelPacks.cost(found.index, ['_shared', found.entry.id], installed);
      info.textContent = say('lessons_only', { size: C.size(lessons) }) + ' · ';
      info.dataset.bytes = bytes;
      button.textContent = say('with_videos', { size: C.size(lessons + bytes) });
      button.dataset.action = 'download';
    } else {
      bar.hidden = true;  // offline and nothing kept: the videos' own messages say it
    }
  }

  function setUpBar(first) {
    if (!subject || !('caches' in window)) return null;
    var bar = document.createElement('p');
    bar.className = 'satchel-media__bar';
    bar.hidden = true;
    bar.dataset.satchelMediaBar = '';
    var info = document.createElement('span');
    info.dataset.satchelMediaSize = '';
    var button = document.createElement('button');
    button.type = 'button';
    button.className = 'md-button';
    var progress = document.createElement('progress');
    progress.hidden = true;
    progress.max = 1;
    var status = document.createElement('span');
    status.setAttribute('aria-live', 'polite');
    status.dataset.satchelMediaStatus = '';
    bar.append(info, button, progress, ' ', status);
    (first.closest('figure') || first).before(bar);
    button.addEventListener('click', async function () {
      button.disabled = true;
      status.textContent = '';
      try {
        if (button.dataset.action === 'remove') {
          await removeVideos();
          status.textContent = say('removed');
        } else {
          progress.hidden = false;
          progress.value = 0;
          await downloadVideos(function (done, total) {
            progress.value = total ? done / total : 1;
            status.textContent = say('progress', { size: C.size(total), percent: Math.floor(100 * (total ? done / total : 1)) });
          });
          status.textContent = say('ready');
          document.querySelectorAll('.satchel-media__absent').forEach(function (n) { n.remove(); });
        }
      } catch (error) {
        status.textContent = error.name === 'QuotaExceededError' ? error.message : say('failed', { reason: error.message });
      } finally {
        progress.hidden = true;
        button.disabled = false;
        bar.dataset.done = String(Date.now());
        await paintBar(bar);
      }
    });
    paintBar(bar).catch(function (error) { console.warn('Satchel media:', error); });
    return bar;
  }

  // An EPUB is for a reader app: offered as a download (from the device when it is kept there).
  document.querySelectorAll('a.satchel-resource[data-satchel-kind=epub]').forEach(function (a) { a.setAttribute('download', ''); });

  var players = Array.from(document.querySelectorAll('video[data-satchel-media], audio[data-satchel-media]'));
  var watches = players.map(function (element, n) {
    watchAvailability(element);
    return track(element, n);
  });
  var bar = players.length ? setUpBar(players[0]) : null;

  // For tests: the same functions the page uses.
  window.satchelMedia = { watches: watches, bar: bar, download: downloadVideos, remove: removeVideos, packs: packs,
                          repaint: function () { return bar ? paintBar(bar) : null; } };
}());
