/* Learner progress as events, in plain functions: no storage and no page here (progress.js has
 * those). Every event is an xAPI 2.0 statement with a UUID as its id. All state (lessons done,
 * best scores, time spent, what comes next) is derived from the events, and merging two copies is
 * a union by id, so nothing is ever counted twice or lost. The progress file is documented in
 * docs/progress.md; its JSON Schema is docs/progress.schema.json. */
(function (global) {
  'use strict';

  var FORMAT = 'satchel-progress';
  var FORMAT_VERSION = 2;  // 2: the learner's key and a signature (progress-identity.js)
  var PASS_MARK = 0.6;  // a quiz is passed with 60 % of its points
  var MAX_FILE_BYTES = 40 * 1000 * 1000;  // about 50,000 events (a statement is about 760 bytes)
  var ADL = 'http://adlnet.gov/expapi/verbs/';
  var VERBS = ['launched', 'experienced', 'answered', 'passed', 'failed', 'completed'];
  // Watching a lesson's video or audio: the xAPI Video Profile (https://w3id.org/xapi/video), whose
  // 'completed' is ADL's; its fraction watched is result.extensions[VIDEO_EXT + 'progress'].
  var VIDEO = 'https://w3id.org/xapi/video/';
  var VIDEO_VERBS = ['played', 'paused', 'seeked'];
  var VIDEO_EXT = VIDEO + 'extensions/';
  var ACTIVITY = 'http://adlnet.gov/expapi/activities/';
  var UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  var TIME_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$/;
  var DURATION_RE = /^PT(\d{1,5})S$/;
  var MAX_SECONDS = 86400;  // an 'experienced' statement is at most a day (the hub refuses more)
  var EARLIEST = Date.UTC(1970, 0, 1);
  var AHEAD_MS = 366 * 86400 * 1000;
  var KEY_RE = /^B[A-Za-z0-9_-]{86}$/;
  var ACTIVITY_RE = /^urn:satchel:[a-z0-9][a-z0-9-]*(:lesson:[a-z0-9][a-z0-9_-]*(\/[a-z0-9][a-z0-9_-]*)*(#quiz-[0-9]{1,4}(-[0-9]{1,4})?|#video-[0-9]{1,4})?)?$/;
  var ID_RE = /^[a-z0-9][a-z0-9-]*$/;
  var LESSON_RE = /^[a-z0-9][a-z0-9_-]*(\/[a-z0-9][a-z0-9_-]*)*$/;
  var COLOUR_RE = /^#[0-9a-f]{6}$/;

  function uuid() {
    if (global.crypto && global.crypto.randomUUID) return global.crypto.randomUUID();
    var b = global.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.from(b, function (x) { return x.toString(16).padStart(2, '0'); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  /* Maps keyed by lesson ids read only their own entries: a lesson id may be 'constructor'. */
  function own(map, key) { return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : undefined; }

  /* Identifiers. The learner is an account of the curriculum; a lesson's activity id is built from
   * the curriculum id and the lesson id, which stay the same across languages and versions. */
  function homePage(curriculum) { return 'urn:satchel:' + curriculum; }
  function lessonIri(curriculum, lesson) { return homePage(curriculum) + ':lesson:' + lesson; }

  /* 'urn:satchel:demo:lesson:maths/halves#quiz-0-2' -> 'maths/halves' (null if not this curriculum's). */
  function lessonOf(curriculum, iri) {
    var prefix = lessonIri(curriculum, '');
    if (typeof iri !== 'string' || iri.indexOf(prefix) !== 0) return null;
    var id = iri.slice(prefix.length).split('#')[0];
    return LESSON_RE.test(id) ? id : null;
  }

  /* One statement. `what` is {verb, curriculum, profile, lesson, language, title, quiz, question,
   * video, result, timestamp}; quiz and question numbers (from 0) name the activity inside a
   * lesson, and so does a video's (its place among the lesson's videos and audio, from 0). */
  function statement(what) {
    var id = lessonIri(what.curriculum, what.lesson);
    var type = 'lesson';
    var activityType = null;
    if (what.video !== undefined) {
      id += '#video-' + what.video;
      type = 'video';
      activityType = VIDEO + 'activity-type/video';
    } else if (what.quiz !== undefined) {
      id += '#quiz-' + what.quiz;
      type = 'assessment';
      if (what.question !== undefined) { id += '-' + what.question; type = 'cmi.interaction'; }
    }
    var object = { objectType: 'Activity', id: id, definition: { type: activityType || ACTIVITY + type } };
    if (what.title && type === 'lesson') {
      object.definition.name = {};
      object.definition.name[what.language] = what.title;
    }
    var context = { platform: 'Satchel', language: what.language,
                    contextActivities: { grouping: [{ objectType: 'Activity', id: homePage(what.curriculum) }] } };
    if (type !== 'lesson') context.contextActivities.parent = [{ objectType: 'Activity', id: lessonIri(what.curriculum, what.lesson) }];
    var s = {
      id: what.id || uuid(),
      actor: { objectType: 'Agent', account: { homePage: homePage(what.curriculum), name: what.profile } },
      verb: { id: (VIDEO_VERBS.indexOf(what.verb) >= 0 ? VIDEO + 'verbs/' : ADL) + what.verb, display: { en: what.verb } },
      object: object,
      context: context,
      timestamp: what.timestamp || new Date().toISOString(),
      version: '2.0.0',
    };
    if (what.result) s.result = what.result;
    return s;
  }

  function verbOf(s) { return s.verb.id.slice(s.verb.id.lastIndexOf('/') + 1); }
  function seconds(duration) { var m = DURATION_RE.exec(duration || ''); return m ? Number(m[1]) : 0; }

  /* Derived state. `apply` folds one statement in with operations that ignore order (or, sum, max),
   * so the state of a set of statements is the same whatever order they arrive in, and a stored
   * summary can be brought up to date one statement at a time. */
  function emptyState() { return { count: 0, lessons: {}, last: null }; }

  function apply(state, s, curriculum) {
    var lesson = lessonOf(curriculum, s.object.id);
    state.count += 1;
    if (!lesson) return state;
    var l = own(state.lessons, lesson) || (state.lessons[lesson] = {
      opened: false, seconds: 0, completed: false, attempts: 0, best: null, quizzes: {}, title: null, titleAt: '' });
    var verb = verbOf(s);
    var isQuiz = s.object.id.indexOf('#quiz-') >= 0;
    var isVideo = s.object.id.indexOf('#video-') >= 0;
    if (verb === 'launched') l.opened = true;
    if (verb === 'experienced') l.seconds += seconds(s.result && s.result.duration);
    if (verb === 'completed' && !isVideo) l.completed = true;  // a video watched does not finish its lesson
    var watched = isVideo && s.result && s.result.extensions && s.result.extensions[VIDEO_EXT + 'progress'];
    if (typeof watched === 'number' && watched >= 0 && watched <= 1) {
      // The most of each video watched (max: any order gives the same state).
      var n = s.object.id.split('#video-')[1];
      l.videos = l.videos || {};
      l.videos[n] = Math.max(own(l.videos, n) || 0, watched);
    }
    if ((verb === 'passed' || verb === 'failed') && isQuiz) {
      // Each quiz of the lesson keeps its best score; 'passed' marks it passed whatever the score.
      var quiz = s.object.id.split('#quiz-')[1].split('-')[0];
      var scaled = s.result && s.result.score ? s.result.score.scaled : 0;
      if (verb === 'passed') scaled = Math.max(scaled, PASS_MARK);
      l.attempts += 1;
      l.best = l.best === null ? scaled : Math.max(l.best, scaled);
      l.quizzes[quiz] = Math.max(own(l.quizzes, quiz) || 0, scaled);
    }
    var name = s.object.definition && s.object.definition.name;
    if (name && !isQuiz && !isVideo) {
      // The newest title wins (ties: the greater text), whatever the order the statements come
      // in; kept so that a retired lesson still has a name.
      var title = name[Object.keys(name)[0]];
      if (s.timestamp > l.titleAt || (s.timestamp === l.titleAt && title > l.title)) { l.titleAt = s.timestamp; l.title = title; }
    }
    if (verb === 'launched' || verb === 'experienced') {
      var mark = s.timestamp + ' ' + lesson;
      if (!state.last || mark > state.last.mark) state.last = { mark: mark, lesson: lesson, at: s.timestamp };
    }
    return state;
  }

  function derive(statements, curriculum) {
    var state = emptyState();
    for (var i = 0; i < statements.length; i++) apply(state, statements[i], curriculum);
    return state;
  }

  /* A statement's canonical text: keys sorted, so two copies of one statement compare equal. */
  function canonical(value) {
    if (Array.isArray(value)) return '[' + value.map(canonical).join(',') + ']';
    if (value && typeof value === 'object') {
      return '{' + Object.keys(value).sort().map(function (k) { return JSON.stringify(k) + ':' + canonical(value[k]); }).join(',') + '}';
    }
    return JSON.stringify(value);
  }

  /* Of two different statements sharing an id (never made by Satchel; a hand-edited file could),
   * keep the same one whichever copy is merged into which. */
  function pick(a, b) {
    if (a === b) return a;
    var ca = canonical(a), cb = canonical(b);
    return ca <= cb ? a : b;
  }

  /* The union by id of two lists of statements, sorted by id. */
  function merge(a, b) {
    var byId = new Map();
    [a, b].forEach(function (list) {
      list.forEach(function (s) { byId.set(s.id, byId.has(s.id) ? pick(byId.get(s.id), s) : s); });
    });
    return Array.from(byId.keys()).sort().map(function (id) { return byId.get(id); });
  }

  /* What to do next. `outline` is the home page's list of lessons in curriculum order
   * [{id, title, url, prerequisites}]; a lesson's subject is the first part of its id.
   * "Continue" is the lesson last worked on, if not done. "Next" stays in the subject being
   * studied: its first lesson not done; if that lesson needs others first, the first of those
   * (so a learner is led to the prerequisite, not to another subject). A subject all done: the
   * first lesson anywhere whose prerequisites are done. */
  function guide(state, outline) {
    var known = new Map(outline.map(function (lesson) { return [lesson.id, lesson]; }));
    var done = function (id) { var l = own(state.lessons, id); return !!(l && l.completed); };
    var resume = state.last && known.has(state.last.lesson) && !done(state.last.lesson) ? known.get(state.last.lesson) : null;
    var subjectOf = function (lesson) { return lesson.id.split('/')[0]; };
    var here = state.last && known.has(state.last.lesson) ? subjectOf(known.get(state.last.lesson)) : null;
    // The lesson to do before `lesson` (itself when its prerequisites are done), or null.
    function ready(lesson, seen) {
      if (seen.has(lesson.id)) return null;  // a cycle of prerequisites
      seen.add(lesson.id);
      var missing = (lesson.prerequisites || []).filter(function (id) { return !done(id) && known.has(id); });
      if (!missing.length) return lesson;
      for (var i = 0; i < missing.length; i++) {
        var found = ready(known.get(missing[i]), seen);
        if (found) return found;
      }
      return null;
    }
    var next = null;
    var studied = here ? outline.filter(function (l) { return subjectOf(l) === here; }) : [];
    for (var i = 0; i < studied.length && !next; i++) {
      if (!done(studied[i].id) && studied[i] !== resume) {
        next = ready(studied[i], new Set());
        if (next === resume) next = null;
      }
    }
    for (var j = 0; j < outline.length && !next; j++) {
      var lesson = outline[j];
      if (!done(lesson.id) && lesson !== resume && (lesson.prerequisites || []).every(done)) next = lesson;
    }
    var retired = Object.keys(state.lessons).filter(function (id) { return !known.has(id); }).sort();
    return { resume: resume, next: next, finished: outline.length > 0 && outline.every(function (l) { return done(l.id); }),
             retired: retired.map(function (id) { return { id: id, title: own(state.lessons, id).title || id, completed: done(id) }; }) };
  }

  /* Whether every quiz of a lesson (numbered 0 to quizzes - 1) has been passed. */
  function quizzesPassed(state, lesson, quizzes) {
    var l = own(state.lessons, lesson);
    for (var n = 0; n < quizzes; n++) if (!l || !(own(l.quizzes, String(n)) >= PASS_MARK)) return false;
    return true;
  }

  /* Lessons done out of lessons, for a list of lesson ids. */
  function count(state, ids) {
    var done = ids.filter(function (id) { var l = own(state.lessons, id); return l && l.completed; }).length;
    return { done: done, total: ids.length };
  }

  /* Validation of a progress file, with the rules of its JSON Schema and the ones a schema cannot
   * say (every statement is the file's learner's, and about this curriculum). Returns null when
   * the file is good, else {reason, detail}: reason is one of 'foreign', 'newer', 'curriculum',
   * 'statement'. */
  function problem(reason, detail) { return { reason: reason, detail: detail }; }
  function isObject(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }
  function onlyKeys(obj, allowed) { return Object.keys(obj).every(function (k) { return allowed.indexOf(k) >= 0; }); }
  function isText(v, max) {  // lengths in characters, as JSON Schema counts them
    if (typeof v !== 'string' || !v.length) return false;
    return Array.from(v).length <= max;
  }

  /* Absent, or an object of texts (a language map). */
  function textMap(map, max) {
    if (map === undefined) return true;
    if (!isObject(map) || Object.keys(map).length > 20) return false;
    return Object.keys(map).every(function (k) { return Array.from(k).length <= 35 && isText(map[k], max); });
  }

  function checkFile(file, curriculum) {
    if (!isObject(file) || file.format !== FORMAT) return problem('foreign', 'format');
    if (typeof file.version !== 'number' || file.version % 1 !== 0 || file.version < 1) return problem('foreign', 'version');
    if (file.version > FORMAT_VERSION) return problem('newer', String(file.version));
    if (!onlyKeys(file, ['format', 'version', 'curriculum', 'exported', 'profile', 'statements', 'signature'])) return problem('foreign', 'keys');
    if (!isObject(file.curriculum) || !onlyKeys(file.curriculum, ['id', 'version']) || !isText(file.curriculum.id, 100) || !ID_RE.test(file.curriculum.id)) return problem('foreign', 'curriculum');
    if (file.curriculum.id !== curriculum) return problem('curriculum', file.curriculum.id);
    if (file.curriculum.version !== undefined && !isText(file.curriculum.version, 100)) return problem('foreign', 'curriculum.version');
    if (!isTime(file.exported)) return problem('foreign', 'exported');
    var p = file.profile;
    if (!isObject(p) || !onlyKeys(p, ['id', 'name', 'colour', 'picture', 'key']) || !UUID_RE.test(p.id) || !isText(p.name, 60) ||
        typeof p.colour !== 'string' || !COLOUR_RE.test(p.colour) || !isText(p.picture, 16) ||
        (p.key !== undefined && !(typeof p.key === 'string' && KEY_RE.test(p.key)))) return problem('foreign', 'profile');
    if (!Array.isArray(file.statements)) return problem('foreign', 'statements');
    for (var i = 0; i < file.statements.length; i++) {
      var why = checkStatement(file.statements[i], curriculum, p.id);
      if (why) return problem('statement', (i + 1) + ': ' + why);
    }
    return null;
  }

  /* A real instant, as the schema writes it, from 1970 to a year from now (the hub's rule). */
  function isTime(text) {
    if (typeof text !== 'string' || !TIME_RE.test(text)) return false;
    var when = Date.parse(text);
    if (!(when >= EARLIEST && when <= Date.now() + AHEAD_MS)) return false;
    return new Date(when).toISOString().slice(0, 19) === text.slice(0, 19);  // no 2026-02-30
  }

  /* An activity of the context, as the schema's $defs/activity says. */
  function isActivity(a) {
    if (!isObject(a) || !onlyKeys(a, ['objectType', 'id', 'definition']) || a.objectType !== 'Activity') return false;
    if (typeof a.id !== 'string' || a.id.length > 500 || !ACTIVITY_RE.test(a.id)) return false;
    var d = a.definition;
    return d === undefined || (isObject(d) && onlyKeys(d, ['type', 'name', 'description']) &&
      (d.type === undefined || (typeof d.type === 'string' && d.type.length <= 200)) && textMap(d.name, 300) && textMap(d.description, 300));
  }

  function depth(value, limit) {
    if (limit <= 0 || value === null || typeof value !== 'object') return 0;
    var deepest = 0;
    for (var k in value) if (Object.prototype.hasOwnProperty.call(value, k)) deepest = Math.max(deepest, depth(value[k], limit - 1));
    return 1 + deepest;
  }

  function checkStatement(s, curriculum, profile) {
    if (!isObject(s)) return 'not an object';
    if (!onlyKeys(s, ['id', 'actor', 'verb', 'object', 'context', 'timestamp', 'version', 'result'])) return 'unknown key';
    if (typeof s.id !== 'string' || !UUID_RE.test(s.id)) return 'id';
    var a = s.actor;
    if (!isObject(a) || a.objectType !== 'Agent' || !isObject(a.account) || a.account.homePage !== homePage(curriculum) ||
        a.account.name !== profile || !onlyKeys(a, ['objectType', 'account']) || !onlyKeys(a.account, ['homePage', 'name'])) return 'actor';
    if (!isObject(s.verb) || typeof s.verb.id !== 'string' ||
        !((s.verb.id.indexOf(ADL) === 0 && VERBS.indexOf(s.verb.id.slice(ADL.length)) >= 0) ||
          (s.verb.id.indexOf(VIDEO + 'verbs/') === 0 && VIDEO_VERBS.indexOf(s.verb.id.slice(VIDEO.length + 6)) >= 0)) ||
        !textMap(s.verb.display, 300) || !onlyKeys(s.verb, ['id', 'display'])) return 'verb';
    if (!isObject(s.object) || s.object.objectType !== 'Activity' || !lessonOf(curriculum, s.object.id) ||
        !/^[^#]*(#quiz-\d{1,4}(-\d{1,4})?|#video-\d{1,4})?$/.test(s.object.id) || s.object.id.length > 500) return 'object';
    var d = s.object.definition;
    if (!onlyKeys(s.object, ['objectType', 'id', 'definition'])) return 'object';
    if (d !== undefined && (!isObject(d) || !onlyKeys(d, ['type', 'name', 'description']) ||
        (d.type !== undefined && !(typeof d.type === 'string' && d.type.length <= 200)) || !textMap(d.name, 300) ||
        !textMap(d.description, 300))) return 'object';
    if (!isTime(s.timestamp)) return 'timestamp';
    if (s.version !== '2.0.0') return 'version';
    if (!isObject(s.context) || !onlyKeys(s.context, ['platform', 'language', 'registration', 'contextActivities', 'extensions'])) return 'context';
    var c = s.context;
    if ((c.platform !== undefined && !(typeof c.platform === 'string' && c.platform.length <= 100)) ||
        (c.language !== undefined && !(typeof c.language === 'string' && c.language.length <= 35)) ||
        (c.registration !== undefined && !(typeof c.registration === 'string' && UUID_RE.test(c.registration)))) return 'context';
    var ca = s.context.contextActivities;
    if (ca !== undefined && (!isObject(ca) || !onlyKeys(ca, ['parent', 'grouping', 'category', 'other']) || !Object.keys(ca).every(function (k) {
      return Array.isArray(ca[k]) && ca[k].length <= 20 && ca[k].every(isActivity);
    }))) return 'context.contextActivities';
    if (s.context.extensions !== undefined && (!isObject(s.context.extensions) || depth(s.context.extensions, 9) > 8 ||
        JSON.stringify(s.context.extensions).length > 4000)) return 'context.extensions';
    var r = s.result;
    if (r !== undefined) {
      if (!isObject(r) || !onlyKeys(r, ['score', 'success', 'completion', 'duration', 'response', 'extensions'])) return 'result';
      if (r.extensions !== undefined && (!isObject(r.extensions) || depth(r.extensions, 9) > 8 ||
          JSON.stringify(r.extensions).length > 4000)) return 'result.extensions';
      if (r.duration !== undefined && !(DURATION_RE.test(r.duration) && seconds(r.duration) <= MAX_SECONDS)) return 'result.duration';
      if (r.success !== undefined && typeof r.success !== 'boolean') return 'result.success';
      if (r.completion !== undefined && typeof r.completion !== 'boolean') return 'result.completion';
      if (r.response !== undefined && !(typeof r.response === 'string' && r.response.length <= 1000)) return 'result.response';
      var sc = r.score;
      if (sc !== undefined && (!isObject(sc) || !onlyKeys(sc, ['scaled', 'raw', 'min', 'max']) || typeof sc.scaled !== 'number' || sc.scaled < 0 || sc.scaled > 1 ||
          ['raw', 'min', 'max'].some(function (k) { return sc[k] !== undefined && (typeof sc[k] !== 'number' || !isFinite(sc[k])); }))) return 'result.score';
    }
    return null;
  }

  /* The progress file of one learner: their profile (with the device's public key, if it has
   * one: progress-identity.js signs the file with it) and every statement, oldest first. */
  function file(curriculum, version, profile, statements, publicKey) {
    var who = { id: profile.id, name: profile.name, colour: profile.colour, picture: profile.picture };
    if (publicKey) who.key = publicKey;
    return {
      format: FORMAT, version: FORMAT_VERSION,
      curriculum: { id: curriculum, version: version },
      exported: new Date().toISOString(),
      profile: who,
      statements: statements.slice().sort(function (a, b) {
        return a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
      }),
    };
  }

  var api = {
    FORMAT: FORMAT, FORMAT_VERSION: FORMAT_VERSION, PASS_MARK: PASS_MARK, MAX_FILE_BYTES: MAX_FILE_BYTES,
    uuid: uuid, homePage: homePage, lessonIri: lessonIri, lessonOf: lessonOf, statement: statement,
    MAX_SECONDS: MAX_SECONDS, own: own, VIDEO_EXT: VIDEO_EXT,
    emptyState: emptyState, apply: apply, derive: derive, merge: merge, pick: pick, canonical: canonical,
    guide: guide, count: count, quizzesPassed: quizzesPassed, checkFile: checkFile, file: file,
  };
  if (typeof module === 'object' && module.exports) module.exports = api;
  else global.satchelProgressModel = api;
}(typeof self !== 'undefined' ? self : this));
