/* The learner app's scripts and stylesheet, minified, in the build's Node environment.
 *   node bundle-assets.js SPEC.json
 * SPEC.json: {
 *   "scripts": {"<name>": [source files, in the order they run]},  -> OUT/<name>.js
 *   "styles": {"purge": [material's CSS], "keep": [Satchel's own CSS]},  -> OUT/style.css
 *   "content": [files whose words say which selectors are used], "words": "more such words",
 *   "worker": service_worker/sw.js, -> OUT/sw.js, with the workbox modules it imports
 *   "target": "chrome80", "out": OUT }
 * Each script is its sources joined (each is a self-contained IIFE using window globals), then
 * minified by esbuild for the browser floor. The stylesheet is material's CSS with the rules no
 * template, script or page can use removed by PurgeCSS, then Satchel's own CSS (never purged: its
 * class names are sometimes built in scripts), minified by esbuild. Same input, same bytes. */
'use strict';
const fs = require('fs');
const path = require('path');
const modules = process.env.SATCHEL_NODE_MODULES;
const esbuild = require(path.join(modules, 'esbuild'));
const { PurgeCSS } = require(path.join(modules, 'purgecss'));

async function main() {
  const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const read = (file) => fs.readFileSync(file, 'utf8');
  for (const [name, files] of Object.entries(spec.scripts)) {
    const source = files.map((file) => `/* ${path.basename(file)} */\n${read(file)}`).join(';\n');
    const result = await esbuild.transform(source, { minify: true, target: spec.target, loader: 'js', charset: 'utf8', legalComments: 'none' });
    fs.writeFileSync(path.join(spec.out, `${name}.js`), result.code);
  }
  await esbuild.build({
    entryPoints: [spec.worker], outfile: path.join(spec.out, 'sw.js'), bundle: true, format: 'iife', minify: true,
    target: spec.target, charset: 'utf8', legalComments: 'none', nodePaths: [modules], logLevel: 'error',
    define: { 'process.env.NODE_ENV': '"production"' },  // workbox without its development logging
  });
  const content = spec.content.map((file) => ({ raw: read(file), extension: path.extname(file).slice(1) || 'html' }));
  content.push({ raw: spec.words, extension: 'html' });
  const purged = await new PurgeCSS().purge({
    content,
    css: spec.styles.purge.map((file) => ({ raw: read(file) })),
    // Kept whatever the words say: the page's root rules. Variables no kept rule reads go too:
    // Satchel's own stylesheet reads material's, so they are kept by name.
    safelist: { standard: [/^:root$/, /^html$/, /^body$/], variables: spec.variables.map((name) => new RegExp(`^${name}$`)) },
    variables: true,
    keyframes: true,
    fontFace: true,
  });
  const css = purged.map((r) => r.css).join('\n') + '\n' + spec.styles.keep.map(read).join('\n');
  const result = await esbuild.transform(css, { minify: true, target: spec.target, loader: 'css', charset: 'utf8', legalComments: 'none' });
  fs.writeFileSync(path.join(spec.out, 'style.css'), result.code);
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
