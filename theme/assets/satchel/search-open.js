/* The search button: search.js loads the first time it is pressed (it comes with lunr and the
 * language's index in the language's shared part, not in the app shell every first visit downloads),
 * then opens the search box. */
(function () {
  'use strict';
  var button = document.querySelector('[data-satchel-search-open]');
  if (!button) return;
  var root = new URL(document.querySelector('meta[name="satchel-root"]').content, location.href);
  function first() {
    button.removeEventListener('click', first);
    var script = document.createElement('script');
    script.src = new URL('assets/satchel/search.js', root).href;
    script.onload = function () { window.satchelSearch.open(); };
    script.onerror = function () {  // offline and not on the device: say so, and try again next time
      button.addEventListener('click', first);
      var dialog = document.querySelector('[data-satchel-search]');
      dialog.querySelector('[data-satchel-search-status]').textContent = window.satchelCommon.config.search.strings.failed;
      dialog.showModal();
      script.remove();
    };
    document.head.appendChild(script);
  }
  button.addEventListener('click', first);
}());
