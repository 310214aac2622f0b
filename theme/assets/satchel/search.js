/* Satchel's search box, loaded by the app when search is first opened (search-open.js): it is not in
 * the app shell, but in each language's shared part, with lunr and the title list. Opening it fetches the language's title list and shows the pages whose
 * titles match at once, while the prebuilt lunr index of each subject (one shard per subject,
 * lunr.Index.load, no indexing on the device) arrives and is loaded one shard per task, so the
 * page never freezes; once every shard has been tried the full results replace the suggestions.
 * Shards' scores are put on one scale (score()). Results show the title, where the page is, and a
 * snippet with the matched words marked. */
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
  var loading = null;
  var titles = null;  // [{ref, title, url, trail, subject, words}]
  var shards = [];  // loaded: {subject, refs, index, count}; a page is named by its position in refs, in base 36
  var missing = {};  // subjects whose shard could not be had (offline and not on the device)
  var complete = false;  // every shard loaded or given up
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

  async function fetchText(url) {
    var response = await fetch(new URL(url, root).href);
    if (!response.ok) throw new Error(url + ': HTTP ' + response.status);
    return response.text();
  }

  function fetchJson(url) { return fetchText(url).then(JSON.parse); }

  function nextTask() { return new Promise(function (resolve) { setTimeout(resolve, 0); }); }

  function titleWords(text) {
    return window.satchelSearchLanguage ? window.satchelSearchLanguage.fold(text) : String(text).toLowerCase();
  }

  /* The title list and the words' pipeline (search-language.js): enough for suggestions. Also
   * fetched ahead, when the page is idle on a device that has the app (search-open.js), so that
   * opening search shows suggestions at once. */
  var titlesLoading = null;
  function loadTitles() {
    if (!titlesLoading) {
      titlesLoading = (async function () {
        var titleData = fetchJson(settings.titles);
        titleData.catch(function () {});
        await loadScript(settings.scripts[settings.scripts.length - 1]);  // search-language.js
        var data = await titleData;
        titles = data.pages.map(function (page) {
          return { ref: page[0], title: page[1], url: page[2], trail: data.trails[page[3]], subject: page[0].split('/')[0],
                   words: titleWords(page[1]) };
        });
      }());
      titlesLoading.catch(function () { titlesLoading = null; });
    }
    return titlesLoading;
  }

  function load() {
    if (!loading) {
      loading = (async function () {
        // Everything downloads at once; the scripts run, then each shard is parsed and loaded in its own task.
        var texts = settings.subjects.map(function (subject) {
          var text = fetchText(settings.folder + 'index/' + subject + '.json');
          text.catch(function () {});  // handled below, in turn
          return text;
        });
        var scripts = Promise.all(settings.scripts.map(loadScript));
        await loadTitles();
        if (input.value.trim()) search();
        await scripts;
        window.satchelSearchLanguage.install(window.lunr);
        for (var i = 0; i < texts.length; i++) {
          var subject = settings.subjects[i];
          try {
            var shard = JSON.parse(await texts[i]);
            await nextTask();
            shards.push({ subject: subject, refs: shard.refs, count: shard.refs.length, index: window.lunr.Index.load(shard.index) });
          } catch (error) {
            missing[subject] = true;  // offline, a subject not kept on the device has no shard
          }
          await nextTask();
        }
        complete = true;
        stems.clear();
        if (input.value.trim()) search();
      }());
      loading.catch(function () { loading = null; });
    }
    return loading;
  }

  function store(group) {
    if (!stores[group]) {
      stores[group] = fetchJson(settings.folder + 'store/' + group + '.json');
      stores[group].catch(function () { delete stores[group]; });
    }
    return stores[group];
  }

  /* The pages whose title has every word of the query at the start of one of its words (anywhere,
   * in a language written without spaces), shortest titles first: the suggestions shown before
   * the shards are in. */
  function suggestions(text) {
    var folded = titleWords(text);
    var segmented = window.satchelSearchLanguage.isSegmented(code);
    var parts = segmented ? [folded.replace(/\s+/g, '')] : folded.split(/[^\p{L}\p{M}\p{N}]+/u).filter(Boolean);
    if (!parts.length) return [];
    return titles.filter(function (page) {
      if (missing[page.subject]) return false;
      return parts.every(function (part) {
        if (segmented) return page.words.indexOf(part) >= 0;
        var at = page.words.indexOf(part);
        while (at >= 0) {
          if (at === 0 || /[^\p{L}\p{M}\p{N}]/u.test(page.words[at - 1])) return true;
          at = page.words.indexOf(part, at + 1);
        }
        return false;
      });
    }).sort(function (a, b) { return a.title.length - b.title.length || (a.ref < b.ref ? -1 : 1); }).slice(0, 10);
  }

  function idf(documentsWithTerm, documents) {
    return Math.log(1 + Math.abs((documents - documentsWithTerm + 0.5) / (documentsWithTerm + 0.5)));
  }

  /* How many (page, field) pairs of a shard have the term, as lunr counts for its idf. */
  function postings(shard, term) {
    var posting = shard.index.invertedIndex[term];
    if (!posting) return 0;
    var n = 0;
    for (var field in posting) if (field !== '_index') n += Object.keys(posting[field]).length;
    return n;
  }

  /* A term's weight in a page's field, from the shard's field vectors (which lunr keeps sorted). */
  function weight(shard, fieldRef, termIndex) {
    var vector = shard.index.fieldVectors[fieldRef];
    if (!vector) return 0;
    var e = vector.elements, lo = 0, hi = e.length / 2 - 1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (e[mid * 2] === termIndex) return e[mid * 2 + 1];
      if (e[mid * 2] < termIndex) lo = mid + 1; else hi = mid - 1;
    }
    return 0;
  }

  /* A result's score on the scale of every loaded shard together. lunr's own score uses its
   * shard's idf (a word rare in a small subject weighs more than in a big one) and divides by a
   * query vector that differs per shard (the prefix expands to that shard's words): the page's
   * weights are taken from the shard's vectors, freed of the shard's idf, and given the idf
   * counted over all loaded shards. */
  function score(shard, result, parts, global) {
    var total = 0;
    Object.keys(result.matchData.metadata).forEach(function (term) {
      var boost = (parts.terms.indexOf(term) >= 0 ? 10 : 0) + (parts.prefix && term.indexOf(parts.prefix) === 0 ? 1 : 0);
      var own = idf(postings(shard, term), shard.count);
      if (!boost || !own) return;
      var termIndex = shard.index.invertedIndex[term]._index;
      var wide = idf(global(term), global.documents);
      Object.keys(result.matchData.metadata[term]).forEach(function (field) {
        total += boost * weight(shard, field + '/' + result.ref, termIndex) / own * wide;
      });
    });
    return total;
  }

  /* Lunr's query syntax (* : ~ ^ + -) is never parsed: words go through the same pipeline as the
   * index and are added as plain terms, the last one also as a prefix while it is being typed. */
  function query(text) {
    var lunr = window.lunr;
    var parts = window.satchelSearchLanguage.queryTerms(lunr, code, text, known);
    if (!parts.terms.length && !parts.prefix) return [];
    var counts = {};
    var global = function (term) {
      if (!(term in counts)) counts[term] = shards.reduce(function (n, shard) { return n + postings(shard, term); }, 0);
      return counts[term];
    };
    global.documents = shards.reduce(function (n, shard) { return n + shard.count; }, 0);
    var found = [];
    shards.forEach(function (shard) {
      shard.index.query(function (q) {
        parts.terms.forEach(function (term) { q.term(term, { usePipeline: false, boost: 10 }); });
        if (parts.prefix) q.term(parts.prefix, { usePipeline: false, wildcard: lunr.Query.wildcard.TRAILING });
      }).forEach(function (result) {
        found.push({ id: shard.refs[parseInt(result.ref, 36)], matchData: result.matchData, score: score(shard, result, parts, global) });
      });
    });
    return found.sort(function (a, b) { return b.score - a.score || (a.id < b.id ? -1 : 1); }).slice(0, 10);
  }

  /* Whether an index has this term: a language written without spaces cuts its queries by the
   * words the index knows where the browser has no Intl.Segmenter. */
  function known(term) { return shards.some(function (shard) { return term in shard.index.invertedIndex; }); }

  /* The index term a word of the text becomes (memoised: the same words recur; forgotten as
   * shards arrive, since a segmented language's cut depends on the words known). */
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

  function item(url, titleText, trailTitles, excerptText, matched) {
    var li = document.createElement('li');
    var link = document.createElement('a');
    link.href = new URL(url, root).href;
    var title = document.createElement('strong');
    title.textContent = titleText;
    var excerpt = document.createElement('span');
    excerpt.className = 'satchel-search__snippet';
    if (excerptText) excerpt.append(snippet(excerptText, matched));
    link.append(title, trailOf(trailTitles), excerpt);
    li.append(link);
    return li;
  }

  /* While shards are still arriving: the pages whose titles match, at once (no event: the
   * results are not final). */
  function suggest(text) {
    var found = suggestions(text);
    if (!found.length) return;
    fill(list, found.map(function (page) { return item(page.url, page.title, page.trail, '', null); }));
    list.setAttribute('data-satchel-suggestions', '');
    say(common.format(strings.found, { n: found.length }));
    dialog.dispatchEvent(new CustomEvent('satchel:suggestions'));
  }

  var latest = 0;
  async function search() {
    var ticket = ++latest;
    var text = input.value.trim();
    if (!text) { fill(list); say(strings.hint); return; }
    load().catch(function (error) {
      if (ticket !== latest) return;
      fill(list);
      say(strings.failed);
      console.warn('Satchel search:', error);
    });
    if (!complete) {
      if (titles) suggest(text);
      return;  // load() searches again once the shards are in
    }
    try {
      var results = query(text);
      if (!results.length) return nothing(text);
      // The text of the pages shown: their units' stores (builder/search.py store_group). Offline, a
      // subject not kept on the device has no text store: its results are left out.
      var groups = Array.from(new Set(results.map(function (r) { return r.id.split('/').slice(0, 2).join('/'); })));
      var loaded = await Promise.all(groups.map(function (group) { return store(group).catch(function () { return {}; }); }));
      if (ticket !== latest) return;
      var docs = Object.assign.apply(null, [{}].concat(loaded));
      results = results.filter(function (result) { return docs[result.id]; });
      if (!results.length) return nothing(text);
      fill(list, results.map(function (result) {
        var doc = docs[result.id];
        return item(doc[2], doc[0], doc[1], doc[3], new Set(Object.keys(result.matchData.metadata)));
      }));
      list.removeAttribute('data-satchel-suggestions');
      say(common.format(strings.found, { n: results.length }));
      finished();
    } catch (error) {
      fill(list);
      say(strings.failed);
      console.warn('Satchel search:', error);
    }
  }

  function nothing(text) {
    fill(list);
    say(common.format(strings.none, { query: text.slice(0, 60) }));
    finished();
  }

  function finished() { dialog.dispatchEvent(new CustomEvent('satchel:results')); }

  function open() {
    if (!dialog.open) dialog.showModal();
    input.focus();
    say(strings.hint);
    load().catch(function () { say(strings.failed); });
    if (input.value.trim()) search();
  }
  window.satchelSearch = { open: open, prefetch: loadTitles };  // the button is search-open.js's
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
