/* Satchel's search box, loaded by the app when search is first opened (search-open.js), or ahead
 * on a device where search has been used: it is not in the app shell, but in each language's shared
 * part, with lunr and the indexes. The engine runs in a worker (search-worker.js): this script
 * starts it, sends it what the learner types and draws what it answers, the pages whose titles
 * match at once, then, once every subject's index is in, the ranked results, and their snippets as
 * their texts arrive. Results show the title,
 * where the page is, and a snippet with the matched words marked. */
(function () {
  'use strict';

  // Loaded ahead while the page is idle, it may arrive as the learner leaves: a page being torn
  // down has no search box to drive.
  var rootMeta = document.querySelector('meta[name="satchel-root"]');
  if (!rootMeta || !document.querySelector('[data-satchel-search]') || !window.satchelCommon) return;
  var common = window.satchelCommon;
  var fill = common.fill;
  var root = new URL(rootMeta.content, location.href);
  var config = window.satchelCommon.config;
  var code = config.language;
  var settings = config.search;
  var strings = settings.strings;
  var dialog = document.querySelector('[data-satchel-search]');
  var input = dialog.querySelector('input');
  var status = dialog.querySelector('[data-satchel-search-status]');
  var list = dialog.querySelector('[data-satchel-search-results]');
  var worker = null;
  var latest = 0;
  var asked = null;  // the text of the latest query sent to the worker
  var SEARCHED = 'satchel-searched';  // search-open.js reads it

  /* The engine, started once (and again after a failure: offline, and search not on the device).
   * Starting it begins loading the title list and every subject's index, in the worker. */
  function engine() {
    if (!worker) {
      worker = new Worker(new URL(settings.worker, root).href);
      worker.onmessage = receive;
      worker.onerror = function (event) {
        event.preventDefault();
        failed(event.message || 'search worker');
      };
      worker.postMessage({ init: { root: root.href, language: code, search: settings } });
    }
    return worker;
  }

  function say(text) { status.textContent = text; }

  /* Where a page is: its subject's and unit's titles, each isolated (<bdi>) so that a title in
   * another script keeps its punctuation, and the separators between them follow the page's
   * direction. "›" is mirrored in right-to-left text, so it points the way Arabic reads. A store
   * from before trails were lists has the trail as one text. */
  function trailOf(titles) {
    var trail = document.createElement('span');
    trail.className = 'satchel-search__trail';
    [].concat(titles || []).forEach(function (title, i) {
      if (i) trail.append(' › ');
      var part = document.createElement('bdi');
      part.textContent = title;
      trail.append(part);
    });
    return trail;
  }

  /* A result's snippet: [text, marked word, text, ...] from the worker. */
  function excerptOf(snippet) {
    var excerpt = document.createElement('span');
    excerpt.className = 'satchel-search__snippet';
    snippet.forEach(function (text, i) {
      if (i % 2 === 0) { excerpt.append(text); return; }
      var mark = document.createElement('mark');
      mark.textContent = text;
      excerpt.append(mark);
    });
    return excerpt;
  }

  /* A result: its title, trail and snippet (none yet in ranked results and suggestions). */
  function item(url, titleText, trailTitles, snippet) {
    var li = document.createElement('li');
    var link = document.createElement('a');
    link.href = new URL(url, root).href;
    var title = document.createElement('strong');
    title.textContent = titleText;
    link.append(title, trailOf(trailTitles));
    if (snippet) link.append(excerptOf(snippet));
    li.append(link);
    return li;
  }

  /* What the list shows: 'suggestions' (titles that match, while the indexes arrive), 'ranked'
   * (the results, ranked, their snippets on the way) or the full results (no attribute). */
  var shown = { kind: null, ticket: 0, urls: [] };
  function show(pages, kind, ticket) {
    var fragment = document.createDocumentFragment();  // one insertion, one layout
    pages.forEach(function (page) { fragment.append(item(page[0], page[1], page[2], kind ? null : page[3])); });
    fill(list, [fragment]);
    shown = { kind: kind, ticket: ticket, urls: pages.map(function (page) { return page[0]; }) };
    if (kind === 'suggestions') list.setAttribute('data-satchel-suggestions', '');
    else list.removeAttribute('data-satchel-suggestions');
    if (kind === 'ranked') list.setAttribute('data-satchel-ranked', '');
    else list.removeAttribute('data-satchel-ranked');
  }

  /* The full results of the query whose ranked results are shown, in the same order: only their
   * snippets are added, the list is not drawn again. */
  function addSnippets(results, ticket) {
    if (shown.kind !== 'ranked' || shown.ticket !== ticket || shown.urls.length !== results.length) return false;
    if (!results.every(function (page, i) { return page[0] === shown.urls[i]; })) return false;
    var links = list.querySelectorAll('a');
    results.forEach(function (page, i) { links[i].append(excerptOf(page[3] || [])); });
    list.removeAttribute('data-satchel-ranked');
    shown.kind = null;
    return true;
  }

  function search() {
    var ticket = ++latest;
    var text = input.value.trim();
    asked = text;
    if (!text) { fill(list); say(strings.hint); return; }
    engine().postMessage({ query: text, ticket: ticket });
  }

  /* The worker's answer to a query: suggestions while indexes are arriving (satchel:suggestions:
   * not final), the ranked results while their snippets' texts are fetched (satchel:ranked: the
   * pages, in their final order, with title, trail and link), then the full results, with their
   * snippets (satchel:results). An answer to an older query is dropped. */
  function receive(event) {
    var answer = event.data;
    var ticket = answer.ticket;
    if (ticket !== latest) return;
    if (answer.failed) return failed(answer.failed);
    if (answer.suggestions || answer.ranked) {
      var pages = answer.suggestions || answer.ranked;
      show(pages, answer.suggestions ? 'suggestions' : 'ranked', ticket);
      say(common.format(strings.found, { n: pages.length }));
      dialog.dispatchEvent(new CustomEvent(answer.suggestions ? 'satchel:suggestions' : 'satchel:ranked'));
      return;
    }
    var results = answer.results;
    if (!results.length) {
      fill(list);
      shown = { kind: null, ticket: ticket, urls: [] };
      say(common.format(strings.none, { query: input.value.trim().slice(0, 60) }));
    } else if (!addSnippets(results, ticket)) {
      show(results, null, ticket);
      say(common.format(strings.found, { n: results.length }));
    }
    dialog.dispatchEvent(new CustomEvent('satchel:results'));
  }

  function failed(why) {
    if (worker) worker.terminate();
    worker = null;  // the next search starts again
    asked = null;
    fill(list);
    say(strings.failed);
    console.warn('Satchel search:', why);
  }

  /* A modal dialog (showModal(): the page behind is inert, Escape closes it, also on Chrome 80, which
   * has no `inert` attribute to make a modal by hand); focus goes back where it was when it closes. */
  var opener = null;
  dialog.addEventListener('close', function () {
    var back = opener;
    opener = null;
    if (back && back.isConnected && !dialog.contains(back)) back.focus();
  });
  dialog.addEventListener('keydown', function (event) {  // one Escape closes, even with words in the box
    if (event.key === 'Escape' && dialog.open) { event.preventDefault(); dialog.close(); }
  });

  function open() {
    if (!dialog.open) {
      opener = document.activeElement;
      dialog.showModal();
    }
    input.focus();
    engine();
    var text = input.value.trim();
    if (!text) say(strings.hint);
    else if (text !== asked) search();  // typed before the box opened: asked already
    try { localStorage.setItem(SEARCHED, '1'); } catch (error) { /* private mode: nothing loads ahead */ }
  }
  // prefetch: start the engine ahead (search-open.js, on a device where search has been used)
  window.satchelSearch = { open: open, prefetch: engine };  // the button is search-open.js's
  dialog.querySelector('[data-satchel-search-close]').addEventListener('click', function () { dialog.close(); });
  input.addEventListener('input', search);
  /* Arrow keys move between the search box and the results. */
  dialog.addEventListener('keydown', function (event) {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    var links = Array.from(list.querySelectorAll('a'));
    var at = links.indexOf(document.activeElement);
    var next = event.key === 'ArrowDown' ? at + 1 : at - 1;
    if (next < -1 || next >= links.length) return;
    event.preventDefault();
    (next === -1 ? input : links[next]).focus();
  });
}());
