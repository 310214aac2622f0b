/* Satchel's search box: loads the current language's prebuilt lunr index the first time the
 * learner opens search (lunr.Index.load, no indexing on the device), then answers as they type.
 * Results show the title, where the page is, and a snippet with the matched words marked. */
(function () {
  'use strict';

  var common = window.satchelCommon;
  var fill = common.fill;
  var root = new URL(document.querySelector('meta[name="satchel-root"]').content, location.href);
  var config = window.satchelCommon.config;
  var code = config.language;
  var strings = config.search.strings;
  var dialog = document.querySelector('[data-satchel-search]');
  var input = dialog.querySelector('input');
  var status = dialog.querySelector('[data-satchel-search-status]');
  var list = dialog.querySelector('[data-satchel-search-results]');
  var loading = null;
  var index = null;
  var refs = [];  // page ids; the index names a page by its position here, in base 36
  var stores = {};
  var stems = new Map();

  /* Scripts download in parallel and run in order (async = false). */
  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement('script');
      script.src = new URL(src, root).href;
      script.async = false;
      script.onload = resolve;
      script.onerror = function () { reject(new Error(src)); };
      document.head.appendChild(script);
    });
  }

  async function fetchJson(url) {
    var response = await fetch(new URL(url, root).href);
    if (!response.ok) throw new Error(url + ': HTTP ' + response.status);
    return response.json();
  }

  function load() {
    if (!loading) {
      loading = (async function () {
        var indexData = fetchJson(config.search.index);  // meanwhile, the index downloads and parses
        indexData.catch(function () {});  // handled below, once the scripts are in
        await Promise.all(config.search.scripts.map(loadScript));
        window.satchelSearchLanguage.install(window.lunr);
        var data = await indexData;
        refs = data.refs;
        index = window.lunr.Index.load(data.index);
      }());
      loading.catch(function () { loading = null; });
    }
    return loading;
  }

  function store(subject) {
    if (!stores[subject]) {
      stores[subject] = fetchJson(config.search.stores + subject + '.json');
      stores[subject].catch(function () { delete stores[subject]; });
    }
    return stores[subject];
  }

  /* Lunr's query syntax (* : ~ ^ + -) is never parsed: words go through the same pipeline as the
   * index and are added as plain terms, the last one also as a prefix while it is being typed. */
  function query(text) {
    var lunr = window.lunr;
    var parts = window.satchelSearchLanguage.queryTerms(lunr, code, text, known);
    if (!parts.terms.length && !parts.prefix) return [];
    return index.query(function (q) {
      parts.terms.forEach(function (term) { q.term(term, { usePipeline: false, boost: 10 }); });
      if (parts.prefix) q.term(parts.prefix, { usePipeline: false, wildcard: lunr.Query.wildcard.TRAILING });
    }).slice(0, 10).map(function (result) {
      return { id: refs[parseInt(result.ref, 36)], matchData: result.matchData };
    });
  }

  /* Whether the index has this term: a language written without spaces cuts its queries by the
   * words the index knows where the browser has no Intl.Segmenter. */
  function known(term) { return term in index.invertedIndex; }

  /* The index term a word of the text becomes (memoised: the same words recur). */
  function stem(word) {
    if (!stems.has(word)) {
      var out = window.satchelSearchLanguage.queryTerms(window.lunr, code, word, known).terms;
      stems.set(word, out.length ? out[0] : '');
    }
    return stems.get(word);
  }

  /* The text's words and what lies between them: split on spaces, or, in a language written
   * without spaces, cut into words the way its queries are. */
  function wordsOf(text) {
    var language = window.satchelSearchLanguage;
    if (!language.isSegmented(code)) return text.split(/(\s+)/);
    return language.pieces(code, text, known).map(function (piece) { return piece.segment; });
  }

  function snippet(text, matched) {
    var words = wordsOf(text);
    var first = words.findIndex(function (w) { return /\S/.test(w) && matched.has(stem(w)); });
    var start = Math.max(0, (first < 0 ? 0 : first) - 12);
    var fragment = document.createDocumentFragment();
    if (start > 0) fragment.append('… ');
    words.slice(start, start + 50).forEach(function (word) {
      if (/\S/.test(word) && matched.has(stem(word))) {
        var mark = document.createElement('mark');
        mark.textContent = word;
        fragment.append(mark);
      } else {
        fragment.append(word);
      }
    });
    if (start + 50 < words.length) fragment.append(' …');
    return fragment;
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

  var latest = 0;
  async function search() {
    var ticket = ++latest;
    var text = input.value.trim();
    if (!text) { fill(list); say(strings.hint); return; }
    try {
      await load();
      var results = query(text);
      if (ticket !== latest) return;
      if (!results.length) { fill(list); say(common.format(strings.none, { query: text.slice(0, 60) })); return finished(); }
      var subjects = Array.from(new Set(results.map(function (r) { return r.id.split('/')[0]; })));
      // Offline, a subject not kept on the device has no text store: its results are left out.
      var loaded = await Promise.all(subjects.map(function (subject) { return store(subject).catch(function () { return {}; }); }));
      if (ticket !== latest) return;
      var docs = Object.assign.apply(null, [{}].concat(loaded));
      results = results.filter(function (result) { return docs[result.id]; });
      if (!results.length) { fill(list); say(common.format(strings.none, { query: text.slice(0, 60) })); return finished(); }
      fill(list, results.map(function (result) {
        var doc = docs[result.id];
        var matched = new Set(Object.keys(result.matchData.metadata));
        var item = document.createElement('li');
        var link = document.createElement('a');
        link.href = new URL(doc[2], root).href;
        var title = document.createElement('strong');
        title.textContent = doc[0];
        var trail = trailOf(doc[1]);
        var excerpt = document.createElement('span');
        excerpt.className = 'satchel-search__snippet';
        excerpt.append(snippet(doc[3], matched));
        link.append(title, trail, excerpt);
        item.append(link);
        return item;
      }));
      say(common.format(strings.found, { n: results.length }));
      finished();
    } catch (error) {
      fill(list);
      say(strings.failed);
      console.warn('Satchel search:', error);
    }
  }

  function finished() { dialog.dispatchEvent(new CustomEvent('satchel:results')); }

  document.querySelector('[data-satchel-search-open]').addEventListener('click', function () {
    dialog.showModal();
    input.focus();
    say(strings.hint);
    load().catch(function () { say(strings.failed); });
    if (input.value.trim()) search();
  });
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
