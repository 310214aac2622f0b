/* Satchel's service worker. Built by `satchel build` (builder/assets.py, builder/service_worker.py):
 * esbuild bundles it with the parts of workbox it imports (from the pinned npm packages) into one
 * minified sw.js, then workbox-cli injectManifest turns the manifest placeholder into the list of
 * app-shell files. __SATCHEL_CORE__ becomes the script it shares with the page (idb, progress,
 * packs; named by its hash, so the browser's HTTP cache gives it the page's copy), __SATCHEL_BUILD__
 * the build's content hash. Nothing is loaded from another origin.
 *
 * Caches:
 *  - workbox precache: the app shell (style, scripts, the header's icon, the offline pages);
 *  - satchel-files and satchel-packs: the subjects the learner keeps on the device, written by the
 *    page and read here through theme/assets/satchel/packs.js;
 *  - satchel-media: a subject's videos, audio, PDFs and EPUBs (assets/media/<hash>.<ext>), kept whole
 *    once their sha256 matched, by URL (media.js downloads them in parts, by Range); answered here
 *    with Range (partial() below), so a <video> seeks on the device;
 *  - satchel-visited: pages the learner opened while online, as a bonus when offline;
 *  - satchel-languages-<build>: the script of each language the learner uses, kept when a page of it
 *    asks (app.js): the precache holds none, so a first visit downloads only its own language's.
 */
import { cleanupOutdatedCaches, matchPrecache, precacheAndRoute } from 'workbox-precaching';
import { registerRoute } from 'workbox-routing';

// Sending progress to a school hub and serving kept subjects, the page's way (progress-sync.js, packs.js).
importScripts('__SATCHEL_CORE__');

const VISITED_CACHE = 'satchel-visited';
const LANGUAGE_CACHE = 'satchel-languages-__SATCHEL_BUILD__';
// What a page may ask to keep: a language's script (docs/security.md).
const KEEPABLE = /^assets\/satchel\/lang\/[\w-]+\.[0-9a-f]{10}\.js$/;
const scope = new URL(self.registration.scope);
const packs = new SatchelPacks(scope.href);

precacheAndRoute(self.__WB_MANIFEST, { directoryIndex: 'index.html', ignoreURLParametersMatching: [/.*/] });
cleanupOutdatedCaches();

/** The language a URL belongs to: 'fr' for <scope>fr/..., '' for the default language. */
const LANGUAGES = __SATCHEL_LANGUAGES__;  // the folders of the languages but the default one

function languageOf(url) {
  const first = url.pathname.slice(scope.pathname.length).split('/')[0];
  return LANGUAGES.includes(first) ? first : '';
}

/* The offline page of the URL's language, answered at the URL the learner asked for: a <base>
 * makes its relative links (styles, home) resolve as they do at its own address. */
async function offlinePage(url) {
  const language = languageOf(url);
  const path = language ? `${language}/_offline/` : '_offline/';
  const page = await matchPrecache(`${path}index.html`);
  if (!page) return undefined;
  const html = (await page.text()).replace('<head>', `<head><base href="${new URL(path, scope).href}">`);
  return new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } });
}

const packLists = new URL('satchel/packs/', scope).href;

/* Pack lists say what the current version is: always asked of the network first. */
registerRoute(
  ({ request, url }) => request.method === 'GET' && url.href.startsWith(packLists),
  async ({ request }) => {
    try {
      return await fetch(request);
    } catch (error) {
      return (await caches.match(request, { ignoreSearch: true })) || Response.error();
    }
  }
);

const mediaRoot = new URL('assets/media/', scope).href;

/* The part of a kept media file a Range header asks for (one range: what <video> and <audio> ask),
 * as workbox-range-requests answers it: 'bytes=a-b', 'bytes=a-', 'bytes=-n'; 416 when it is past
 * the end. Written out here rather than bundled: the library is 400 bytes of the first install's
 * 40 KB (tests/test_bundle.py), this is a fraction of it. */
async function partial(range, response) {
  const blob = await response.blob();
  const size = blob.size;
  const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  const start = m && m[1] ? Number(m[1]) : m && m[2] ? Math.max(0, size - Number(m[2])) : NaN;
  const end = m && m[1] && m[2] ? Math.min(Number(m[2]) + 1, size) : size;
  if (!(start < end)) return new Response('', { status: 416, headers: { 'content-range': `bytes */${size}` } });
  return new Response(blob.slice(start, end), { status: 206, headers: {
    'content-type': response.headers.get('content-type') || '', 'content-length': String(end - start),
    'content-range': `bytes ${start}-${end - 1}/${size}`, 'accept-ranges': 'bytes' } });
}

/* Media (docs/bundle.md, "Media"): the device's copy, with Range (a <video> asks for bytes=0- and
 * then for where the learner seeks); else the network; offline and not kept, a 503 the page's
 * media.js turns into "not on this phone" (the poster and captions come with the pages). */
registerRoute(
  ({ request, url }) => request.method === 'GET' && url.href.startsWith(mediaRoot),
  async ({ request }) => {
    if (request.headers.has('x-satchel-download')) return fetch(request);
    // Captions and posters live under assets/media/ too, kept with the lessons (packs.js files).
    const kept = (await packs.matchMedia(request.url)) || (await packs.match(request.url));
    if (kept) return request.headers.has('range') ? partial(request.headers.get('range'), kept) : kept;
    try {
      return await fetch(request);
    } catch (error) {
      return new Response('', { status: 503 });
    }
  }
);

registerRoute(
  ({ request, url }) => request.method === 'GET' && url.origin === self.location.origin && url.href.startsWith(scope.href),
  async ({ request, url }) => {
    // Downloads of packs (theme/assets/satchel/packs.js) want the published file, not our copy.
    if (request.headers.has('x-satchel-download')) return fetch(request);
    const kept = await packs.match(request.url);
    if (kept) return kept;
    const cached = await caches.match(request, { ignoreSearch: true });
    if (cached) return cached;
    try {
      const response = await fetch(request);
      if (request.mode === 'navigate' && response.ok) {
        const copy = response.clone();
        caches.open(VISITED_CACHE).then((cache) => cache.put(request, copy));
      }
      return response;
    } catch (error) {
      if (request.mode === 'navigate') return (await offlinePage(url)) || Response.error();
      throw error;
    }
  }
);

self.addEventListener('install', () => {
  // The first install takes control at once; an update waits for the learner's "Update now".
  if (!self.registration.active) self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    await caches.delete(VISITED_CACHE); // pages of the previous version
    for (const name of await caches.keys()) {
      if (name.startsWith('satchel-lang-')) await caches.delete(name); // packs format 1
      if (name.startsWith('satchel-languages-') && name !== LANGUAGE_CACHE) await caches.delete(name); // a previous version's
    }
    await self.clients.claim();
  })());
});

/* Background Sync: the page asked for it when an upload found no network. The progress database
 * is the page's; if the page never made it, there is nothing to send. */
self.addEventListener('sync', (event) => {
  if (event.tag !== 'satchel-upload') return;
  event.waitUntil((async () => {
    const version = await (await matchPrecache('satchel/version.json')).json();
    const name = `satchel-${version.curriculum}`;
    if (!(await indexedDB.databases()).some((d) => d.name === name)) return;
    const db = await idb.openDB(name);
    try {
      const result = await satchelSync(db, { id: version.curriculum, version: version.version });
      if (result.status === 'offline') throw new Error('still offline: the browser will try again');
    } finally {
      db.close();
    }
  })());
});

/* Web Push from the hub (hub/push.py): "new lessons" in the learner's language. Tapping it opens
 * the app on that language's home, which brings the subjects on the device up to date. */
self.addEventListener('push', (event) => {
  let message = {};
  try {
    message = event.data ? event.data.json() : {};
  } catch (error) {
    message = { body: event.data.text() };
  }
  const target = new URL(message.url || './', scope);
  const url = target.href;
  const language = languageOf(target);
  event.waitUntil((async () => {
    let about = {};
    try {  // the browser's copy of the language's manifest, else the hub's
      about = await (await fetch(new URL(`${language ? language + '/' : ''}manifest.webmanifest`, scope).href)).json();
    } catch (error) { /* the notification goes without the language's name */ }
    await self.registration.showNotification(message.title || about.name || 'Satchel', {
      body: message.body || '',
      tag: message.tag || 'satchel',
      icon: new URL('icons/icon-192.png', scope).href,
      lang: about.lang || '',
      dir: about.dir || 'auto',
      data: { url },
    });
  })());
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || scope.href;
  event.waitUntil((async () => {
    for (const client of await self.clients.matchAll({ type: 'window' })) {
      if (client.url.startsWith(scope.href) && 'navigate' in client) {
        await client.focus();
        return client.navigate(url);
      }
    }
    return self.clients.openWindow(url);
  })());
});

/* Keep a language's script (sent by app.js on every page once the worker is active). Only this
 * bundle's own language scripts are taken; the copy the page has just loaded usually comes from
 * the browser's HTTP cache. */
async function keepLanguage(urls) {
  const cache = await caches.open(LANGUAGE_CACHE);
  for (const url of Array.isArray(urls) ? urls.slice(0, 4) : []) {
    if (typeof url !== 'string' || !url.startsWith(scope.href) || !KEEPABLE.test(url.slice(scope.href.length))) continue;
    if (!(await cache.match(url))) await cache.add(url).catch(() => {});
  }
}

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'SKIP_WAITING') self.skipWaiting();
  if (event.data && event.data.type === 'satchel-packs-changed') packs.forget();
  if (event.data && event.data.type === 'satchel-keep-language') event.waitUntil(keepLanguage(event.data.urls));
  if (event.data && event.data.type === 'satchel-claim') event.waitUntil(self.clients.claim());
});
