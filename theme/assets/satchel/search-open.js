/* The search button. search.js is not in the app shell every first visit downloads: it comes with
 * lunr and the language's index in the language's shared part, and loads the first time the button
 * is pressed, then opens the search box. On a device where search has been used before
 * (search.js leaves 'satchel-searched' in localStorage), it loads ahead instead, once the page is
 * idle, and its worker loads the title list and the indexes, off the page's thread: opening
 * search then answers at once, and a device whose children never search pays nothing for it. */
(function () {
  'use strict';
  var button = document.querySelector('[data-satchel-search-open]');
  if (!button) return;
  function loadSearch() {
    return window.satchelCommon.script('search');
  }

  button.addEventListener('click', function () {
    loadSearch().then(function () {
      if (window.satchelSearch) window.satchelSearch.open();
    }, function () {
      // offline, and search not on the device: say so (the next press tries again)
      var dialog = document.querySelector('[data-satchel-search]');
      dialog.querySelector('[data-satchel-search-status]').textContent = window.satchelCommon.config.search.strings.failed;
      if (!dialog.open) dialog.showModal();
    });
  });
  var known = (function () {
    try { return localStorage.getItem('satchel-searched') !== null; } catch (error) { return false; }
  }());
  if (known && 'requestIdleCallback' in window) {
    window.addEventListener('load', function () {
      requestIdleCallback(function () {
        loadSearch().then(function () { return window.satchelSearch && window.satchelSearch.prefetch(); }).catch(function () {});
      }, { timeout: 5000 });
    });
  }
}());
