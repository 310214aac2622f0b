/* Satchel's learner-side script: registers the service worker, opens the offline dialog (its
 * workings, and the updates of kept subjects, are offline.js's, loaded when needed; packs.js does
 * the storing; theme/dialogs.html has the dialog) and works the header's menus.
 * Plain browser JavaScript, no build step, no other origin. */
(function () {
  'use strict';

  var C = window.satchelCommon;
  var root = new URL(document.querySelector('meta[name="satchel-root"]').content, location.href);
  var config = C.config;
  var strings = config.strings;
  var packs = new SatchelPacks(root.href);

  function offline() {
    return C.script('offline').then(function () { return window.satchelOffline; });
  }

  /* The offline button: shown at once (with "some" when subjects are kept); the dialog opens at
   * once too, and offline.js fills it. */
  function setUpOfflineControl() {
    var button = document.querySelector('[data-satchel-offline]');
    var dialog = document.querySelector('[data-satchel-offline-dialog]');
    var status = dialog.querySelector('[data-satchel-offline-status]');
    button.hidden = false;
    packs.lists('installed', config.language).then(function (found) {
      if (found.some(function (i) { return i.part !== '_shared'; })) button.dataset.state = 'some';
    });
    button.addEventListener('click', async function () {
      status.textContent = '';
      delete status.dataset.sticky;
      dialog.showModal();
      if (!('caches' in window) || !navigator.serviceWorker) {
        status.textContent = strings.unsupported;
        return;
      }
      try {
        await (await offline()).open();
      } catch (error) {
        status.textContent = C.format(strings.failed, { reason: error.message });
      }
    });
    dialog.querySelector('[data-satchel-offline-close]').addEventListener('click', function () { dialog.close(); });
  }

  /* A new version published: offline.js brings what the device keeps up to date; a device that
   * keeps nothing has nothing to update (and loads nothing). */
  async function updateInstalledPacks() {
    var kept = (await packs.lists('installed')).concat(await packs.lists('pending'));
    if (!kept.length) {
      document.documentElement.dataset.satchelPacks = 'up-to-date';
      return;
    }
    await (await offline()).update(kept);
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
