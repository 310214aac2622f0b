/* Satchel's learner-side script: registers the service worker, keeps the subjects the learner
 * chose on the device (packs.js does the storing; theme/base.html has the dialog), and brings
 * them up to date when a new version is published.
 * Plain browser JavaScript, no build step, no other origin. */
(function () {
  'use strict';

  var C = window.satchelCommon;
  var fill = C.fill;
  var format = C.format;
  var humanSize = C.size;
  var root = new URL(document.querySelector('meta[name="satchel-root"]').content, location.href);
  var config = window.satchelCommon.config;
  var strings = config.strings;
  var packs = new SatchelPacks(root.href);
  var SHARED = '_shared';

  /* Bytes this site may still store, or null when the browser does not say. */
  async function freeSpace() {
    if (!navigator.storage || !navigator.storage.estimate) return null;
    var estimate = await navigator.storage.estimate();
    return typeof estimate.quota === 'number' ? Math.max(0, estimate.quota - (estimate.usage || 0)) : null;
  }

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
  function setUpOfflineControl() {
    var button = document.querySelector('[data-satchel-offline]');
    var dialog = document.querySelector('[data-satchel-offline-dialog]');
    var status = dialog.querySelector('[data-satchel-offline-status]');
    var list = dialog.querySelector('[data-satchel-parts]');
    var bar = dialog.querySelector('progress');
    var all = dialog.querySelector('[data-satchel-offline-all]');
    var cancel = dialog.querySelector('[data-satchel-offline-cancel]');
    var index = null;
    var busy = null;  // the AbortController of the download under way
    button.hidden = false;

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
          await loadMedia();
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

    function loadMedia() {
      return window.satchelMedia ? Promise.resolve() : new Promise(function (resolve, reject) {
        var script = document.createElement('script');
        script.src = new URL('assets/satchel/media.js', packs.root).href;
        script.onload = resolve;
        script.onerror = reject;
        document.head.appendChild(script);
      });
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

    packs.lists('installed', config.language).then(function (found) {
      if (found.some(function (i) { return i.part !== SHARED; })) button.dataset.state = 'some';
    });

    button.addEventListener('click', async function () {
      if (!('caches' in window) || !navigator.serviceWorker) {
        say(strings.unsupported, true);
        all.hidden = true;
        dialog.showModal();
        return;
      }
      say('');
      dialog.showModal();
      offerNotifications();
      try {
        index = await packs.index(config.language);
        await paint();
      } catch (error) {
        say(format(strings.failed, { reason: error.message }), true);
      }
    });

    dialog.querySelector('[data-satchel-offline-close]').addEventListener('click', function () { dialog.close(); });
  }

  /* A new version published: bring every language kept on this device up to date, fetching only
   * the files whose hash changed. The installed version answers until a part is complete. On
   * mobile data the learner is asked first, with the size. The outcome is left on <html> as
   * data-satchel-packs (for tests and curious adults). */
  async function updateInstalledPacks() {
    var banner = document.querySelector('[data-satchel-update]');
    var text = banner.querySelector('span');
    var action = banner.querySelector('button');
    var parts = new Map();  // language -> the parts it has on the device (installed or under way)
    for (var kind of ['installed', 'pending']) {
      (await packs.lists(kind)).forEach(function (item) {
        if (!parts.has(item.code)) parts.set(item.code, new Set());
        parts.get(item.code).add(item.part);
      });
    }
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

  function offerUpdate(registration) {
    var banner = document.querySelector('[data-satchel-update]');
    banner.hidden = false;
    banner.querySelector('span').textContent = strings.updateReady;
    var button = banner.querySelector('button');
    button.textContent = strings.updateNow;
    button.hidden = false;
    button.addEventListener('click', function () {
      registration.waiting.postMessage({ type: 'SKIP_WAITING' });
    }, { once: true });
  }

  /* The precache holds no language's script: the worker keeps this language's when a page of it
   * asks (service_worker/sw.js, keepLanguage). */
  function keepLanguage(registration) {
    var script = document.querySelector('script[data-satchel-language]');
    if (script && registration.active) registration.active.postMessage({ type: 'satchel-keep-language', urls: [script.src] });
  }

  async function registerServiceWorker() {
    if (!('serviceWorker' in navigator)) return;
    var hadController = !!navigator.serviceWorker.controller;
    var registration = await navigator.serviceWorker.register(new URL('sw.js', root).href, { scope: root.href });
    navigator.serviceWorker.ready.then(function (ready) {
      keepLanguage(ready);
      // A page opened while the first worker was activating can miss its claim: ask again.
      if (!navigator.serviceWorker.controller && ready.active) ready.active.postMessage({ type: 'satchel-claim' });
    });
    navigator.serviceWorker.addEventListener('controllerchange', function () {
      if (hadController) location.reload();
    });
    if (navigator.onLine) {
      await updateInstalledPacks().catch(function (error) {
        document.documentElement.dataset.satchelPacks = 'failed';  // offline again: next time
        console.warn('Satchel: lessons not updated:', error);
      });
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

  /* The header's menu (a drawer of the subject's units and lessons on phones) and language menu
   * work by keyboard too; Escape closes either, and a tap elsewhere closes the language menu. */
  function setUpNavigation() {
    var drawer = document.getElementById('__drawer');
    var menu = document.querySelector('[data-satchel-menu]');
    if (menu) {
      var opened = function (open) {
        drawer.checked = open;
        menu.setAttribute('aria-expanded', String(open));
        if (open) {
          var first = document.querySelector('#satchel-nav a');
          if (first) setTimeout(function () { first.focus(); }, 0);
        }
      };
      menu.addEventListener('click', function () { opened(!drawer.checked); });
      drawer.addEventListener('change', function () { menu.setAttribute('aria-expanded', String(drawer.checked)); });  // the overlay
      document.addEventListener('keydown', function (event) {
        if (event.key === 'Escape' && drawer.checked) { opened(false); menu.focus(); }
      });
    }
    var languages = document.querySelector('.satchel-languages');
    languages.addEventListener('keydown', function (event) {
      if (event.key === 'Escape' && languages.open) {
        languages.open = false;
        languages.querySelector('summary').focus();
      }
    });
    document.addEventListener('click', function (event) {
      if (languages.open && !languages.contains(event.target)) languages.open = false;
    });
  }

  setUpNavigation();
  setUpOfflineControl();
  registerServiceWorker().catch(function (error) { console.warn('Satchel: service worker not registered:', error); });
}());
