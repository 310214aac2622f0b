/* The classroom TV (builder/tv.py; docs/curriculum-format.md, "Teacher's notes and the TV").
   One page per language, <lang>/tv/: a lesson picker driven by arrows and Enter, a lesson in screens
   of 1920x1080 CSS px (split at headings, pictures, boxes and quiz questions; a section too long for
   one screen is split again, its type scaled down to 32 px at the least), and, with ?presenter, the
   teacher's view: the screen, its notes, the class's results and "Mark taught". The TV and the
   presenter follow each other through a BroadcastChannel (one browser) and, on a hub where the
   teacher is signed in, through the hub (/_hub/tv/..., hub/tv.py).
   Keys: ArrowRight / PageDown next (ArrowLeft in a right-to-left language: the way its text goes),
   ArrowLeft / PageUp previous, Enter shows the answer (else next), C counts down, Escape or
   Backspace back to the lessons, Home / End, a number jumps to that screen. */
(function () {
  'use strict';

  var config = JSON.parse(document.getElementById('satchel-tv').textContent);
  var words = config.strings;
  var rtl = config.dir === 'rtl';
  var params = new URLSearchParams(location.search);
  var presenter = params.has('presenter');
  var ROOM_RE = /^[A-Za-z0-9_-]{1,40}$/;
  var room = ROOM_RE.test(params.get('room') || '') ? params.get('room') : 'tv';
  var me = Math.random().toString(36).slice(2);
  var BASE = 44; // px at 1920x1080: a screen's text starts here...
  var SMALLEST = 32; // ...and is never made smaller than this
  var COUNTDOWN = 30; // seconds
  var FRAME_WIDTH = 1920;
  var FRAME_HEIGHT = 1080;
  var numbers;
  try { numbers = new Intl.NumberFormat(config.language); } catch (error) { numbers = new Intl.NumberFormat(); }

  var picker = document.querySelector('[data-tv-picker]');
  var list = document.querySelector('[data-tv-list]');
  var where = document.querySelector('[data-tv-where]');
  var viewport = document.querySelector('[data-tv-viewport]');
  var frame = document.querySelector('[data-tv-frame]');
  var measure = document.querySelector('[data-tv-measure]');
  var panel = document.querySelector('[data-tv-presenter]');

  function say(key, values) {
    var text = words[key] || key;
    if (typeof text === 'object') text = text.other;
    return String(text).replace(/\{(\w+)\}/g, function (whole, name) {
      if (!values || !(name in values)) return whole;
      return typeof values[name] === 'number' ? numbers.format(values[name]) : String(values[name]);
    });
  }

  function element(tag, className, text) {
    var made = document.createElement(tag);
    if (className) made.className = className;
    if (text !== undefined) made.textContent = text;
    return made;
  }

  // The lessons, by id: where each is in the picker.
  var lessons = {};
  config.subjects.forEach(function (subject, s) {
    subject.units.forEach(function (unit, u) {
      unit.lessons.forEach(function (lesson, l) { lessons[lesson.id] = {lesson: lesson, path: [s, u, l]}; });
    });
  });

  var state = {lesson: null, screen: 0, revealed: false};
  var screens = [];
  var notes = [];
  var opening = null; // the lesson shown: its id, title, language and direction
  var pending = null; // the lesson being opened (the last one asked for wins)

  // The picker: subjects, then a subject's units, then a unit's lessons.

  var path = [];

  function levelItems() {
    if (path.length === 0) return config.subjects;
    if (path.length === 1) return config.subjects[path[0]].units;
    return config.subjects[path[0]].units[path[1]].lessons;
  }

  function showPicker(focusIndex) {
    stopCountdown();
    state = {lesson: null, screen: 0, revealed: false};
    viewport.hidden = true;
    if (panel) panel.hidden = true;
    picker.hidden = false;
    var trail = [];
    if (path.length > 0) trail.push(config.subjects[path[0]].title);
    if (path.length > 1) trail.push(config.subjects[path[0]].units[path[1]].title);
    where.textContent = trail.length ? trail.join(rtl ? ' ‹ ' : ' › ') : say(['subjects', 'units', 'lessons'][path.length]);
    list.textContent = '';
    levelItems().forEach(function (item, index) {
      var li = element('li');
      var button = element('button', 'tv-item', item.title);
      button.type = 'button';
      button.addEventListener('click', function () { choose(index); });
      li.appendChild(button);
      list.appendChild(li);
    });
    var buttons = list.querySelectorAll('button');
    if (buttons.length) buttons[Math.min(focusIndex || 0, buttons.length - 1)].focus();
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  }

  function choose(index) {
    if (path.length < 2) {
      path.push(index);
      showPicker(0);
      return;
    }
    var lesson = levelItems()[index];
    openLesson(lesson.id, 0, false, true);
  }

  function pickerBack() {
    if (!path.length) return;
    var from = path.pop();
    showPicker(from);
  }

  function movePickerFocus(step) {
    var buttons = Array.prototype.slice.call(list.querySelectorAll('button'));
    var at = buttons.indexOf(document.activeElement);
    var next = at < 0 ? 0 : Math.max(0, Math.min(buttons.length - 1, at + step));
    if (buttons[next]) buttons[next].focus();
  }

  // A lesson: its page fetched (from the hub, or from the device's copy of the subject), cut into screens.

  function absolute(content, base) {
    content.querySelectorAll('[src], [href]').forEach(function (node) {
      ['src', 'href'].forEach(function (name) {
        var value = node.getAttribute(name);
        if (value && value.charAt(0) !== '#') node.setAttribute(name, new URL(value, base).href);
      });
    });
  }

  function fetchLesson(entry) {
    var base = new URL(entry.lesson.url, location.href).href;
    return fetch(base).then(function (response) {
      if (!response.ok) throw new Error(response.status + ' ' + response.statusText);
      return response.text();
    }).then(function (text) {
      var page = new DOMParser().parseFromString(text, 'text/html');
      var content = page.querySelector('article#content > div[lang]');
      if (!content) throw new Error('not a lesson page');
      absolute(content, base);
      return content;
    });
  }

  function isSolo(node) {
    return node.matches('figure, .admonition, table, pre, .highlight, .md-typeset__scrollwrap') ||
      (node.matches('p') && !!node.querySelector('img') && !node.textContent.trim());
  }

  function quizScreens(form) {
    var answers = [];
    try { answers = JSON.parse(form.getAttribute('data-answers') || '[]'); } catch (error) { answers = []; }
    var block = (form.getAttribute('data-satchel-quiz') || '').split('-').pop(); // builder/quiz.py: <lesson>-<block>
    return Array.prototype.map.call(form.querySelectorAll('fieldset'), function (fieldset, number) {
      var legend = fieldset.querySelector('legend');
      return {kind: 'quiz', quiz: 'quiz-' + block + '-' + number, question: legend ? legend.textContent.trim() : '',
        options: Array.prototype.map.call(fieldset.querySelectorAll('label'), function (label) { return label.textContent.trim(); }),
        answer: answers[number] || {}, nodes: []};
    });
  }

  // Screens in the order of the page: a new one at each heading (h2..h6: a new section, which the
  // teacher's notes are counted by, as builder/tv.py counts them), picture, box, and quiz question.
  function cut(content) {
    var title = {kind: 'title', section: 0, heading: '', nodes: []};
    var all = [title];
    var section = 0;
    var heading = '';
    var current = null;
    Array.prototype.forEach.call(content.children, function (node) {
      if (node.matches('h1, .satchel-objectives')) { title.nodes.push(node); return; }
      if (node.matches('.satchel-present, .satchel-card__meta')) return;
      if (/^H[2-6]$/.test(node.tagName)) {
        section += 1;
        heading = node.textContent.trim();
        current = {kind: 'text', section: section, heading: '', nodes: [node]};
        all.push(current);
        return;
      }
      if (node.matches('form.satchel-quiz')) {
        quizScreens(node).forEach(function (screen) { screen.section = section; screen.heading = heading; all.push(screen); });
        current = null;
        return;
      }
      if (node.matches('details') || isSolo(node)) {
        all.push({kind: node.matches('details') ? 'details' : 'solo', section: section, heading: heading, nodes: [node]});
        current = null;
        return;
      }
      if (!current) {
        current = {kind: 'text', section: section, heading: heading, nodes: []};
        all.push(current);
      }
      current.nodes.push(node);
    });
    all.push({kind: 'end', section: section, heading: '', nodes: []});
    return all;
  }

  function revealable(screen) { return !!screen && (screen.kind === 'quiz' || screen.kind === 'details'); }

  function quizBody(screen, body) {
    var answer = screen.answer;
    body.appendChild(element('h2', 'tv-question', screen.question));
    var feedback = [];
    if (screen.options.length) {
      var options = element('ol', 'tv-options');
      screen.options.forEach(function (text, index) {
        var item = element('li', '', text);
        var option = (answer.options || [])[index];
        if (option && option.correct) {
          item.setAttribute('data-correct', '');
          if (option.feedback) feedback.push(option.feedback);
        }
        options.appendChild(item);
      });
      body.appendChild(options);
    } else {
      var right = answer.type === 'number' ? numbers.format(answer.answer) + (answer.tolerance ? ' ± ' + numbers.format(answer.tolerance) : '')
        : (answer.accept || []).join(' / ');
      body.appendChild(element('p', 'tv-answer tv-reveal', say('answer') + ': ' + right));
    }
    if (!feedback.length && answer.correct) feedback.push(answer.correct);
    if (feedback.length) body.appendChild(element('p', 'tv-feedback tv-reveal', feedback.join(' ')));
    var actions = element('p', 'tv-actions');
    var reveal = element('button', '', say('reveal'));
    reveal.type = 'button';
    reveal.setAttribute('data-tv-reveal', '');
    var count = element('button', '', say('countdown'));
    count.type = 'button';
    count.setAttribute('data-tv-countdown', '');
    var timer = element('span', 'tv-timer');
    timer.setAttribute('role', 'timer');
    timer.setAttribute('data-tv-timer', '');
    actions.appendChild(reveal);
    actions.appendChild(count);
    actions.appendChild(timer);
    body.appendChild(actions);
  }

  function draw(screen, target, index, total, revealed) {
    target.textContent = '';
    target.className = 'tv-frame md-typeset tv-' + screen.kind + (revealed ? ' tv-revealed' : '');
    var body = element('div', 'tv-body');
    body.lang = opening ? opening.lang : config.language;
    body.dir = opening ? opening.dir : config.dir;
    body.style.fontSize = (screen.size || BASE) + 'px';
    if (screen.heading) body.appendChild(element('p', 'tv-kicker', screen.heading));
    screen.nodes.forEach(function (node) { body.appendChild(node.cloneNode(true)); });
    if (screen.kind === 'quiz') quizBody(screen, body);
    if (screen.kind === 'end') {
      var end = element('div', 'tv-end');
      end.appendChild(element('h2', '', say('end')));
      end.appendChild(element('p', '', opening ? opening.title : ''));
      body.appendChild(end);
    }
    body.querySelectorAll('details').forEach(function (details) { details.open = !!revealed; });
    body.querySelectorAll('.tv-reveal').forEach(function (node) { node.hidden = !revealed; });
    target.appendChild(body);
    var status = element('p', 'tv-status');
    status.appendChild(element('span', '', opening ? opening.title : ''));
    status.appendChild(element('span', '', say('screen', {n: index + 1, total: total})));
    target.appendChild(status);
    return body;
  }

  function overflows(body) {
    return body.scrollHeight > body.clientHeight + 1 || body.scrollWidth > body.clientWidth + 1;
  }

  function imagesReady(body) {
    return Promise.all(Array.prototype.map.call(body.querySelectorAll('img'), function (img) {
      return img.complete ? null : new Promise(function (done) {
        img.addEventListener('load', done);
        img.addEventListener('error', done);
      });
    }));
  }

  // Lay a screen out at full size, hidden: too long, it gives back what goes on a next screen.
  function fitOne(screen) {
    screen.size = BASE;
    var body = draw(screen, measure, 0, 1, true);
    return imagesReady(body).then(function () {
      if (!overflows(body)) return null;
      var rest = null;
      if (screen.kind === 'text' && screen.nodes.length > 1) {
        var heading = /^H[2-6]$/.test(screen.nodes[0].tagName) ? screen.nodes[0].textContent.trim() : screen.heading;
        rest = {kind: 'text', section: screen.section, heading: heading, nodes: []};
        while (screen.nodes.length > 1 && overflows(body)) {
          rest.nodes.unshift(screen.nodes.pop());
          body = draw(screen, measure, 0, 1, true);
        }
        if (!overflows(body)) return rest;
      }
      while (screen.size > SMALLEST && overflows(body)) {
        screen.size -= 2;
        body.style.fontSize = screen.size + 'px';
      }
      var last = screen.nodes[screen.nodes.length - 1];
      if (overflows(body) && screen.kind === 'text' && last && last.matches('ul, ol') && last.children.length > 1) {
        rest = rest || {kind: 'text', section: screen.section, heading: screen.heading, nodes: []};
        var kept = last.cloneNode(true);
        var moved = last.cloneNode(false);
        screen.nodes[screen.nodes.length - 1] = kept;
        screen.size = BASE;
        body = draw(screen, measure, 0, 1, true);
        while (kept.children.length > 1 && overflows(body)) {
          moved.insertBefore(kept.lastElementChild, moved.firstChild);
          body = draw(screen, measure, 0, 1, true);
        }
        if (moved.tagName === 'OL') moved.setAttribute('start', String((Number(kept.getAttribute('start')) || 1) + kept.children.length));
        rest.nodes.unshift(moved);
      }
      if (overflows(body) && screen.kind === 'text' && last && last.matches('p')) {
        rest = rest || {kind: 'text', section: screen.section, heading: screen.heading, nodes: []};
        var after = splitParagraph(screen);
        if (after) rest.nodes.unshift(after);
      }
      return rest;
    });
  }

  // A paragraph longer than a screen at the smallest size: what fits stays (whole inline parts, then
  // words, or characters with their combining marks in a script written without spaces), the rest
  // goes on as a paragraph of the next screen.
  function splitParagraph(screen) {
    var last = screen.nodes.length - 1;
    var kept = screen.nodes[last].cloneNode(true);
    var after = kept.cloneNode(false);
    screen.nodes[last] = kept;
    var body = draw(screen, measure, 0, 1, true);
    while (kept.childNodes.length > 1 && overflows(body)) {
      after.insertBefore(kept.lastChild, after.firstChild);
      body = draw(screen, measure, 0, 1, true);
    }
    var text = kept.lastChild;
    if (overflows(body) && text && text.nodeType === 3) {
      var whole = text.textContent;
      var pieces = whole.match(/\S/.test(whole) && /\s/.test(whole.trim()) ? /\S+\s*/g : /\P{M}\p{M}*/gu) || [];
      var low = 1;
      var high = pieces.length - 1;
      while (low < high) {
        var middle = Math.ceil((low + high) / 2);
        text.textContent = pieces.slice(0, middle).join('');
        if (overflows(draw(screen, measure, 0, 1, true))) high = middle - 1;
        else low = middle;
      }
      text.textContent = pieces.slice(0, low).join('');
      after.insertBefore(document.createTextNode(pieces.slice(low).join('')), after.firstChild);
    }
    return after.childNodes.length ? after : null;
  }

  function fitAll(all) {
    var done = [];
    var queue = all.slice();
    function next() {
      if (!queue.length) {
        measure.textContent = '';
        return Promise.resolve(done);
      }
      var screen = queue.shift();
      return fitOne(screen).then(function (rest) {
        done.push(screen);
        if (rest && rest.nodes.length) queue.unshift(rest);
        return next();
      });
    }
    return next();
  }

  function openLesson(id, screen, revealed, announce) {
    var entry = lessons[id];
    if (!entry) return Promise.resolve();
    path = entry.path.slice(0, 2);
    stopCountdown();
    var loading = fetchLesson(entry).then(function (content) {
      if (loading !== pending) return [];
      opening = {id: id, title: entry.lesson.title, lang: content.getAttribute('lang') || config.language, dir: content.getAttribute('dir') || config.dir};
      return fitAll(cut(content));
    }).then(function (cutScreens) {
      if (loading !== pending) return;
      screens = cutScreens;
      state = {lesson: id, screen: 0, revealed: false};
      picker.hidden = true;
      if (presenter) {
        panel.hidden = false;
        loadNotes(entry);
      } else {
        viewport.hidden = false;
        frame.focus();
      }
      go(screen || 0, announce, revealed);
    }).catch(function (error) {
      where.textContent = say('failed', {reason: error.message});
    });
    pending = loading;
    return loading;
  }

  function loadNotes(entry) {
    notes = [];
    fetch(new URL(entry.lesson.notes, location.href).href).then(function (response) {
      return response.ok ? response.json() : {notes: []};
    }).then(function (data) {
      if (state.lesson !== entry.lesson.id) return;
      notes = Array.isArray(data.notes) ? data.notes : [];
      paintPresenter();
    }).catch(function () { /* no notes file: a lesson without notes */ });
  }

  function go(index, announce, revealed) {
    if (!screens.length) return;
    stopCountdown();
    state.screen = Math.max(0, Math.min(screens.length - 1, index));
    state.revealed = !!revealed && revealable(screens[state.screen]);
    paint();
    if (announce !== false) publish();
  }

  function reveal(announce) {
    if (!revealable(screens[state.screen]) || state.revealed) return;
    state.revealed = true;
    stopCountdown();
    paint();
    if (announce !== false) publish();
  }

  function paint() {
    if (!screens.length) return;
    var screen = screens[state.screen];
    var hash = '#lesson=' + state.lesson + (state.screen ? '&screen=' + (state.screen + 1) : '');
    if (location.hash !== hash) history.replaceState(null, '', location.pathname + location.search + hash);
    if (presenter) {
      paintPresenter();
      return;
    }
    draw(screen, frame, state.screen, screens.length, state.revealed);
    scaleFrame();
    wireScreen(frame);
  }

  function wireScreen(target) {
    var button = target.querySelector('[data-tv-reveal]');
    if (button) button.addEventListener('click', function () { reveal(); });
    var count = target.querySelector('[data-tv-countdown]');
    if (count) count.addEventListener('click', function () { startCountdown(); });
  }

  function scaleFrame() {
    var scale = Math.min(innerWidth / FRAME_WIDTH, innerHeight / FRAME_HEIGHT);
    frame.style.transform = scale === 1 ? '' : 'scale(' + scale + ')';
    frame.style.marginInlineStart = '0';
    frame.style.position = 'absolute';
    frame.style.top = Math.max(0, (innerHeight - FRAME_HEIGHT * scale) / 2) + 'px';
    frame.style.left = Math.max(0, (innerWidth - FRAME_WIDTH * scale) / 2) + 'px';
  }
  addEventListener('resize', function () { if (!viewport.hidden) scaleFrame(); });

  // The countdown: a whole-class question's thinking time, then its answer.

  var countdown = null;

  function startCountdown() {
    if (!screens.length || screens[state.screen].kind !== 'quiz' || state.revealed) return;
    stopCountdown();
    var left = COUNTDOWN;
    var show = function () {
      var timer = (presenter ? panel : frame).querySelector('[data-tv-timer]');
      if (timer) timer.textContent = numbers.format(left);
    };
    show();
    countdown = setInterval(function () {
      left -= 1;
      show();
      if (left <= 0) reveal();
    }, 1000);
  }

  function stopCountdown() {
    if (countdown) clearInterval(countdown);
    countdown = null;
  }

  // The presenter view: this screen (as the TV shows it, answers shown), what comes next, the notes
  // of this part of the lesson, the class's result on a question, and "Mark taught".

  function paintPresenter() {
    if (!presenter || !screens.length) return;
    var screen = screens[state.screen];
    var small = panel.querySelector('[data-tv-presenter-screen]');
    var copy = element('div');
    small.textContent = '';
    small.appendChild(copy);
    draw(screen, copy, state.screen, screens.length, true);
    wireScreen(copy);
    panel.querySelector('[data-tv-presenter-status]').textContent = opening.title + ' · ' + say('screen', {n: state.screen + 1, total: screens.length});
    var after = screens[state.screen + 1];
    panel.querySelector('[data-tv-presenter-next]').textContent = after ? say('next_up', {title: summary(after)}) : '';
    var box = panel.querySelector('[data-tv-notes]');
    box.textContent = '';
    var shown = notes.filter(function (note) { return note.section === screen.section; });
    if (!shown.length) box.appendChild(element('p', '', say('no_notes')));
    shown.forEach(function (note) {
      if (note.title) box.appendChild(element('h3', '', note.title));
      var text = element('div', 'tv-note');
      text.innerHTML = note.html; // the build's own HTML of the author's Markdown, as on a lesson page
      box.appendChild(text);
    });
    var result = panel.querySelector('[data-tv-class-result]');
    result.hidden = screen.kind !== 'quiz';
    var kept = results()[screen.quiz];
    panel.querySelector('[data-tv-result-kept]').textContent = kept ? say('kept', kept) : '';
  }

  function summary(screen) {
    if (screen.kind === 'quiz') return screen.question;
    if (screen.kind === 'end') return say('end');
    var first = screen.nodes[0];
    var text = first ? first.textContent.trim() : '';
    var picture = first && first.querySelector && first.querySelector('img[alt]');
    return (text || (picture ? picture.getAttribute('alt') : '') || screen.heading).slice(0, 80);
  }

  function resultsKey() { return 'satchel-tv-results:' + config.curriculum + ':' + state.lesson; }

  function results() {
    try { return JSON.parse(localStorage.getItem(resultsKey()) || '{}') || {}; } catch (error) { return {}; }
  }

  if (panel) {
    panel.querySelector('[data-tv-result-form]').addEventListener('submit', function (event) {
      event.preventDefault();
      var form = event.target;
      var right = Number(form.elements.right.value);
      var total = Number(form.elements.total.value);
      if (!(total >= 1 && right >= 0 && right <= total)) return;
      var all = results();
      all[screens[state.screen].quiz] = {right: right, total: total};
      try { localStorage.setItem(resultsKey(), JSON.stringify(all)); } catch (error) { /* private mode: shown, not kept */ }
      panel.querySelector('[data-tv-result-kept]').textContent = say('kept', {right: right, total: total});
    });
    panel.querySelector('[data-tv-taught-form]').addEventListener('submit', function (event) {
      event.preventDefault();
      markTaught(event.target.elements['class'].value.trim());
    });
  }

  function markTaught(name) {
    var status = panel.querySelector('[data-tv-taught-status]');
    if (!hub.teacher) {
      status.textContent = say('sign_in');
      return;
    }
    var all = results();
    var body = {curriculum: config.curriculum, lesson: state.lesson, language: config.language, 'class': name,
      results: Object.keys(all).slice(0, 100).map(function (quiz) { return {question: quiz, right: all[quiz].right, total: all[quiz].total}; })};
    fetch('/_hub/tv/taught', {method: 'POST', credentials: 'same-origin', headers: {'content-type': 'application/json', 'x-satchel-csrf': hub.csrf},
      body: JSON.stringify(body)}).then(function (response) {
      return response.json().then(function (answer) {
        status.textContent = response.ok ? say('taught', {'class': answer['class'] || name}) : say('taught_failed', {reason: answer.error || response.status});
      });
    }).catch(function (error) { status.textContent = say('taught_failed', {reason: error.message}); });
  }

  // Following each other: a BroadcastChannel between the windows of one browser, and the hub.

  var channel = 'BroadcastChannel' in window ? new BroadcastChannel('satchel-tv:' + config.curriculum + ':' + room) : null;

  function message() {
    return {type: 'state', from: me, lesson: state.lesson, screen: state.screen, revealed: state.revealed};
  }

  function publish() {
    var sent = message();
    if (channel) channel.postMessage(sent);
    hub.send(sent);
  }

  function follow(seen) {
    if (!seen || seen.from === me) return;
    if (!seen.lesson) {
      if (state.lesson) showPicker(0);
      return;
    }
    if (!lessons[seen.lesson]) return;
    if (seen.lesson !== state.lesson) {
      openLesson(seen.lesson, seen.screen, seen.revealed, false);
      return;
    }
    if (seen.screen !== state.screen) go(seen.screen, false, seen.revealed);
    else if (seen.revealed && !state.revealed) reveal(false);
  }

  if (channel) {
    channel.onmessage = function (event) {
      var data = event.data || {};
      if (data.type === 'hello' && state.lesson && !presenter) publish();
      if (data.type === 'state') follow(data);
    };
  }

  var hub = {
    teacher: false, csrf: '', seq: 0, classes: [],
    start: function () {
      fetch('/_hub/tv/session?curriculum=' + encodeURIComponent(config.curriculum), {credentials: 'same-origin'}).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (answer) {
        if (!answer || !answer.teacher) return;
        hub.teacher = true;
        hub.csrf = answer.csrf;
        var options = document.querySelector('[data-tv-classes]');
        (answer.classes || []).forEach(function (item) { var option = element('option'); option.value = item.name; options.appendChild(option); });
        hub.poll();
      }).catch(function () { /* not served by a hub: the windows of this browser follow each other only */ });
    },
    send: function (sent) {
      if (!hub.teacher) return;
      fetch('/_hub/tv/state?curriculum=' + encodeURIComponent(config.curriculum) + '&room=' + room, {method: 'POST', credentials: 'same-origin',
        headers: {'content-type': 'application/json', 'x-satchel-csrf': hub.csrf}, body: JSON.stringify(sent)}).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (answer) { if (answer && answer.seq > hub.seq) hub.seq = answer.seq; }).catch(function () {});
    },
    poll: function () {
      fetch('/_hub/tv/state?curriculum=' + encodeURIComponent(config.curriculum) + '&room=' + room, {credentials: 'same-origin', cache: 'no-store'})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (seen) {
          if (seen && seen.seq > hub.seq) {
            hub.seq = seen.seq;
            follow(seen);
          }
        }).catch(function () {}).then(function () { setTimeout(hub.poll, 1000); });
    }
  };

  // Keys: the same on the TV and in the presenter view (either drives both).

  var typed = '';
  var typedAt = 0;

  function typing(target) {
    return target && target.matches && target.matches('input, textarea, select, [contenteditable]');
  }

  document.addEventListener('keydown', function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var key = event.key;
    var target = event.target;
    if (typing(target) && key !== 'Escape') return;
    var onControl = target && target.matches && target.matches('button, a[href], summary');
    var forward = rtl ? 'ArrowLeft' : 'ArrowRight';
    var backward = rtl ? 'ArrowRight' : 'ArrowLeft';
    if (!state.lesson) {
      if (key === 'ArrowDown') movePickerFocus(1);
      else if (key === 'ArrowUp') movePickerFocus(-1);
      else if (key === forward && document.activeElement && document.activeElement.matches('.tv-item')) document.activeElement.click();
      else if (key === backward || key === 'Escape' || key === 'Backspace') pickerBack();
      else return;
      event.preventDefault();
      return;
    }
    if (key === forward || key === 'PageDown' || (key === ' ' && !onControl)) go(state.screen + 1);
    else if (key === backward || key === 'PageUp') go(state.screen - 1);
    else if (key === 'Enter' && !onControl) {
      if (revealable(screens[state.screen]) && !state.revealed) reveal();
      else go(state.screen + 1);
    } else if (key === 'Escape' || key === 'Backspace') {
      showPicker(entryIndex(state.lesson));
      publish();
    } else if (key === 'Home') go(0);
    else if (key === 'End') go(screens.length - 1);
    else if (key === 'c' || key === 'C') startCountdown();
    else if (/^[0-9]$/.test(key)) {
      typed = (Date.now() - typedAt < 1500 ? typed : '') + key;
      typedAt = Date.now();
      if (Number(typed) >= 1) go(Number(typed) - 1);
    } else if (key === 'ArrowDown' || key === 'ArrowUp') {
      var controls = Array.prototype.slice.call((presenter ? panel : frame).querySelectorAll('button'));
      if (!controls.length) return;
      var at = controls.indexOf(document.activeElement);
      var next = key === 'ArrowDown' ? Math.min(controls.length - 1, at + 1) : Math.max(0, at - 1);
      controls[next < 0 ? 0 : next].focus();
    } else return;
    event.preventDefault();
  });

  function entryIndex(id) {
    var entry = lessons[id];
    return entry ? entry.path[2] : 0;
  }

  // Start: the lesson a "Present" button named (#lesson=ID&screen=N), else the picker; and the same
  // when the address's #lesson= is changed by hand.

  addEventListener('hashchange', function () {
    var named = new URLSearchParams(location.hash.slice(1));
    var id = named.get('lesson');
    var n = (Number(named.get('screen')) || 1) - 1;
    if (!id || !lessons[id]) return;
    if (id !== state.lesson) openLesson(id, n, false, true);
    else if (n !== state.screen) go(n);
  });
  var asked = new URLSearchParams(location.hash.slice(1));
  hub.start();
  if (presenter && panel) panel.hidden = true;
  if (asked.get('lesson') && lessons[asked.get('lesson')]) {
    openLesson(asked.get('lesson'), (Number(asked.get('screen')) || 1) - 1, false, true);
  } else {
    showPicker(0);
  }
  if (channel && presenter) channel.postMessage({type: 'hello', from: me});
})();
