/* What the pages show of a learner's progress: meters, done marks, the lesson's finish box, the
 * unit's Start link, the home page's guide and the learner's button in the header.
 *
 * Loaded without `defer` at the end of <body>: it paints the current learner's last known
 * progress from a copy in localStorage (synchronous, unlike IndexedDB) before the page is first
 * shown, so nothing moves when progress.js reads the real summary a moment later and paints it
 * again through `satchelPaint.paint`. The copy is only ever a picture: IndexedDB holds the truth.
 * Needs progress-model.js (loaded just before) and common.js. */
(function () {
  'use strict';
  var M = window.satchelProgressModel;
  var C = window.satchelCommon;
  var config = window.satchelCommon.config;
  var strings = config.progress.strings;
  var curriculum = config.progress.curriculum;
  var lesson = config.progress.lesson;  // {id, title, quiz} on lesson pages
  var root = new URL(document.querySelector('meta[name="satchel-root"]').content, location.href);
  var CURRENT = 'satchel-profile-' + curriculum.id;
  var SHOWN = 'satchel-shown-' + curriculum.id;
  /* The home page's guide (Continue, Next lesson) needs every lesson in order: the language's outline
   * (satchel/outline/<code>.json, config.outline), fetched only for a learner with progress: with
   * none, the guide the page was built with is the right one. The last guide shown is kept with the
   * copy in localStorage, so a returning learner sees theirs before the outline arrives. */
  var guideBox = document.querySelector('[data-satchel-guide]');
  var outline = null;
  var outlineLoading = null;
  var built = guideBox && guideBox.querySelector('[data-satchel-next]');
  var firstGuide = built ? { resume: null, finished: false, retired: [],
                             next: built.hidden ? null : { url: built.href, title: built.querySelector('strong').textContent } } : null;
  var lastGuide = null;
  var painted = 0;  // which paint is the latest: an outline arriving late paints only the latest state
  var guided = Promise.resolve();  // settled once the guide shows the latest state (or cannot yet)

  function done(state, id) {
    var l = M.own(state.lessons, id);
    return !!(l && l.completed);
  }

  /* A meter's lesson ids (theme/_meter.html): what they all start with (data-satchel-in) and the
   * rest of each, or "+", the lessons of the unit meters below it in its card. */
  function meterIds(meter) {
    if (meter.dataset.satchelLessons === '+') {
      var units = meter.closest('.satchel-card').querySelectorAll('.satchel-units [data-satchel-lessons]');
      return [].concat.apply([], Array.from(units).map(meterIds));
    }
    var prefix = meter.dataset.satchelIn || '';
    return meter.dataset.satchelLessons.split(' ').map(function (id) { return prefix + id; });
  }

  function paint(state, guide) {
    document.querySelectorAll('[data-satchel-lessons]').forEach(function (meter) {
      var c = M.count(state, meterIds(meter));
      meter.querySelector('progress').value = c.total ? c.done / c.total : 0;
      meter.querySelector('span').textContent = C.format(strings.count, c);
    });
    document.querySelectorAll('[data-satchel-lesson]').forEach(function (link) {
      link.classList.toggle('satchel-done', done(state, link.dataset.satchelLesson));
    });
    var start = document.querySelector('[data-satchel-start]');
    if (start) {
      // The unit's Start opens the first of its lessons not done yet (all done: the first again).
      var lessons = Array.from(document.querySelectorAll('.satchel-lessons [data-satchel-lesson]'));
      var todo = lessons.filter(function (a) { return !done(state, a.dataset.satchelLesson); })[0] || lessons[0];
      if (todo) start.href = todo.href;
    }
    var finish = document.querySelector('[data-satchel-finish]');
    if (finish && lesson) {
      var finished = done(state, lesson.id);
      var button = finish.querySelector('[data-satchel-finish-button]');
      if (button) button.hidden = finished;
      finish.querySelector('[data-satchel-finish-done]').hidden = !finished;
      finish.querySelector('[data-satchel-finish-quiz]').hidden = finished || !lesson.quiz;
    }
    if (guideBox) paintGuideFor(state, guide);
  }

  /* The guide for `state`: at once when it can be known now (no progress, or the outline is here),
   * else `meanwhile` (the one kept from last time) until the outline arrives. */
  function paintGuideFor(state, meanwhile) {
    var turn = ++painted;
    guided = Promise.resolve();
    if (!Object.keys(state.lessons).length) return paintGuide(firstGuide);
    if (outline) return paintGuide(M.guide(state, outline));
    if (meanwhile) paintGuide(meanwhile);
    outlineLoading = outlineLoading || fetch(new URL(config.outline, root).href).then(function (response) {
      if (!response.ok) throw new Error('outline: HTTP ' + response.status);
      return response.json();
    });
    guided = outlineLoading.then(function (lessons) {
      outline = lessons;
      if (turn === painted) { paintGuide(M.guide(state, outline)); keep(); }
    }).catch(function (error) {
      outlineLoading = null;  // offline, or not on the device: the guide painted stays, next page tries again
      console.warn('Satchel: the guide waits for the lesson list:', error);
    });
  }

  function paintGuide(g) {
    var box = guideBox;
    lastGuide = { language: config.language, guide: g };
    function link(selector, target) {
      var a = box.querySelector(selector);
      a.hidden = !target;
      if (target) { a.href = new URL(target.url, root).href; a.querySelector('strong').textContent = target.title; }
    }
    link('[data-satchel-resume]', g.resume);
    link('[data-satchel-next]', g.next);
    box.querySelector('[data-satchel-finished]').hidden = !g.finished;
    var retired = box.querySelector('[data-satchel-retired]');
    retired.hidden = !g.retired.length;
    C.fill(retired.querySelector('ul'), g.retired.map(function (r) {
      var li = document.createElement('li');
      li.textContent = r.title + (r.completed ? ' ✓' : '');
      return li;
    }));
  }

  /* The learner's button in the header: picture, colour and name (or "Who is learning?"). */
  function showProfile(profile) {
    var button = document.querySelector('[data-satchel-profile-open]');
    var avatar = button.querySelector('[data-satchel-avatar]');
    avatar.textContent = profile ? profile.picture : '👤';
    avatar.style.backgroundColor = profile ? profile.colour : '';
    button.querySelector('[data-satchel-profile-name]').textContent = profile ? profile.name : strings.who;
  }

  /* Paint what was read from IndexedDB, and keep the picture for the next page. The count of
   * statements painted is left on <html> (data-satchel-progress) for tests and benchmarks. */
  var shown = null;
  function show(profile, state) {
    showProfile(profile);
    paint(state);
    document.documentElement.dataset.satchelProgress = String(state.count);
    shown = { profile: profile, state: state };
    keep();
  }

  function keep() {
    if (!shown) return;
    try {
      if (shown.profile) localStorage.setItem(SHOWN, JSON.stringify({ profile: shown.profile, state: shown.state, guide: lastGuide }));
      else localStorage.removeItem(SHOWN);
    } catch (error) { /* a full disk: the next page paints a moment later, nothing is lost */ }
  }

  var kept = null;
  try { kept = JSON.parse(localStorage.getItem(SHOWN)); } catch (error) { kept = null; }
  if (kept && kept.profile && kept.state && kept.profile.id === localStorage.getItem(CURRENT)) {
    var keptGuide = kept.guide && kept.guide.language === config.language ? kept.guide.guide : null;
    try { showProfile(kept.profile); paint(kept.state, keptGuide); } catch (error) { console.warn('Satchel: progress shown late:', error); }
  } else {
    showProfile(null);
  }

  window.satchelPaint = { show: show, paint: paint, guided: function () { return guided; } };
}());
