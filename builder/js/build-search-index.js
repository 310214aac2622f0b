/* Build Satchel's search indexes with lunr.js, in the build's Node environment.
 *   node build-search-index.js DOCUMENTS.json OUTPUT_DIR
 * DOCUMENTS.json: {"<code>": [{"ref", "title", "trail", "body", "subject"}], ...}. Writes one index per
 * subject, OUTPUT_DIR/<code>/index/<subject>.json:
 *   {"refs": [page ids], "index": the serialised lunr index}
 * which the browser loads with lunr.Index.load, without building anything. A shard holds only its
 * subject's pages, so editing a lesson changes only its subject's file; the browser puts the shards'
 * scores on one scale (search.js, score()), since each shard's idf counts only its own pages. Inside the index a page
 * is named by its position in "refs" in base 36 ("0", "1", ... "rs"): every term lists the pages
 * it is in, and short names make the file a third of the size and as much faster to parse. */
'use strict';
const fs = require('fs');
const path = require('path');
// The pinned npm packages live in the build's cache (builder/nodejs.py), not beside this script.
const modules = process.env.SATCHEL_NODE_MODULES;
const lunr = require(path.join(modules, 'lunr'));
const language = require(path.join(__dirname, '..', '..', 'theme', 'assets', 'satchel', 'search-language.js'));

require(path.join(modules, 'lunr-languages', 'lunr.stemmer.support'))(lunr);

/* Field vectors hold floats with 15 digits; 2 decimals rank as well and cost a third less than 3
 * (brotli), which is most of what a first query downloads. A weight never rounds down to nothing. */
function rounded(serialised) {
  serialised.fieldVectors = serialised.fieldVectors.map(([ref, vector]) =>
    [ref, vector.map((value, i) => (i % 2 ? Math.max(0.01, Math.round(value * 100) / 100) : value))]);
  return serialised;
}

const [input, output] = process.argv.slice(2);
const documents = JSON.parse(fs.readFileSync(input, 'utf8'));
for (const [code, docs] of Object.entries(documents)) {
  const b = language.base(code);
  if (language.isSegmented(code) && !language.hasSegmenter()) {
    throw new Error(`${code} is written without spaces between words: its index needs Intl.Segmenter, a Node.js with full ICU`);
  }
  if (language.STEMMED.includes(b) && !lunr[b]) require(path.join(modules, 'lunr-languages', `lunr.${b}`))(lunr);
  const subjects = new Map();
  docs.forEach((doc) => {
    if (!subjects.has(doc.subject)) subjects.set(doc.subject, []);
    subjects.get(doc.subject).push(doc);
  });
  const target = path.join(output, code, 'index');
  fs.mkdirSync(target, { recursive: true });
  for (const [subject, pages] of subjects) {
    const index = lunr(function () {
      language.configure(lunr, this, code);
      this.ref('ref');
      this.field('title', { boost: 8 });
      this.field('trail', { boost: 2 });
      this.field('body');
      pages.forEach((doc, i) => this.add({ ref: i.toString(36), title: doc.title, trail: doc.trail, body: doc.body }));
    });
    const data = { refs: pages.map((doc) => doc.ref), index: rounded(index.toJSON()) };
    fs.writeFileSync(path.join(target, `${subject}.json`), JSON.stringify(data));
  }
}
