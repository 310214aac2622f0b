/* The text pipeline of Satchel's search, shared by the build (Node, which writes the index) and
 * the browser (which queries it): the same code on both sides, so a word that is in a lesson finds
 * that lesson. Per language: lower case, diacritics folded, Arabic normalised, then lunr-languages'
 * trimmer, stop words and stemmer where it has them; a plain Unicode trimmer for the others
 * (Tetum, Shona, Albanian...). Languages written without spaces between words (Japanese, Chinese,
 * Thai, Lao, Khmer, Burmese) are first cut into words by Intl.Segmenter; a browser without it
 * cuts the query by the longest words the index knows. */
(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.satchelSearchLanguage = factory();
}(this, function () {
  'use strict';

  /* Languages whose lunr-languages file needs nothing but lunr.stemmer.support. */
  var STEMMED = ['ar', 'da', 'de', 'es', 'fi', 'fr', 'hu', 'it', 'nl', 'no', 'pt', 'ro', 'ru', 'sv', 'tr'];

  function base(code) { return String(code).toLowerCase().split(/[-_]/)[0]; }

  function hasStemmer(code) { return STEMMED.indexOf(base(code)) >= 0 || base(code) === 'en'; }

  /* Languages written without spaces between words: Intl.Segmenter (ICU's dictionaries) cuts their
   * text into words, the same way in the build's Node and in the browser. */
  var SEGMENTED = ['ja', 'zh', 'th', 'lo', 'km', 'my'];
  /* A word no longer than this many UTF-16 units, for the longest-match cut. */
  var LONGEST_WORD = 24;
  var UNSPACED = /[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Thai}\p{scx=Lao}\p{scx=Khmer}\p{scx=Myanmar}]/u;
  var WORD_CHAR = /[\p{L}\p{M}\p{N}]/u;
  var EDGES = /^[^\p{L}\p{M}\p{N}]+|[^\p{L}\p{M}\p{N}]+$/gu;

  function isSegmented(code) { return SEGMENTED.indexOf(base(code)) >= 0; }

  /* Lower case; Latin, Greek and Cyrillic accents and Arabic short vowels, hamza marks and tatweel
   * removed; Arabic letter variants unified (alef forms, alef maqsura, ta marbuta). */
  function fold(text) {
    return String(text).toLowerCase().normalize('NFD')
      .replace(/[\u0300-\u036f\u064b-\u065f\u0670\u0640]/g, '')
      .replace(/\u0671/g, '\u0627').replace(/\u0649/g, '\u064a').replace(/\u0629/g, '\u0647')
      .normalize('NFC');
  }

  var segmenters = {};

  /* The language's Intl.Segmenter, or null where there is none (Chrome before 87). */
  function segmenterFor(code) {
    if (typeof Intl === 'undefined' || typeof Intl.Segmenter !== 'function') return null;
    var tag = String(code).replace(/_/g, '-');
    if (!segmenters[tag]) {
      try { segmenters[tag] = new Intl.Segmenter(tag, { granularity: 'word' }); }
      catch (error) { segmenters[tag] = new Intl.Segmenter(base(code), { granularity: 'word' }); }
    }
    return segmenters[tag];
  }

  /* The index term of a word in a segmented language: folded, and trimmed of what is not a letter,
   * a mark or a digit (Thai, Khmer and Burmese words may end in a vowel sign or a virama). */
  function scriptTerm(word) { return fold(word).replace(EDGES, ''); }

  /* Cut `text` by the longest words `known` (term -> boolean) accepts; letters that start no known
   * word stay together as one unknown word. Returns pieces covering the text:
   * [{segment, index, isWordLike}]. */
  function longestMatch(text, known) {
    var pieces = [];
    var folded = fold(text);
    var same = folded.length === text.length;  // then the folded text can be cut where the text is
    var unknown = -1;
    function flush(at) { if (unknown >= 0) pieces.push({ segment: text.slice(unknown, at), index: unknown, isWordLike: true }); unknown = -1; }
    var i = 0;
    while (i < text.length) {
      if (!WORD_CHAR.test(text[i]) && !/[\ud800-\udbff]/.test(text[i])) {
        flush(i);
        var last = pieces[pieces.length - 1];
        if (last && !last.isWordLike && last.index + last.segment.length === i) last.segment += text[i];
        else pieces.push({ segment: text[i], index: i, isWordLike: false });
        i += 1;
        continue;
      }
      var end = i;  // a word never runs past a space or a punctuation mark
      while (end < text.length && end < i + LONGEST_WORD && (WORD_CHAR.test(text[end]) || /[\ud800-\udfff]/.test(text[end]))) end++;
      var found = 0;
      for (var j = end; known && j > i; j--) {
        if (/[\udc00-\udfff]/.test(text[j] || '')) continue;  // never cut a surrogate pair
        if (known(same ? folded.slice(i, j) : scriptTerm(text.slice(i, j)))) { found = j; break; }
      }
      if (found) {
        flush(i);
        pieces.push({ segment: text.slice(i, found), index: i, isWordLike: true });
        i = found;
      } else {
        if (unknown < 0) unknown = i;
        i += /[\ud800-\udbff]/.test(text[i]) ? 2 : 1;
      }
    }
    flush(text.length);
    return pieces;
  }

  /* The words and what lies between them, covering `text`, in a segmented language: Intl.Segmenter's
   * cut where the browser has it; then, where the index's vocabulary is given (`known`), each run of
   * words it does not know is joined and cut again by the longest words it does know (the browser's
   * ICU may cut finer or coarser than the build's); without Intl.Segmenter, that longest-match cut
   * alone. */
  function pieces(code, text, known) {
    text = String(text);
    var segmenter = segmenterFor(code);
    if (!segmenter) return longestMatch(text, known);
    var out = [];
    var run = null;  // adjacent words the index does not know: [start, end]
    function flush() {
      if (!run) return;
      var start = run[0];
      longestMatch(text.slice(start, run[1]), known).forEach(function (p) {
        out.push({ segment: p.segment, index: start + p.index, isWordLike: p.isWordLike });
      });
      run = null;
    }
    Array.from(segmenter.segment(text)).forEach(function (s) {
      if (known && s.isWordLike && UNSPACED.test(s.segment) && !known(scriptTerm(s.segment))) {
        if (run && run[1] === s.index) run[1] = s.index + s.segment.length;
        else { flush(); run = [s.index, s.index + s.segment.length]; }
        return;
      }
      flush();
      out.push({ segment: s.segment, index: s.index, isWordLike: !!s.isWordLike });
    });
    flush();
    return out;
  }

  /* lunr's tokens, with each token in a script written without spaces cut into its words. */
  function segmentedTokens(lunr, code, text, metadata, known) {
    var out = [];
    lunr.tokenizer(text, metadata).forEach(function (token) {
      var str = token.toString();
      if (!UNSPACED.test(str)) { out.push(token); return; }
      pieces(code, str, known).forEach(function (piece) {
        if (!piece.isWordLike) return;
        var meta = lunr.utils.clone(token.metadata) || {};
        if (meta.position) meta.position = [meta.position[0] + piece.index, piece.segment.length];
        meta.index = out.length;
        out.push(new lunr.Token(piece.segment, meta));
      });
    });
    return out;
  }

  var installed = false;

  /* Register Satchel's pipeline functions with lunr (once), and split words on apostrophes too
   * (French l'eau, d'une). */
  function install(lunr) {
    if (installed) return;
    installed = true;
    lunr.tokenizer.separator = /[\s\-'\u2019\u060c\u061b\u061f.,;:!?()"\u00ab\u00bb]+/;
    lunr.satchelFold = function (token) { return token.update(fold); };
    lunr.Pipeline.registerFunction(lunr.satchelFold, 'satchel-fold');
    lunr.satchelTrimmer = function (token) {
      return token.update(function (s) { return s.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, ''); });
    };
    lunr.Pipeline.registerFunction(lunr.satchelTrimmer, 'satchel-trimmer');
    lunr.satchelScriptTrimmer = function (token) { return token.update(function (s) { return s.replace(EDGES, ''); }); };
    lunr.Pipeline.registerFunction(lunr.satchelScriptTrimmer, 'satchel-script-trimmer');
  }

  /* The functions a language's words go through, at index time. */
  function indexPipeline(lunr, code) {
    install(lunr);
    var b = base(code);
    if (b === 'en') return [lunr.satchelFold, lunr.satchelTrimmer, lunr.stopWordFilter, lunr.stemmer];
    if (STEMMED.indexOf(b) >= 0 && lunr[b]) return [lunr.satchelFold, lunr[b].trimmer, lunr[b].stopWordFilter, lunr[b].stemmer];
    if (isSegmented(b)) return [lunr.satchelFold, lunr.satchelScriptTrimmer];
    return [lunr.satchelFold, lunr.satchelTrimmer];
  }

  /* Set up a lunr.Builder for `code` (used by the build). */
  function configure(lunr, builder, code) {
    var fns = indexPipeline(lunr, code);
    builder.pipeline.reset();
    builder.searchPipeline.reset();
    fns.forEach(function (fn) { builder.pipeline.add(fn); });
    builder.searchPipeline.add(fns[fns.length - 1]);
    if (isSegmented(code)) builder.tokenizer = function (text, metadata) { return segmentedTokens(lunr, code, text, metadata, null); };
  }

  /* The terms of a query, through the same pipeline as the index: [{term, prefix}], where
   * `prefix` is the folded last word as typed (for matches while the learner is still typing).
   * `known` (term -> boolean, the index's vocabulary) lets a segmented language's query be cut by
   * the words the index knows. */
  function queryTerms(lunr, code, text, known) {
    var pipeline = new lunr.Pipeline();
    indexPipeline(lunr, code).forEach(function (fn) { pipeline.add(fn); });
    text = String(text).slice(0, 200);
    var tokens = (isSegmented(code) ? segmentedTokens(lunr, code, text, undefined, known || null) : lunr.tokenizer(text)).slice(0, 12);
    var terms = pipeline.run(tokens).map(String).filter(function (t) { return t; });
    var trim = isSegmented(code) ? EDGES : /^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu;
    var last = tokens.length ? fold(tokens[tokens.length - 1].toString()).replace(trim, '') : '';
    return { terms: terms, prefix: last.length >= 2 ? last : '' };
  }

  return { fold: fold, install: install, configure: configure, queryTerms: queryTerms, hasStemmer: hasStemmer,
           base: base, STEMMED: STEMMED, SEGMENTED: SEGMENTED, isSegmented: isSegmented, pieces: pieces,
           hasSegmenter: function () { return !!segmenterFor('en'); } };
}));
