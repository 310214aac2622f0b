/* Learner progress on the device: profiles, the events a learner makes, and what the pages show
 * of them. Storage is IndexedDB through the vendored `idb` wrapper; the rules (statements,
 * derived state, merging, the progress file) are in progress-model.js. docs/progress.md tells the
 * whole story.
 *
 * Database `satchel-<curriculum id>`:
 *   profiles    {id, name, colour, picture, created}
 *   statements  {id, profile, statement}          one per event, never changed; index 'profile'
 *   summaries   {profile, state}                  derived state, updated in the same transaction
 *   pending     {id, profile, lesson, language, title, seconds, updated}
 *               time spent on the open lesson, saved every second; it becomes an 'experienced'
 *               statement when the page is hidden or closed, or at the next start after a crash.
 *   outbox      {id, profile}                     statements not yet on a hub (progress-sync.js)
 *   keys        {profile, privateKey, publicKey}  the learner's key on this device (progress-identity.js):
 *               the private key is a CryptoKey that cannot be read out; ids and files are made with it */
(function () {
  'use strict';

  var C = window.satchelCommon;
  var fill = C.fill;
  var format = C.format;
  var M = window.satchelProgressModel;
  var ID = window.satchelIdentity;
  var root = new URL(document.querySelector('meta[name="satchel-root"]').content, location.href);
  var config = window.satchelCommon.config;
  var strings = config.progress.strings;
  var curriculum = config.progress.curriculum;
  var lesson = config.progress.lesson;  // {id, title, quiz} on lesson pages
  var CURRENT = 'satchel-profile-' + curriculum.id;
  var PICTURES = ['🦁', '🐘', '🦒', '🐢', '🐟', '🦋', '🐦', '🌻', '⭐', '🚀', '⚽', '🎵'];
  var COLOURS = ['#1f6f5c', '#1565c0', '#6a1b9a', '#c62828', '#ef6c00', '#2e7d32', '#5d4037', '#37474f'];
  var TICK_MS = 1000;
  var SYNC_DELAY_MS = 1500;
  var LOCK = 'satchel-time-';
  var JOURNAL = 'satchel-journal-' + curriculum.id + '-';
  var WELCOMED = 'satchel-welcomed';  // set once a child of this device was asked their name
  var welcome = function () { return null; };  // the first run's question (setUpDialog)

  var dbPromise = null;
  function db() {
    if (!dbPromise) {
      dbPromise = idb.openDB('satchel-' + curriculum.id, 3, {
        upgrade: function (database, oldVersion, newVersion, transaction) {
          function make(name, options, index) {
            if (database.objectStoreNames.contains(name)) return null;
            var made = database.createObjectStore(name, options);
            if (index) made.createIndex(index, index);
            return made;
          }
          make('profiles', { keyPath: 'id' });
          make('statements', { keyPath: 'id' }, 'profile');
          make('summaries', { keyPath: 'profile' });
          make('pending', { keyPath: 'id' });
          make('keys', { keyPath: 'profile' });  // version 3: learners' keys
          // Version 2: the outbox of statements not yet on a hub; what was recorded before waits there too.
          if (make('outbox', { keyPath: 'id' }) && oldVersion >= 1) {
            transaction.objectStore('statements').openCursor().then(function copy(cursor) {
              if (!cursor) return;
              transaction.objectStore('outbox').put({ id: cursor.value.id, profile: cursor.value.profile });
              return cursor.continue().then(copy);
            });
          }
        },
        blocking: function () { dbPromise.then(function (d) { d.close(); }); dbPromise = null; },
      });
    }
    return dbPromise;
  }

  // Profiles

  async function profiles() {
    var list = await (await db()).getAll('profiles');
    return list.sort(function (a, b) { return a.created < b.created ? -1 : a.created > b.created ? 1 : 0; });
  }

  async function currentProfile() {
    var id = localStorage.getItem(CURRENT);
    var found = id ? await (await db()).get('profiles', id) : null;
    if (found) return found;
    var all = await profiles();
    if (all.length) { localStorage.setItem(CURRENT, all[0].id); return all[0]; }
    return null;
  }

  /* The learner whose progress this is; on a device with none yet (the welcome was skipped), a
   * learner is made, so a child who never opened the profiles still keeps every step. */
  async function learner() {
    return (await currentProfile()) || createAnonymous();
  }

  /* A learner who gave no name: a picture and colour picked at random, named after the picture
   * ("Giraffe"), so that a class's dashboard is not a column of identical names. */
  function createAnonymous() {
    var i = Math.floor(Math.random() * PICTURES.length);
    var names = pictureNames();
    var name = names[i] || format(strings.default_name, { n: i + 1 });
    return createProfile(name, PICTURES[i], COLOURS[Math.floor(Math.random() * COLOURS.length)]);
  }

  function pictureNames() {
    return String(strings.picture_names || '').split('|').map(function (n) { return n.trim(); });
  }

  /* A new learner, with a key made on this device; their id is derived from the key, unless it
   * is given (a learner loaded from another device's file keeps theirs). Without WebCrypto (a
   * page over plain http) the learner has no key, and their files are unsigned. */
  async function createProfile(name, picture, colour, id) {
    var key = ID.available ? await ID.makeKey() : null;
    var profile = { id: id || (key ? await ID.learnerId(key.publicKey) : M.uuid()), name: name, picture: picture, colour: colour,
                    created: new Date().toISOString() };
    var tx = (await db()).transaction(['profiles', 'keys'], 'readwrite');
    tx.objectStore('profiles').put(profile);
    if (key) tx.objectStore('keys').put({ profile: profile.id, privateKey: key.privateKey, publicKey: key.publicKey });
    await tx.done;
    localStorage.setItem(CURRENT, profile.id);
    return profile;
  }

  /* The learner's key on this device, made now for a learner from before keys. */
  var keyCache = new Map();
  async function keyOf(profileId) {
    if (!ID.available) return null;
    if (keyCache.has(profileId)) return keyCache.get(profileId);
    var d = await db();
    var found = await d.get('keys', profileId);
    if (!found) {
      var key = await ID.makeKey();
      found = { profile: profileId, privateKey: key.privateKey, publicKey: key.publicKey };
      var tx = d.transaction('keys', 'readwrite');
      var raced = await tx.store.get(profileId);  // another tab made one meanwhile: keep the first
      if (raced) found = raced; else tx.store.put(found);
      await tx.done;
    }
    keyCache.set(profileId, found);
    return found;
  }

  /* A new statement id: bound to the learner's key when there is one. */
  async function newId(profileId) {
    var key = await keyOf(profileId);
    return key ? ID.statementId(key.publicKey) : M.uuid();
  }

  async function removeProfile(id) {
    var d = await db();
    var tx = d.transaction(['profiles', 'statements', 'summaries', 'pending', 'outbox', 'keys'], 'readwrite');
    var cursor = await tx.objectStore('statements').index('profile').openKeyCursor(IDBKeyRange.only(id));
    while (cursor) { tx.objectStore('statements').delete(cursor.primaryKey); cursor = await cursor.continue(); }
    tx.objectStore('profiles').delete(id);
    tx.objectStore('summaries').delete(id);
    tx.objectStore('keys').delete(id);
    keyCache.delete(id);
    for (var name of ['pending', 'outbox']) {
      for (var p of await tx.objectStore(name).getAll()) if (p.profile === id) tx.objectStore(name).delete(p.id);
    }
    await tx.done;
    if (localStorage.getItem(CURRENT) === id) localStorage.removeItem(CURRENT);
  }

  // Events

  /* Store statements (those already known by id are skipped) and bring the learner's summary up
   * to date, in one transaction: either all of it is saved or none. Returns how many were new.
   * A few statements (what a learner just did) are first written to a journal in localStorage,
   * which is synchronous: if the page is closed before the transaction commits, the next start
   * stores them (storing twice changes nothing). An import is not journaled: its file remains. */
  async function store(profileId, statements, extra) {
    var journal = statements.length && statements.length <= 50 ? JOURNAL + statements[0].id : null;
    if (journal) {
      try { localStorage.setItem(journal, JSON.stringify({ profile: profileId, statements: statements })); } catch (e) { journal = null; }
    }
    var d = await db();
    var tx = d.transaction(['statements', 'summaries', 'pending', 'outbox'], 'readwrite');
    var summaries = tx.objectStore('summaries');
    var outbox = tx.objectStore('outbox');
    var kept = tx.objectStore('statements');
    var added = 0;
    var summary;
    try {
      summary = await summaries.get(profileId) || { profile: profileId, state: M.emptyState() };
      // Many statements (an import): one read of every key beats a read per statement.
      var known = statements.length > 50 ? new Set(await kept.getAllKeys()) : null;
      for (var s of statements) {
        if (known ? known.has(s.id) : await kept.getKey(s.id) !== undefined) continue;
        if (known) known.add(s.id);
        M.apply(summary.state, s, curriculum.id);  // first: a statement it cannot take is written nowhere
        kept.add({ id: s.id, profile: profileId, statement: s });
        outbox.put({ id: s.id, profile: profileId });
        added++;
      }
      if (added) summaries.put(summary);
      if (extra) extra(tx);
    } catch (error) {
      tx.abort();  // all or nothing: what was queued in this transaction is not written
      throw error;
    }
    await tx.done;
    if (journal) localStorage.removeItem(journal);
    if (added) { persistOnce(); syncSoon(); }
    return { added: added, known: statements.length - added, state: summary.state };
  }

  /* Sending to the school hub (progress-sync.js): soon after new progress, at start, and when the
   * device is back online. Offline, the service worker is asked to try again by itself. */
  var syncTimer = null;
  var syncing = null;

  function syncSoon() {
    clearTimeout(syncTimer);
    syncTimer = setTimeout(syncNow, SYNC_DELAY_MS);
  }

  async function syncNow() {
    if (syncing) return syncing;
    syncing = (async function () {
      var result = await window.satchelSync(await db(), curriculum);
      if (result.status === 'offline' && navigator.serviceWorker) {
        var registration = await navigator.serviceWorker.getRegistration();
        if (registration && registration.sync) registration.sync.register('satchel-upload').catch(function () {});
      }
      if (result.status === 'refused') console.warn('Satchel: the hub refused progress:', result.reason);
      document.documentElement.dataset.satchelSync = result.status;
      return result;
    }());
    try { return await syncing; } finally { syncing = null; }
  }

  /* Statements journaled by a page that closed before storing them. */
  async function replayJournal() {
    for (var i = localStorage.length - 1; i >= 0; i--) {
      var key = localStorage.key(i);
      if (key && key.indexOf(JOURNAL) === 0) {
        var entry = null;
        try { entry = JSON.parse(localStorage.getItem(key)); } catch (e) { console.warn('Satchel: unreadable journal entry', key); }
        if (entry) await store(entry.profile, entry.statements);
        localStorage.removeItem(key);
      }
    }
  }

  /* The first progress asks the browser not to clear this site's storage when space runs low. */
  function persistOnce() {
    if (!navigator.storage || !navigator.storage.persist || localStorage.getItem('satchel-persist-asked')) return;
    localStorage.setItem('satchel-persist-asked', '1');
    navigator.storage.persist().then(function (granted) { document.documentElement.dataset.satchelPersisted = String(granted); });
  }

  async function summary(profileId) {
    var found = await (await db()).get('summaries', profileId);
    return found ? found.state : M.emptyState();
  }

  /* The current learner and their summary, in one read: what every page draws first. */
  async function currentWithSummary() {
    var id = localStorage.getItem(CURRENT);
    if (id) {
      var tx = (await db()).transaction(['profiles', 'summaries']);
      var found = await Promise.all([tx.objectStore('profiles').get(id), tx.objectStore('summaries').get(id)]);
      if (found[0]) return { profile: found[0], state: found[1] ? found[1].state : M.emptyState() };
    }
    var profile = await currentProfile();
    return { profile: profile, state: profile ? await summary(profile.id) : M.emptyState() };
  }

  async function statementsOf(profileId) {
    var records = await (await db()).getAllFromIndex('statements', 'profile', profileId);
    return records.map(function (r) { return r.statement; });
  }

  async function event(profile, verb, extra) {
    return M.statement(Object.assign({ id: await newId(profile.id), verb: verb, curriculum: curriculum.id, profile: profile.id,
                                       lesson: lesson && lesson.id, language: config.language, title: lesson && lesson.title }, extra));
  }

  /* Time spent: while the lesson is on screen, its seconds are saved every second; a hidden or
   * closed page turns them into one 'experienced' statement. */
  var session = null;

  async function tick() {
    if (!session || !session.record.id) return;
    session.record.seconds = Math.round((Date.now() - session.since) / 1000);
    session.record.updated = Date.now();
    await (await db()).put('pending', session.record);
  }

  function startSession(profile) {
    if (session || document.visibilityState !== 'visible') return;
    session = { since: Date.now(), record: { id: null, profile: profile.id, lesson: lesson.id, language: config.language,
                                             title: lesson.title, seconds: 0, updated: Date.now() } };
    session.timer = setInterval(tick, TICK_MS);
    var held = session;
    newId(profile.id).then(function (id) {
      held.record.id = id;
      // While this page lives it holds a lock named after its record: a record nobody holds is an orphan.
      if (navigator.locks && !held.ended) {
        navigator.locks.request(LOCK + id, function () { return new Promise(function (resolve) { held.release = resolve; }); });
      }
    });
  }

  async function endSession() {
    if (!session) return;
    var ended = session;
    session = null;
    ended.ended = true;
    clearInterval(ended.timer);
    if (ended.release) ended.release();
    if (!ended.record.id) ended.record.id = await newId(ended.record.profile);
    ended.record.seconds = Math.round((Date.now() - ended.since) / 1000);
    await settle(ended.record);
  }

  /* A pending record becomes a statement whose id is the record's: settling twice stores once. */
  async function settle(record) {
    var statements = record.seconds >= 1 ? [M.statement({
      id: record.id, verb: 'experienced', curriculum: curriculum.id, profile: record.profile, lesson: record.lesson,
      language: record.language, title: record.title, result: { duration: 'PT' + Math.min(record.seconds, M.MAX_SECONDS) + 'S' },
      timestamp: new Date(record.updated).toISOString() })] : [];
    await store(record.profile, statements, function (tx) { tx.objectStore('pending').delete(record.id); });
  }

  /* Pages closed without warning (a tab swiped away, a dead battery) left their time pending. */
  async function settleOrphans() {
    var live = navigator.locks ? (await navigator.locks.query()).held.map(function (l) { return l.name; }) : null;
    var stale = (await (await db()).getAll('pending')).filter(function (p) {
      return live ? live.indexOf(LOCK + p.id) < 0 : Date.now() - p.updated > 3 * TICK_MS;
    });
    for (var record of stale) await settle(record);
    return stale.length;
  }

  function trackTime(profile) {
    startSession(profile);
    document.addEventListener('visibilitychange', function () {
      if (document.visibilityState === 'visible') startSession(profile); else endSession();
    });
    window.addEventListener('pagehide', function () { endSession(); });
  }

  /* A checked quiz: an answer per question, passed or failed, and, when every quiz of the lesson
   * is passed, the lesson completed: all stored together. */
  async function onQuiz(profile, detail, quizNumber) {
    var scaled = detail.total ? Math.round(detail.score / detail.total * 1000) / 1000 : 0;
    var passed = scaled >= M.PASS_MARK;
    var events = await Promise.all(detail.results.map(function (value, n) {
      return event(profile, 'answered', { quiz: quizNumber, question: n,
        result: { score: { scaled: value, raw: value, min: 0, max: 1 }, success: value === 1 } });
    }));
    events.push(await event(profile, passed ? 'passed' : 'failed', { quiz: quizNumber,
      result: { score: { scaled: scaled, raw: detail.score, min: 0, max: detail.total }, success: passed, completion: true } }));
    var after = JSON.parse(JSON.stringify(lastState || M.emptyState()));
    events.forEach(function (e) { M.apply(after, e, curriculum.id); });
    var quizzes = document.querySelectorAll('form[data-satchel-quiz]').length;
    var l = M.own(after.lessons, lesson.id);
    if (!(l && l.completed) && M.quizzesPassed(after, lesson.id, quizzes)) {
      events.push(await event(profile, 'completed', { result: { completion: true } }));
    }
    show(await store(profile.id, events));
  }

  // What the pages show (paint.js draws it)

  var lastState = null;
  var shownProfile = null;

  function show(result) {
    lastState = result.state;
    window.satchelPaint.show(shownProfile, lastState);
  }

  function showProfile(profile) {
    shownProfile = profile;
    window.satchelPaint.show(profile, lastState || M.emptyState());
  }

  // The profiles dialog: switch, add, rename, remove, save and load progress.

  function setUpDialog() {
    var dialog = document.querySelector('[data-satchel-profiles]');
    var list = dialog.querySelector('[data-satchel-profile-list]');
    var form = dialog.querySelector('[data-satchel-profile-form]');
    var status = dialog.querySelector('[data-satchel-profile-status]');
    var confirmBox = dialog.querySelector('[data-satchel-remove-confirm]');
    var editing = null;

    function choices(name, values, selected, label, names) {
      var box = form.querySelector('[data-satchel-' + name + 's]');
      fill(box, values.map(function (value, i) {
        var input = document.createElement('input');
        input.type = 'radio';
        input.name = name;
        input.value = value;
        input.checked = value === selected || (!selected && i === 0);
        input.setAttribute('aria-label', (names && names[i]) || label + ' ' + C.number(i + 1));
        // The face follows the input, so CSS marks the chosen one with `input:checked + span`.
        var face = document.createElement('span');
        face.className = 'satchel-choice__face';
        face.setAttribute('aria-hidden', 'true');
        if (name === 'colour') face.style.backgroundColor = value; else face.textContent = value;
        var wrap = document.createElement('label');
        wrap.className = 'satchel-choice';
        wrap.append(input, face);
        return wrap;
      }));
    }

    async function refresh() {
      var all = await profiles();
      var current = await currentProfile();
      showProfile(current);
      fill(list, all.map(function (p) {
        var li = document.createElement('li');
        var b = document.createElement('button');
        b.type = 'button';
        b.className = 'satchel-profile-choice';
        b.dataset.profile = p.id;
        if (current && p.id === current.id) b.setAttribute('aria-current', 'true');
        var avatar = document.createElement('span');
        avatar.className = 'satchel-avatar';
        avatar.style.backgroundColor = p.colour;
        avatar.textContent = p.picture;
        b.append(avatar, p.name);
        b.addEventListener('click', function () { localStorage.setItem(CURRENT, p.id); location.reload(); });
        li.append(b);
        return li;
      }));
      dialog.querySelectorAll('[data-satchel-needs-profile]').forEach(function (el) { el.hidden = !current; });
      var synced = dialog.querySelector('[data-satchel-synced]');
      synced.textContent = current && current.synced
        ? format(strings.synced, { when: new Date(current.synced).toLocaleString(config.language) }) : strings.not_synced;
      var refused = dialog.querySelector('[data-satchel-refused]');
      refused.hidden = !(current && current.refused);
      refused.textContent = current && current.refused ? current.refused : '';
      form.hidden = true;
      confirmBox.hidden = true;
      return current;
    }

    function openForm(profile, first) {
      editing = profile;
      form.hidden = false;
      form.querySelector('[data-satchel-form-title]').textContent = first ? strings.welcome : profile ? strings.edit : strings.add;
      form.querySelector('[data-satchel-welcome]').hidden = !first;
      form.querySelector('[data-satchel-form-skip]').hidden = !first;
      form.querySelector('[data-satchel-form-cancel]').hidden = !!first;
      form.elements.name.value = profile ? profile.name : '';
      choices('picture', PICTURES, profile && profile.picture, strings.picture, pictureNames());
      choices('colour', COLOURS, profile && profile.colour, strings.colour, String(strings.colour_names || '').split('|'));
      form.elements.name.focus();
    }

    /* The first run: on a device with no learner yet, the child is asked their name and picture
     * (or skips). Answered with the learner made; once answered, never asked again here. */
    var welcoming = null;
    welcome = function () {
      if (localStorage.getItem(WELCOMED)) return null;
      return new Promise(function (resolve) {
        welcoming = resolve;
        status.textContent = '';
        refresh().then(function () {
          dialog.showModal();
          openForm(null, true);
        });
      });
    };
    async function welcomed(profile) {
      localStorage.setItem(WELCOMED, '1');
      var answer = welcoming;
      welcoming = null;
      if (dialog.open) dialog.close();
      showProfile(profile);
      if (answer) answer(profile);
    }
    form.querySelector('[data-satchel-form-skip]').addEventListener('click', async function () {
      welcomed(await createAnonymous());
    });
    dialog.addEventListener('close', function () {  // Escape, or the Close button: skipped too
      if (welcoming) createAnonymous().then(welcomed).catch(report);
    });

    document.querySelector('[data-satchel-profile-open]').addEventListener('click', async function () {
      status.textContent = '';
      var current = await refresh();
      dialog.showModal();
      if (!current) openForm(null);
    });
    dialog.querySelector('[data-satchel-profile-add]').addEventListener('click', function () { openForm(null); });
    dialog.querySelector('[data-satchel-profile-edit]').addEventListener('click', async function () { openForm(await currentProfile()); });
    form.querySelector('[data-satchel-form-cancel]').addEventListener('click', function () { form.hidden = true; });
    form.addEventListener('submit', async function (e) {
      e.preventDefault();
      var name = form.elements.name.value.trim().slice(0, 60);
      if (!name) return;
      var picture = form.elements.picture.value, colour = form.elements.colour.value;
      if (editing) {
        await (await db()).put('profiles', Object.assign({}, editing, { name: name, picture: picture, colour: colour }));
        await refresh();
      } else {
        var made = await createProfile(name, picture, colour);
        if (welcoming) welcomed(made); else location.reload();
      }
    });
    dialog.querySelector('[data-satchel-profile-remove]').addEventListener('click', async function () {
      var current = await currentProfile();
      confirmBox.hidden = false;
      confirmBox.querySelector('p').textContent = format(strings.remove_confirm, { name: current.name });
      confirmBox.querySelector('[data-satchel-remove-no]').focus();
    });
    confirmBox.querySelector('[data-satchel-remove-no]').addEventListener('click', function () { confirmBox.hidden = true; });
    confirmBox.querySelector('[data-satchel-remove-yes]').addEventListener('click', async function () {
      await removeProfile((await currentProfile()).id);
      location.reload();
    });
    dialog.querySelector('[data-satchel-profiles-close]').addEventListener('click', function () { dialog.close(); });
    var enrol = dialog.querySelector('[data-satchel-enrol-form]');
    enrol.addEventListener('submit', async function (e) {
      e.preventDefault();
      var code = enrol.elements.code.value.replace(/[^0-9A-Za-z]/g, '').toUpperCase();
      if (!code) return;
      var current = await currentProfile();
      await (await db()).put('profiles', Object.assign({}, current, { enrolment: code }));
      enrol.elements.code.value = '';
      status.textContent = strings.class_code_saved;
      await syncNow().catch(report);
      await refresh();
    });
    dialog.querySelector('[data-satchel-export]').addEventListener('click', async function () {
      var profile = await currentProfile();
      var data = M.file(curriculum.id, curriculum.version, profile, await statementsOf(profile.id));
      var blob = new Blob([await window.satchelSync.fileText(await db(), data, profile.id)], { type: 'application/json' });
      var a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = 'progress-' + profile.name.replace(/[^\p{L}\p{M}\p{N}]+/gu, '-') + '-' + data.exported.slice(0, 10) + '.json';
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(a.href); }, 10000);
      status.textContent = format(strings.exported, { n: data.statements.length });
    });
    dialog.querySelector('[data-satchel-import-open]').addEventListener('click', function () {
      dialog.querySelector('[data-satchel-import]').click();
    });
    dialog.querySelector('[data-satchel-import]').addEventListener('change', async function (e) {
      var chosen = e.target.files[0];
      e.target.value = '';
      if (!chosen) return;
      status.textContent = await importFile(chosen);
      await refresh();
    });
  }

  /* Load a progress file into the profile it belongs to (made on this device if new). A file is
   * checked whole before anything is written, then written in one transaction. */
  async function importFile(chosen) {
    if (chosen.size > M.MAX_FILE_BYTES) return format(strings.too_big, { size: C.size(chosen.size) });
    var data, text;
    try { text = await chosen.text(); data = JSON.parse(text); } catch (error) { return strings.foreign; }
    var problem = M.checkFile(data, curriculum.id) || await checkIdentity(text, data);
    if (problem) {
      return format(strings[problem.reason], { version: problem.detail, id: problem.detail, detail: problem.detail });
    }
    try {
      var p = data.profile;
      var mine = await (await db()).get('profiles', p.id);
      if (!mine) await createProfile(p.name, p.picture, p.colour, p.id);
      localStorage.setItem(CURRENT, p.id);
      var result = await store(p.id, data.statements);
      show(result);
      return format(strings.imported, { name: p.name, added: result.added, known: result.known });
    } catch (error) {
      return failure(error);
    }
  }

  /* A signed file must be rightly signed, and every statement made with a key must be the file's
   * key's: a copy of someone else's progress under another name is refused before anything is
   * written. (An unsigned file, saved before learners had keys, is taken as it is.) */
  async function checkIdentity(text, data) {
    if (!ID.available) return null;
    var signed = await ID.checkSignature(text, data);
    if (signed === false) return { reason: 'statement', detail: strings.tampered || 'signature' };
    for (var i = 0; i < data.statements.length; i++) {
      var id = data.statements[i].id;
      if ((ID.isKeyed(id) && !(signed && await ID.isBound(id, data.profile.key))) || (ID.isKeyed(data.profile.id) && !ID.isKeyed(id))) {
        return { reason: 'statement', detail: (i + 1) + ': ' + (strings.not_theirs || 'id') };
      }
    }
    return null;
  }

  async function start() {
    performance.mark('satchel-progress');
    setUpDialog();
    await replayJournal();
    var first = await currentWithSummary();
    var profile = first.profile;
    lastState = first.state;
    showProfile(profile);
    performance.measure('satchel-progress-shown', 'satchel-progress');  // benchmarks/progress.py reads it
    // Time left by pages that closed without saving it: counted now, then drawn again.
    if (await settleOrphans() && profile) show({ state: await summary(profile.id) });
    window.addEventListener('online', function () { syncNow().catch(report); });
    syncNow().catch(function (error) { console.warn('Satchel: sending progress failed:', error); });
    var welcomed = profile ? null : welcome();
    if (!lesson) return;
    profile = (await welcomed) || await learner();
    showProfile(profile);
    show(await store(profile.id, [await event(profile, 'launched')]));
    trackTime(profile);
    // A lesson with a quiz has no finish button: it is finished by passing its quizzes (onQuiz).
    var finish = document.querySelector('[data-satchel-finish-button]');
    if (finish && !lesson.quiz) {
      finish.addEventListener('click', async function () {
        show(await store(profile.id, [await event(profile, 'completed', { result: { completion: true } })]));
      });
    }
    var forms = Array.from(document.querySelectorAll('form[data-satchel-quiz]'));
    document.addEventListener('satchel:quiz', function (e) {
      onQuiz(profile, e.detail, forms.indexOf(e.target)).catch(report);
    });
  }

  function report(error) {
    console.error('Satchel progress:', error);
    var box = document.querySelector('[data-satchel-progress-error]');
    if (box) { box.hidden = false; box.textContent = failure(error); }
  }

  /* What to tell the learner when progress could not be written. */
  function failure(error) {
    return format(strings.failed, { reason: error.name === 'QuotaExceededError' ? strings.full : error.message });
  }

  /* Watching the lesson's video number `n` (media.js): one statement of the xAPI Video Profile, stored
   * like every other (then sent to the hub), for the current learner. */
  async function video(verb, n, result) {
    var profile = await learner();
    show(await store(profile.id, [await event(profile, verb, { video: n, result: result })]));
  }

  // For tests and benchmarks: the same functions the pages use.
  window.satchelProgress = { db: db, store: store, summary: summary, statementsOf: statementsOf, currentProfile: currentProfile, keyOf: keyOf,
                             createProfile: createProfile, importFile: importFile, sync: syncNow, video: video, ready: null };
  window.satchelProgress.ready = start().catch(report);
}());
