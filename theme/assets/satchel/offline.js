/* The offline dialog and the updates of kept subjects: what only a learner who keeps subjects on
 * the device needs, so not in the app shell every first visit downloads. app.js loads it when the
 * dialog is opened, and when a new version is published to a device that keeps subjects (never on a
 * first visit). It comes with each language's shared part (builder/bundle.py ON_DEMAND): once a
 * subject is kept, it works offline too. It grows SatchelPacks (packs.js) with planning and
 * downloading, which the service worker never does. Plain browser JavaScript, no other origin. */
(function () {
  'use strict';

  var C = window.satchelCommon;
  var fill = C.fill;
  var format = C.format;
  var humanSize = C.size;
  var freeSpace = C.freeSpace;
  var root = new URL(document.querySelector('meta[name="satchel-root"]').content, location.href);
  var config = C.config;
  var strings = config.strings;
  var Packs = SatchelPacks;
  var packs = new Packs(root.href);
  var SHARED = '_shared';
  var sha256 = Packs.sha256;
  var listResponse = Packs.listResponse;
  var announce = Packs.announce;
  var LISTS = Packs.LISTS;
  var FILES = Packs.FILES;
  var HASH = Packs.HASH;
  var DOWNLOAD = Packs.DOWNLOAD;
  // Files fetched at a time. Downloads are bound by round trips (a phone's 300-500 ms each), and
  // Chromium opens at most 6 HTTP/1.1 connections per host: benchmarks/packs.py measures 3, 6 and 8
  // against one packed file per subject fetched with Range (docs/bundle.md, "Packs").
  var PARALLEL = 6;

  // Planning and downloading (SatchelPacks)

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

  // The dialog, updates, notifications

  /* A phone on mobile data, or with data saver on: updates wait for the learner's yes. */
  function metered() {
    var connection = navigator.connection;
    return !!connection && (connection.saveData || connection.type === 'cellular');
  }

  function noRoomMessage(needed, free) {
    return format(strings.noroom, { size: humanSize(needed), free: humanSize(free || 0) });
  }

  /* Download a plan; a full disk leaves nothing of it behind. Throws with a message to show. */
  async function fetchPlan(plan, signal, onProgress) {
    var free = await freeSpace();
    if (free !== null && free < plan.bytes) throw new Error(noRoomMessage(plan.bytes, free));
    if (navigator.storage && navigator.storage.persist) navigator.storage.persist();
    try {
      await packs.download(plan, { signal: signal, onProgress: onProgress });
    } catch (error) {
      if (error.name === 'AbortError') throw error;
      if (error.name === 'QuotaExceededError') {
        await packs.discard(plan);
        throw new Error(noRoomMessage(plan.bytes, await freeSpace()));
      }
      throw new Error(format(strings.failed, { reason: error.message }));
    }
  }

  /* The dialog: every subject of this language, its size, whether it is on the device; download
   * (with cancel and resume) and remove. Downloading a subject also keeps the language's home
   * and search ("_shared"); removing the last subject removes them too. */
  function setUpDialog() {
    var button = document.querySelector('[data-satchel-offline]');
    var dialog = document.querySelector('[data-satchel-offline-dialog]');
    var status = dialog.querySelector('[data-satchel-offline-status]');
    var list = dialog.querySelector('[data-satchel-parts]');
    var bar = dialog.querySelector('progress');
    var all = dialog.querySelector('[data-satchel-offline-all]');
    var cancel = dialog.querySelector('[data-satchel-offline-cancel]');
    var index = null;
    var busy = null;  // the AbortController of the download under way

    async function states() {
      var found = {};
      for (var kind of ['installed', 'pending']) {
        for (var item of await packs.lists(kind, config.language)) {
          found[item.part] = found[item.part] || {};
          found[item.part][kind] = item;
        }
      }
      return found;
    }

    async function paint() {
      var found = await states();
      var subjects = index.parts.filter(function (p) { return p.id !== SHARED; });
      var onDevice = subjects.filter(function (p) { return found[p.id] && found[p.id].installed; });
      var installed = {};  // part -> sha256 of its installed list
      Object.keys(found).forEach(function (id) { if (found[id].installed) installed[id] = found[id].installed.sha256; });
      // What a download fetches: the subject, and the shared part while it is not on the device.
      var cost = function (ids) { return SatchelPacks.cost(index, [SHARED].concat(ids), installed); };
      button.dataset.state = onDevice.length === subjects.length ? 'ready' : onDevice.length ? 'some' : '';
      fill(list, subjects.map(function (part) {
        var state = found[part.id] || {};
        var row = document.createElement('li');
        row.dataset.part = part.id;
        var title = document.createElement('strong');
        title.textContent = part.title;
        var info = document.createElement('span');
        var action = document.createElement('button');
        action.type = 'button';
        action.className = 'md-button';
        if (state.installed) {
          row.dataset.state = state.installed.sha256 === part.sha256 ? 'installed' : 'outdated';
          info.textContent = format(strings.partOn, { size: humanSize(state.installed.list.bytes) });
          action.textContent = strings.remove;
          action.dataset.action = 'remove';
        } else if (state.pending) {
          row.dataset.state = 'paused';
          info.dataset.bytes = cost([part.id]);
          info.textContent = format(strings.partPaused, { size: humanSize(cost([part.id])) });
          action.textContent = strings.resume;
          action.dataset.action = 'download';
        } else {
          row.dataset.state = 'absent';
          info.dataset.bytes = cost([part.id]);
          info.textContent = humanSize(cost([part.id]));
          action.textContent = strings.download;
          action.dataset.action = 'download';
        }
        action.disabled = !!busy;
        action.addEventListener('click', function () {
          if (action.dataset.action === 'remove') removePart(part.id, onDevice.length === 1);
          else get([SHARED, part.id]);
        });
        row.append(title, ' ', info, ' ', action);
        // A subject with videos or textbooks: lessons only, or with them (media.js fetches those).
        if (part.media_bytes && row.dataset.state === 'absent') {
          info.textContent = format(strings.lessonsOnly, { size: humanSize(cost([part.id])) });
          var videos = action.cloneNode();
          videos.dataset.action = 'media';
          videos.dataset.bytes = cost([part.id]) + part.media_bytes;
          videos.textContent = format(strings.withVideos, { size: humanSize(Number(videos.dataset.bytes)) });
          videos.addEventListener('click', function () { get([SHARED, part.id], true); });
          row.append(' ', videos);
        }
        return row;
      }));
      var missing = subjects.filter(function (p) { return !(found[p.id] && found[p.id].installed); });
      all.hidden = !missing.length;
      all.disabled = !!busy;
      all.dataset.bytes = cost(missing.map(function (p) { return p.id; }));
      all.textContent = format(strings.all, { size: humanSize(Number(all.dataset.bytes)) });
      if (!busy && !status.dataset.sticky) {
        var free = await freeSpace();
        status.textContent = free === null ? '' : format(strings.free, { size: humanSize(free) });
      }
    }

    function say(text, sticky) {
      status.textContent = text;
      if (sticky) status.dataset.sticky = '1'; else delete status.dataset.sticky;
    }

    function progressed(done, total) {
      bar.value = total ? Math.round(100 * done / total) : 100;
      say(format(strings.progress, { percent: bar.value, size: humanSize(total) }));
    }

    async function get(partIds, withMedia) {
      busy = new AbortController();
      cancel.hidden = false;
      bar.hidden = false;
      bar.value = 0;
      await paint();
      try {
        var plan = await packs.plan(config.language, partIds, index);
        say(format(strings.progress, { percent: 0, size: humanSize(plan.bytes) }));
        await fetchPlan(plan, busy.signal, progressed);
        if (withMedia) {
          await C.script('media');
          var media = await packs.mediaPlan(config.language, partIds, index);
          await packs.downloadMedia(media, { onProgress: progressed, signal: busy.signal });
        }
        say(strings.ready, true);
      } catch (error) {
        say(error.name === 'AbortError' ? strings.cancelled : error.message, true);
      } finally {
        busy = null;
        cancel.hidden = true;
        bar.hidden = true;
        await paint();
      }
    }

    async function removePart(id, last) {
      await packs.remove(config.language, id);
      if (last) await packs.remove(config.language, SHARED);
      say(strings.removed, true);
      await paint();
    }

    cancel.addEventListener('click', function () { if (busy) busy.abort(); });
    all.addEventListener('click', function () {
      get(index.parts.map(function (p) { return p.id; }));
    });

    /* Each time the dialog is opened (app.js has opened it): the subjects as they are now. */
    return async function () {
      say('');
      offerNotifications();
      try {
        index = await packs.index(config.language);
        await paint();
      } catch (error) {
        say(format(strings.failed, { reason: error.message }), true);
      }
    };
  }

  var opener = null;
  function openDialog() {
    opener = opener || setUpDialog();
    return opener();
  }

  /* A new version published: bring every language kept on this device up to date, fetching only
   * the files whose hash changed. The installed version answers until a part is complete. On
   * mobile data the learner is asked first, with the size. The outcome is left on <html> as
   * data-satchel-packs (for tests and curious adults). */
  async function updateInstalledPacks(kept) {
    var banner = document.querySelector('[data-satchel-update]');
    var text = banner.querySelector('span');
    var action = banner.querySelector('button');
    var parts = new Map();  // language -> the parts it has on the device (installed or under way)
    kept.forEach(function (item) {
      if (!parts.has(item.code)) parts.set(item.code, new Set());
      parts.get(item.code).add(item.part);
    });
    var plans = [];
    for (var [code, ids] of parts) {
      var plan = await packs.plan(code, Array.from(ids));
      if (plan.parts.length || plan.gone.length) plans.push(plan);
    }
    if (!plans.length) {
      document.documentElement.dataset.satchelPacks = 'up-to-date';
      return;
    }
    var bytes = plans.reduce(function (sum, p) { return sum + p.bytes; }, 0);
    if (metered() && bytes > 0) {
      banner.hidden = false;
      text.textContent = format(strings.updateOffer, { size: humanSize(bytes) });
      action.textContent = strings.updateGet;
      action.hidden = false;
      document.documentElement.dataset.satchelPacks = 'asking';
      await new Promise(function (resolve) { action.addEventListener('click', resolve, { once: true }); });
    }
    banner.hidden = false;
    action.hidden = true;
    var done = 0;
    try {
      for (var each of plans) {
        var before = done;
        await fetchPlan(each, undefined, function (got) {
          text.textContent = format(strings.updating, { percent: bytes ? Math.round(100 * (before + got) / bytes) : 100 });
        });
        done += each.bytes;
      }
      banner.hidden = true;
      document.documentElement.dataset.satchelPacks = 'updated';
    } catch (error) {
      text.textContent = error.message;
      document.documentElement.dataset.satchelPacks = 'failed';
    }
  }

  /* Notifications of new lessons, from a hub that sends them (hub/push.py): offered when the dialog
   * opens (the hub's key is asked for then, not on every page), permission asked only when the
   * learner taps the button. The state is on the button (data-state). */
  var notificationsOffered = null;
  function offerNotifications() {
    if (!notificationsOffered) {
      notificationsOffered = setUpNotifications().catch(function (error) { console.warn('Satchel: notifications not offered:', error); });
    }
    return notificationsOffered;
  }

  async function setUpNotifications() {
    var button = document.querySelector('[data-satchel-push]');
    var status = document.querySelector('[data-satchel-offline-status]');
    if (!('PushManager' in window) || !('Notification' in window) || !navigator.serviceWorker) return;
    var api = new URL('/api/push/', location.origin).href;
    var key;
    try {
      var answer = await fetch(api + 'key', { cache: 'no-cache' });
      if (!answer.ok) return;  // this server sends no notifications
      key = (await answer.json()).publicKey;
    } catch (error) {
      return;  // offline: offered next time
    }
    var registration = await navigator.serviceWorker.ready;
    async function paint() {
      var current = await registration.pushManager.getSubscription();
      button.dataset.state = current ? 'on' : 'off';
      button.textContent = current ? strings.pushOff : strings.pushOn;
      button.hidden = false;
    }
    button.addEventListener('click', async function () {
      button.disabled = true;
      try {
        var current = await registration.pushManager.getSubscription();
        if (current) {
          await fetch(api + 'subscriptions', { method: 'DELETE', headers: { 'content-type': 'application/json' },
                                               body: JSON.stringify({ endpoint: current.endpoint }) });
          await current.unsubscribe();
          status.textContent = strings.pushStopped;
        } else {
          if (await Notification.requestPermission() !== 'granted') throw new Error(strings.pushDenied);
          var subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
          var response = await fetch(api + 'subscriptions', { method: 'POST', headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ curriculum: config.progress.curriculum.id, language: config.language, subscription: subscription.toJSON() }) });
          if (!response.ok) {
            await subscription.unsubscribe();
            throw new Error((await response.json().catch(function () { return {}; })).error || 'HTTP ' + response.status);
          }
          status.textContent = strings.pushStarted;
        }
      } catch (error) {
        status.textContent = format(strings.pushFailed, { reason: error.message });
      } finally {
        button.disabled = false;
        await paint();
      }
    });
    await paint();
  }

  window.satchelOffline = { open: openDialog, update: updateInstalledPacks };
}());
