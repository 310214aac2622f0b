/* Satchel's search engine, in a worker of its own (search.js starts it and draws what it answers):
 * parsing the indexes and querying them never holds up the page a child is reading, and on a
 * phone with more than one core it runs beside the page. Started with {init}, it fetches the
 * language's title list, then every subject's prebuilt lunr index (one shard per subject,
 * lunr.Index.load: nothing is indexed on the device); each {query, ticket} is answered at once
 * with the pages whose titles match (suggestions) while shards are still arriving; once every shard
 * has been tried, with the ranked results (title, trail and URL from the title list) while their
 * units' text stores are fetched, then with the full results (the same, each with a snippet, the
 * matched words marked); the latest query is answered again then. Shards' scores are put on one scale
 * (score()). A subject whose shard or text store can't be had (offline, not on the device) is
 * left out of suggestions and results. */
/* global lunr */
'use strict';

var root = null;  // the bundle's root URL
var code = '';
var settings = null;
var language = null;  // search-language.js
var titles = null;  // [{ref, title, url, trail, subject, words}]
var shards = [];  // loaded: {subject, refs, index, count}; a page is named by its position in refs, in base 36
var missing = {};  // subjects whose shard could not be had
var complete = false;  // every shard loaded or given up
var stores = {};  // unit -> the promise of its text store
var storeData = {};  // unit -> its text store, once in
var byRef = {};  // page id -> its entry in titles
var stems = new Map();
var latest = null;  // the last query asked: answered again once every shard is in
var titlesLoading = null;
var shardsLoading = null;

self.onmessage = function (event) {
  var message = event.data || {};
  if (message.init && !settings) start(message.init);
  if (typeof message.query === 'string' && settings) {
    latest = message;
    answer(message);
  }
};

function start(init) {
  root = new URL(init.root);
  code = init.language;
  settings = init.search;
  try {
    // lunr, its language's stemmer, search-language.js: run in this worker's global, in order
    importScripts.apply(null, settings.scripts.map(function (src) { return new URL(src, root).href; }));
    language = self.satchelSearchLanguage;
    language.install(lunr);
  } catch (error) {
    settings.broken = String(error && error.message || error);
    return;
  }
  loadShards();
}

function post(message) { self.postMessage(message); }

async function fetchJson(url) {
  var response = await fetch(new URL(url, root).href);
  if (!response.ok) throw new Error(url + ': HTTP ' + response.status);
  return response.json();
}

function nextTask() { return new Promise(function (resolve) { setTimeout(resolve, 0); }); }

function loadTitles() {
  if (!titlesLoading) {
    titlesLoading = fetchJson(settings.titles).then(function (data) {
      titles = data.pages.map(function (page) {
        return { ref: page[0], title: page[1], url: page[2], trail: data.trails[page[3]], subject: page[0].split('/')[0],
                 words: language.fold(page[1]) };
      });
      titles.forEach(function (page) { byRef[page.ref] = page; });
    });
    titlesLoading.catch(function () { titlesLoading = null; });
  }
  return titlesLoading;
}

/* Every shard downloads at once; each is parsed and loaded in its own task, so that queries asked
 * meanwhile are answered from the titles. */
function loadShards() {
  if (!shardsLoading) {
    shardsLoading = (async function () {
      var texts = settings.subjects.map(function (subject) {
        var text = fetchJson(settings.folder + 'index/' + subject + '.json');
        text.catch(function () {});  // handled below, in turn
        return text;
      });
      await loadTitles().catch(function () {});
      for (var i = 0; i < texts.length; i++) {
        var subject = settings.subjects[i];
        try {
          var shard = await texts[i];
          shards.push({ subject: subject, refs: shard.refs, count: shard.refs.length, index: lunr.Index.load(shard.index) });
        } catch (error) {
          missing[subject] = true;  // offline, a subject not kept on the device has no shard
        }
        await nextTask();
      }
      complete = true;
      stems.clear();
      if (latest) answer(latest);
      else warmUp();
    }());
  }
  return shardsLoading;
}

/* One query of a word of the first title, its answer dropped, while nobody waits (search loaded
 * ahead): the learner's first query then runs code the engine has compiled, in about half the time
 * of a cold one (5 against 11 ms at 1,000 lessons, unthrottled). */
function warmUp() {
  var page = titles && titles[0];
  var word = page ? page.words.split(/[^\p{L}\p{M}\p{N}]+/u).filter(Boolean)[0] : '';
  try { if (word) query(word); } catch (error) { /* only a warm-up */ }
}

async function answer(message) {
  var ticket = message.ticket;
  if (settings.broken) return post({ ticket: ticket, failed: settings.broken });
  try {
    if (!complete) {
      await loadTitles();
      if (!complete && latest === message) {
        var found = suggestions(message.query);
        if (found.length) post({ ticket: ticket, suggestions: found.map(function (page) { return [page.url, page.title, page.trail]; }) });
      }
      return;  // loadShards answers the latest query again once every shard is in
    }
    var results = query(message.query);
    // The text of the pages shown: their units' stores (builder/search.py store_group). Until they
    // are in memory, the ranked results go first, each page's title, trail and URL from the title
    // list; the snippets follow. A subject not kept on the device has no text store: its results
    // are left out of the full results.
    var groups = Array.from(new Set(results.map(function (r) { return groupOf(r.id); })));
    var waiting = groups.filter(function (group) { return !storeData[group]; });
    if (waiting.length && results.length) {
      var ranked = results.map(function (result) { return byRef[result.id]; }).filter(Boolean);
      if (ranked.length === results.length) {
        post({ ticket: ticket, ranked: ranked.map(function (page) { return [page.url, page.title, page.trail]; }) });
      }
    }
    await Promise.all(waiting.map(function (group) { return store(group).catch(function () {}); }));
    if (latest !== message) return;  // a newer query is being answered: drawing this one is wasted
    post({ ticket: ticket, results: full(results) });
  } catch (error) {
    post({ ticket: ticket, failed: String(error && error.message || error) });
  }
}

/* Results with their texts: [url, title, trail, snippet], those whose text store can't be had
 * left out. */
function full(results) {
  return results.filter(function (result) { return (storeData[groupOf(result.id)] || {})[result.id]; }).map(function (result) {
    var doc = storeData[groupOf(result.id)][result.id];
    return [doc[2], doc[0], doc[1], snippet(doc[3], new Set(Object.keys(result.matchData.metadata)))];
  });
}

function groupOf(ref) { return ref.split('/').slice(0, 2).join('/'); }

function store(group) {
  if (!stores[group]) {
    stores[group] = fetchJson(settings.folder + 'store/' + group + '.json').then(function (data) { storeData[group] = data; });
    stores[group].catch(function () { delete stores[group]; });
  }
  return stores[group];
}

/* The pages whose title has every word of the query at the start of one of its words (anywhere,
 * in a language written without spaces), shortest titles first. */
function suggestions(text) {
  var folded = language.fold(text);
  var segmented = language.isSegmented(code);
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

/* How many (page, field) pairs of a shard have the term, as lunr counts for its idf (counted once
 * per shard and term: every result of a query asks again). */
function postings(shard, term) {
  if (!shard.postings) shard.postings = new Map();
  if (shard.postings.has(term)) return shard.postings.get(term);
  var posting = shard.index.invertedIndex[term];
  var n = 0;
  if (posting) for (var field in posting) if (field !== '_index') n += Object.keys(posting[field]).length;
  shard.postings.set(term, n);
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
  var parts = language.queryTerms(lunr, code, text, known);
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
    var out = language.queryTerms(lunr, code, word, known).terms;
    stems.set(word, out.length ? out[0] : '');
  }
  return stems.get(word);
}

/* The text's words and what lies between them: split on spaces, or, in a language written
 * without spaces, cut into words the way its queries are. */
function wordsOf(text) {
  if (!language.isSegmented(code)) return text.split(/(\s+)/);
  return language.pieces(code, text, known).map(function (piece) { return piece.segment; });
}

/* About 50 words of the text around the first matched one: [text, marked, text, marked, ...]
 * (even places plain, odd places the matched words), with "…" where the text goes on. */
function snippet(text, matched) {
  if (!text) return [];
  var words = wordsOf(text);
  var isMatch = function (w) { return /\S/.test(w) && matched.has(stem(w)); };
  var first = words.findIndex(isMatch);
  var start = Math.max(0, (first < 0 ? 0 : first) - 12);
  var out = [start > 0 ? '… ' : ''];
  words.slice(start, start + 50).forEach(function (word) {
    if (isMatch(word)) out.push(word, '');
    else out[out.length - 1] += word;
  });
  if (start + 50 < words.length) out[out.length - 1] += ' …';
  return out;
}
