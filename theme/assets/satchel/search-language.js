/* The text pipeline of Satchel's search, shared by the build (Node, which writes the index) and
 * the browser (which queries it): the same code on both sides, so a word that is in a lesson finds
 * that lesson. Per language: lower case, diacritics folded, Arabic normalised, then lunr-languages'
 * trimmer, stop words and stemmer where it has them; a plain Unicode trimmer for the others
 * (Tetum, Shona, Albanian...). */
(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.satchelSearchLanguage = factory();
}(this, function () {
  'use strict';

  /* Languages whose lunr-languages file needs nothing but lunr.stemmer.support. */
  var STEMMED = ['ar', 'da', 'de', 'es', 'fi', 'fr', 'hu', 'it', 'nl', 'no', 'pt', 'ro', 'ru', 'sv', 'tr'];

  function base(code) { return String(code).toLowerCase().split(/[-_]/)[0]; }

  function hasStemmer(code) { return STEMMED.indexOf(base(code)) >= 0 || base(code) === 'en'; }

  /* Lower case; Latin, Greek and Cyrillic accents and Arabic short vowels, hamza marks and tatweel
   * removed; Arabic letter variants unified (alef forms, alef maqsura, ta marbuta). */
  function fold(text) {
    return String(text).toLowerCase().normalize('NFD')
      .replace(/[\u0300-\u036f\u064b-\u065f\u0670\u0640]/g, '')
      .replace(/\u0671/g, '\u0627').replace(/\u0649/g, '\u064a').replace(/\u0629/g, '\u0647')
      .normalize('NFC');
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
  }

  /* The functions a language's words go through, at index time. */
  function indexPipeline(lunr, code) {
    install(lunr);
    var b = base(code);
    if (b === 'en') return [lunr.satchelFold, lunr.satchelTrimmer, lunr.stopWordFilter, lunr.stemmer];
    if (STEMMED.indexOf(b) >= 0 && lunr[b]) return [lunr.satchelFold, lunr[b].trimmer, lunr[b].stopWordFilter, lunr[b].stemmer];
    return [lunr.satchelFold, lunr.satchelTrimmer];
  }

  /* Set up a lunr.Builder for `code` (used by the build). */
  function configure(lunr, builder, code) {
    var fns = indexPipeline(lunr, code);
    builder.pipeline.reset();
    builder.searchPipeline.reset();
    fns.forEach(function (fn) { builder.pipeline.add(fn); });
    builder.searchPipeline.add(fns[fns.length - 1]);
  }

  /* The terms of a query, through the same pipeline as the index: [{term, prefix}], where
   * `prefix` is the folded last word as typed (for matches while the learner is still typing). */
  function queryTerms(lunr, code, text) {
    var pipeline = new lunr.Pipeline();
    indexPipeline(lunr, code).forEach(function (fn) { pipeline.add(fn); });
    var tokens = lunr.tokenizer(String(text).slice(0, 200)).slice(0, 12);
    var terms = pipeline.run(tokens).map(String).filter(function (t) { return t; });
    var last = tokens.length ? fold(tokens[tokens.length - 1].toString()).replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '') : '';
    return { terms: terms, prefix: last.length >= 2 ? last : '' };
  }

  return { fold: fold, install: install, configure: configure, queryTerms: queryTerms, hasStemmer: hasStemmer,
           base: base, STEMMED: STEMMED };
}));
