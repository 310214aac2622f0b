/* Sends learners' progress to the school hub, when there is one at this origin (docs/hub.md:
 * POST /api/progress). The page runs it at start, after new progress, and when the device comes
 * back online; the service worker runs it on a Background Sync event where the browser has them.
 *
 * Every new statement's id waits in the 'outbox' store until the hub answers 200; a reply that
 * never arrives only means the statements are sent again, and the hub stores each id once. A
 * server without a hub (a CDN answers 404 or 405) leaves the outbox as it is. Files are signed by
 * the learner's key on this device (progress-identity.js); a class code the learner typed goes
 * with them until the hub has taken it. A 409 means the hub holds some of these ids with other
 * content: it stored the rest and keeps those aside for the teacher, so they are sent. A 401 or
 * 403 (the hub does not know this device's key for the learner) keeps the outbox, and the reason
 * is shown in the learners dialog.
 *
 * Every byte costs money: once this origin answered "no hub", the page remembers it
 * (localStorage) and first asks with an empty file (a few hundred bytes) before sending the
 * outbox (up to 380 KB); a hub answers that with a 4xx of its own, a CDN again with 404. */
(function (global) {
  'use strict';
  var BATCH = 500;  // statements per upload: about 380 KB, well under the hub's limit
  var NO_HUB = [404, 405, 501];

  var NO_HUB_SEEN = 'satchel-no-hub';

  function sameOrigin(path) { return new URL(path, global.location.origin).href; }

  /* localStorage where there is one (a page; not the service worker). */
  function remember(key, value) {
    try {
      if (!global.localStorage) return null;
      if (value === undefined) return global.localStorage.getItem(key);
      if (value === null) global.localStorage.removeItem(key); else global.localStorage.setItem(key, value);
    } catch (error) { /* storage refused: ask in full next time */ }
    return null;
  }

  /* Whether a hub may answer at this origin: yes, unless it said "no hub" before and still does
   * to an empty file. Throws when offline. */
  async function hubHere() {
    if (!remember(NO_HUB_SEEN)) return true;
    var probe = await fetch(sameOrigin('/api/progress'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    return NO_HUB.indexOf(probe.status) < 0;
  }

  /* The text of a progress file: signed by the learner's key when the device has one. */
  async function fileText(db, data, profileId) {
    var ID = global.satchelIdentity;
    var key = ID && ID.available && db.objectStoreNames.contains('keys') ? await db.get('keys', profileId) : null;
    if (!key) return JSON.stringify(data);
    data.profile.key = key.publicKey;
    return ID.signedText(data, key);
  }

  /* Upload what waits in the outbox of database `db` (an idb database). Returns
   * {sent, status}: status is 'done', 'nothing', 'no-hub', 'offline' or 'refused'. */
  async function sync(db, curriculum) {
    var M = global.satchelProgressModel;
    if (!db.objectStoreNames.contains('outbox')) return { sent: 0, status: 'nothing' };
    var waiting = await db.getAll('outbox');
    if (!waiting.length) return { sent: 0, status: 'nothing' };
    try {
      if (!(await hubHere())) return { sent: 0, status: 'no-hub' };
    } catch (error) {
      return { sent: 0, status: 'offline' };
    }
    var byProfile = new Map();
    waiting.forEach(function (w) { (byProfile.get(w.profile) || byProfile.set(w.profile, []).get(w.profile)).push(w.id); });
    var sent = 0;
    for (var entry of byProfile) {
      var profile = await db.get('profiles', entry[0]);
      if (!profile) continue;
      for (var i = 0; i < entry[1].length; i += BATCH) {
        var ids = entry[1].slice(i, i + BATCH);
        var records = await Promise.all(ids.map(function (id) { return db.get('statements', id); }));
        var statements = records.filter(Boolean).map(function (r) { return r.statement; });
        var response;
        var headers = { 'content-type': 'application/json' };
        if (profile.enrolment) headers['satchel-enrolment'] = profile.enrolment;
        try {
          response = await fetch(sameOrigin('/api/progress'), {
            method: 'POST', headers: headers,
            body: await fileText(db, M.file(curriculum.id, curriculum.version, profile, statements), profile.id),
          });
        } catch (error) {
          return { sent: sent, status: 'offline' };
        }
        if (NO_HUB.indexOf(response.status) >= 0) {
          remember(NO_HUB_SEEN, '1');
          return { sent: sent, status: 'no-hub' };
        }
        remember(NO_HUB_SEEN, null);
        if (!response.ok && response.status !== 409) {
          var reason = (await response.text()).slice(0, 300);
          try { reason = JSON.parse(reason).error || reason; } catch (e) { /* not JSON: as it came */ }
          await note(db, profile.id, { refused: reason });
          return { sent: sent, status: 'refused', reason: reason };
        }
        var tx = db.transaction(['outbox', 'profiles'], 'readwrite');
        ids.forEach(function (id) { tx.objectStore('outbox').delete(id); });
        var fresh = await tx.objectStore('profiles').get(profile.id);
        if (fresh) {
          delete fresh.refused;
          delete fresh.enrolment;  // taken: the hub knows this device now
          tx.objectStore('profiles').put(Object.assign(fresh, { synced: new Date().toISOString() }));
        }
        await tx.done;
        sent += statements.length;
      }
    }
    return { sent: sent, status: 'done' };
  }

  async function note(db, profileId, change) {
    var tx = db.transaction('profiles', 'readwrite');
    var fresh = await tx.store.get(profileId);
    if (fresh) tx.store.put(Object.assign(fresh, change));
    await tx.done;
  }

  sync.fileText = fileText;
  global.satchelSync = sync;
}(typeof self !== 'undefined' ? self : this));
