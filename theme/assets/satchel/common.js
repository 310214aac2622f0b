/* What every learner script shares: the page's language, and its words and numbers as that
 * language writes them. `format` is builder/strings.py's `render` in the browser: a string is a
 * text, or a mapping of CLDR plural categories ({one: ..., other: ...}, `other` required) with an
 * optional `plural` naming the value that chooses the form (default `n`). The floor is Chrome 80;
 * a browser without a piece of Intl gets plain digits and English units, never an error. */
(function () {
  'use strict';

  var language = document.documentElement.lang || 'en';
  /* The scripts' settings and words: the language's (its script, assets/satchel/lang/<code>.<hash>.js,
   * sets satchelLanguage) with this page's own few (the #satchel-page JSON) merged in. */
  var page = document.getElementById('satchel-page');
  var config = window.satchelLanguage || { progress: {} };
  config.progress.lesson = (page ? JSON.parse(page.textContent) : {}).lesson || null;
  // The app's dialogs (theme/dialogs.html), closed, before any other script looks for them.
  if (config.dialogs && !document.querySelector('[data-satchel-profiles]')) document.body.insertAdjacentHTML('beforeend', config.dialogs);
  var UNITS = ['byte', 'kilobyte', 'megabyte', 'gigabyte'];
  var PLAIN_UNITS = ['B', 'kB', 'MB', 'GB'];
  var formatters = {};
  var rules;

  /* An Intl object for this language, made once; null when the browser cannot make it. */
  function intl(key, make) {
    if (!(key in formatters)) {
      try { formatters[key] = make(); } catch (error) { formatters[key] = null; }
    }
    return formatters[key];
  }

  /* Empty `box` and put `nodes` in it (Element.replaceChildren needs Chrome 86). */
  function fill(box, nodes) {
    box.textContent = '';
    (nodes || []).forEach(function (node) { box.append(node); });
  }

  function number(n) {
    var formatter = intl('number', function () { return new Intl.NumberFormat(language); });
    return formatter ? formatter.format(n) : String(n);
  }

  /* Bytes in B, kB, MB or GB (powers of 1000, as the pack lists count them), one decimal at most. */
  function size(bytes) {
    var value = Number(bytes) || 0;
    var i = 0;
    while (Math.round(value * 10) / 10 >= 1000 && i < UNITS.length - 1) { value /= 1000; i++; }
    var formatter = intl(UNITS[i], function () {
      var made = new Intl.NumberFormat(language, { style: 'unit', unit: UNITS[i], unitDisplay: 'short', maximumFractionDigits: 1 });
      return made.resolvedOptions().style === 'unit' ? made : null;  // an older Intl may ignore the unit
    });
    if (formatter) return formatter.format(value);
    return (Math.round(value * 10) / 10) + ' ' + PLAIN_UNITS[i];
  }

  function category(n) {
    if (rules === undefined) rules = intl('plural', function () { return new Intl.PluralRules(language); });
    if (rules) return rules.select(n);
    return n === 1 ? 'one' : 'other';
  }

  /* `spec` filled with `values`: the plural form its counted value chooses, numbers as the
   * language writes them. A placeholder without a value is left as it is. */
  function format(spec, values) {
    values = values || {};
    var text = spec;
    if (spec && typeof spec === 'object') {
      var counted = values[spec.plural || 'n'];
      text = (typeof counted === 'number' && spec[category(counted)]) || spec.other;
    }
    return String(text).replace(/\{(\w+)\}/g, function (placeholder, key) {
      if (!Object.prototype.hasOwnProperty.call(values, key)) return placeholder;
      var value = values[key];
      return typeof value === 'number' ? number(value) : String(value);
    });
  }

  /* Run the app's script assets/satchel/<name>.js once (it comes with the language's shared part,
   * builder/bundle.py ON_DEMAND); a load that failed (offline, and not on the device) is tried again
   * next time. */
  var loaded = {};
  function script(name) {
    if (!loaded[name]) {
      loaded[name] = new Promise(function (resolve, reject) {
        var tag = document.createElement('script');
        tag.src = new URL('assets/satchel/' + name + '.js', new URL(document.querySelector('meta[name="satchel-root"]').content, location.href)).href;
        tag.onload = resolve;
        tag.onerror = function () { tag.remove(); delete loaded[name]; reject(new Error(tag.src)); };
        document.head.appendChild(tag);
      });
    }
    return loaded[name];
  }

  /* Bytes this site may still store, or null when the browser does not say. */
  async function freeSpace() {
    if (!navigator.storage || !navigator.storage.estimate) return null;
    var estimate = await navigator.storage.estimate();
    return typeof estimate.quota === 'number' ? Math.max(0, estimate.quota - (estimate.usage || 0)) : null;
  }

  window.satchelCommon = { config: config, language: language, fill: fill, number: number, size: size, format: format,
                           script: script, freeSpace: freeSpace };
}());
