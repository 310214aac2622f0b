/* Satchel's learner-side script: registers the service worker, tells the learner when a new
 * version is ready, and makes a whole language available offline (theme/base.html has the UI).
 * Plain browser JavaScript, no build step, no other origin. */
(function () {
  'use strict';
  var root = new URL(document.querySelector('meta[name="satchel-root"]').content, location.href);
  var config = JSON.parse(document.getElementById('satchel-config').textContent);
  var strings = config.strings;
  var packUrl = new URL(config.pack, root).href;
  var cacheName = 'satchel-lang-' + config.language;
  var HASH_HEADER = 'x-satchel-sha256';

  function format(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  function humanSize(bytes) {
    var units = ['B', 'KB', 'MB', 'GB'];
    var i = 0;
    while (bytes >= 1000 && i < units.length - 1) { bytes /= 1000; i++; }
    return (i ? bytes.toFixed(1) : bytes) + ' ' + units[i];
  }

  /* A language's pack list says, for each page and image, its hash and size. What is missing
   * from the language's cache, or cached with another hash, is still to download. */
  async function plan() {
    var response = await fetch(packUrl, { cache: 'no-cache' });
    if (!response.ok) throw new Error('pack list: HTTP ' + response.status);
    var pack = await response.json();
    var cache = await caches.open(cacheName);
    var todo = [];
    for (var file of pack.files) {
      var cached = await cache.match(new URL(file.url, root).href);
      if (!cached || cached.headers.get(HASH_HEADER) !== file.sha256) todo.push(file);
    }
    var wanted = new Set(pack.files.map(function (f) { return new URL(f.url, root).href; }));
    return { pack: pack, cache: cache, todo: todo, wanted: wanted,
             bytes: todo.reduce(function (sum, f) { return sum + f.bytes; }, 0) };
  }

  async function sha256(buffer) {
    var digest = new Uint8Array(await crypto.subtle.digest('SHA-256', buffer));
    return Array.from(digest, function (b) { return b.toString(16).padStart(2, '0'); }).join('');
  }

  /* Three downloads at a time. Each file is checked against the hash in the pack list before it
   * is kept, so a device never mixes files of two versions (a server half-way through an update). */
  async function download(work, onProgress) {
    var done = 0;
    var queue = work.todo.slice();
    var failed = false;
    async function worker() {
      while (queue.length && !failed) {
        var file = queue.shift();
        var url = new URL(file.url, root).href;
        try {
          var response = await fetch(url, { cache: 'no-cache', headers: { 'x-satchel-download': '1' } });
          if (!response.ok) throw new Error(file.url + ': HTTP ' + response.status);
          var body = await response.arrayBuffer();
          if (await sha256(body) !== file.sha256) throw new Error(file.url + ': changed on the server, try again');
          var headers = new Headers(response.headers);
          headers.set(HASH_HEADER, file.sha256);
          await work.cache.put(url, new Response(body, { status: 200, statusText: 'OK', headers: headers }));
        } catch (error) {
          failed = true;
          throw error;
        }
        done += file.bytes;
        onProgress(work.bytes ? done / work.bytes : 1);
      }
    }
    await Promise.all([worker(), worker(), worker()]);
    // Files that a newer version removed: drop them. Then record the installed version.
    for (var request of await work.cache.keys()) {
      if (!work.wanted.has(request.url) && request.url !== packUrl) await work.cache.delete(request);
    }
    await work.cache.put(packUrl, new Response(JSON.stringify(work.pack), { headers: { 'content-type': 'application/json' } }));
  }

  /* Bytes this site may still store, or null when the browser does not say. */
  async function freeSpace() {
    if (!navigator.storage || !navigator.storage.estimate) return null;
    var estimate = await navigator.storage.estimate();
    return typeof estimate.quota === 'number' ? Math.max(0, estimate.quota - (estimate.usage || 0)) : null;
  }

  async function installed() {
    var cache = await caches.open(cacheName);
    return !!(await cache.match(packUrl));
  }

  function setUpOfflineControl() {
    var button = document.querySelector('[data-satchel-offline]');
    var dialog = document.querySelector('[data-satchel-offline-dialog]');
    var status = dialog.querySelector('[data-satchel-offline-status]');
    var bar = dialog.querySelector('progress');
    var start = dialog.querySelector('[data-satchel-offline-download]');
    var work = null;
    button.hidden = false;

    function ready() {
      button.dataset.state = 'ready';
      status.textContent = strings.ready;
      start.hidden = true;
      bar.hidden = true;
    }

    installed().then(function (yes) { if (yes) button.dataset.state = 'ready'; });

    button.addEventListener('click', async function () {
      if (!('caches' in window) || !navigator.serviceWorker) {
        status.textContent = strings.unsupported;
        start.hidden = true;
        dialog.showModal();
        return;
      }
      start.hidden = false;
      start.disabled = true;
      dialog.showModal();
      try {
        work = await plan();
        if (!work.todo.length) return ready();
        status.textContent = format(strings.size, { size: humanSize(work.bytes) });
        var free = await freeSpace();
        if (free !== null && free < work.bytes) {
          status.textContent = format(strings.noroom, { size: humanSize(work.bytes) });
          return;
        }
        start.disabled = false;
      } catch (error) {
        status.textContent = format(strings.failed, { reason: error.message });
      }
    });

    start.addEventListener('click', async function () {
      start.disabled = true;
      bar.hidden = false;
      if (navigator.storage && navigator.storage.persist) navigator.storage.persist();
      try {
        await download(work, function (fraction) {
          bar.value = Math.round(fraction * 100);
          status.textContent = format(strings.progress, { percent: Math.round(fraction * 100) });
        });
        ready();
      } catch (error) {
        work = await plan().catch(function () { return work; });
        // Browsers may not tell the free space in advance: a full disk shows up here.
        status.textContent = error.name === 'QuotaExceededError'
          ? format(strings.noroom, { size: humanSize(work.bytes) })
          : format(strings.failed, { reason: error.message });
        bar.hidden = true;
        start.disabled = false;
      }
    });

    dialog.querySelector('[data-satchel-offline-close]').addEventListener('click', function () { dialog.close(); });
  }

  /* After an update, bring the languages this device keeps offline up to date: only the files
   * whose hash changed are fetched. Until then, the previous version's files keep working. Each
   * downloaded language is marked stale at the update and refreshed, until that succeeds, the
   * next time one of its pages is opened online. */
  var STALE = 'satchel-stale-';

  async function markDownloadedLanguagesStale() {
    (await caches.keys()).forEach(function (name) {
      if (name.indexOf('satchel-lang-') === 0) localStorage.setItem(STALE + name.slice('satchel-lang-'.length), '1');
    });
  }

  async function refreshInstalledLanguage() {
    var banner = document.querySelector('[data-satchel-update]');
    var work = (await installed()) ? await plan() : { todo: [] };
    if (work.todo.length) {
      banner.hidden = false;
      banner.querySelector('button').hidden = true;
      await download(work, function (fraction) {
        banner.querySelector('span').textContent = format(strings.updating, { percent: Math.round(fraction * 100) });
      });
      banner.hidden = true;
    }
    localStorage.removeItem(STALE + config.language);
    document.documentElement.dataset.satchelRefreshed = String(work.todo.length);
  }

  function offerUpdate(registration) {
    var banner = document.querySelector('[data-satchel-update]');
    banner.hidden = false;
    banner.querySelector('button').addEventListener('click', async function () {
      await markDownloadedLanguagesStale();
      registration.waiting.postMessage({ type: 'SKIP_WAITING' });
    }, { once: true });
  }

  async function registerServiceWorker() {
    if (!('serviceWorker' in navigator)) return;
    var hadController = !!navigator.serviceWorker.controller;
    var registration = await navigator.serviceWorker.register(new URL('sw.js', root).href, { scope: root.href });
    navigator.serviceWorker.addEventListener('controllerchange', function () {
      if (hadController) location.reload();
    });
    if (localStorage.getItem(STALE + config.language) && navigator.onLine) {
      refreshInstalledLanguage().catch(function () { /* offline again: the mark stays, next time */ });
    }
    if (registration.waiting && hadController) offerUpdate(registration);
    registration.addEventListener('updatefound', function () {
      var worker = registration.installing;
      worker.addEventListener('statechange', function () {
        if (worker.state === 'installed' && hadController) offerUpdate(registration);
      });
    });
    if (navigator.onLine) registration.update().catch(function () {});
  }

  setUpOfflineControl();
  registerServiceWorker().catch(function (error) { console.warn('Satchel: service worker not registered:', error); });
}());
