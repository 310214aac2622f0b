/* Scores the quizzes of a lesson (builder/quiz.py writes them; docs/quizzes.md has the rules) and
 * shows the author's feedback. When a quiz is checked it says so with a `satchel:quiz` event, which
 * the progress store records. */
(function () {
  'use strict';
  var common = window.satchelCommon;
  var config = window.satchelCommon.config;
  var strings = config.quiz;
  /* How search compares words (search-language.js, loaded before the app on a lesson with a quiz);
   * lower case alone if it could not be loaded. */
  function fold(text) {
    return window.satchelSearchLanguage ? window.satchelSearchLanguage.fold(text) : String(text).toLowerCase();
  }

  /* '2,5' and '٢٫٥' are 2.5; spaces are forgiven. */
  function parseNumber(text) {
    var western = String(text).trim()
      .replace(/[\u0660-\u0669]/g, function (d) { return d.charCodeAt(0) - 0x0660; })
      .replace(/[\u06f0-\u06f9]/g, function (d) { return d.charCodeAt(0) - 0x06f0; })
      .replace(/[\u066b,]/g, '.').replace(/\s+/g, '');
    return /^[-+]?(\d+\.?\d*|\.\d+)$/.test(western) ? Number(western) : NaN;
  }

  function sameText(a, b) {
    function clean(s) { return fold(s).replace(/[^\p{L}\p{N}]+/gu, ' ').trim(); }
    return clean(a) === clean(b);
  }

  /* The score of one question (0 to 1) and what to tell the learner. */
  function score(answer, fieldset) {
    var inputs = Array.from(fieldset.querySelectorAll('input'));
    if (answer.options) {
      var chosen = inputs.filter(function (i) { return i.checked; }).map(function (i) { return Number(i.value); });
      var right = answer.options.filter(function (o) { return o.correct; }).length;
      var got = chosen.filter(function (i) { return answer.options[i].correct; }).length;
      var wrong = chosen.length - got;
      var value = answer.type === 'multiple' ? Math.max(0, (got - wrong) / right) : (got === 1 && wrong === 0 ? 1 : 0);
      var notes = chosen.map(function (i) { return answer.options[i].feedback; }).filter(Boolean);
      return { value: value, notes: notes };
    }
    var typed = inputs[0].value;
    var ok = answer.type === 'number'
      ? Math.abs(parseNumber(typed) - answer.answer) <= answer.tolerance + 1e-9
      : answer.accept.some(function (a) { return sameText(typed, a); });
    return { value: ok ? 1 : 0, notes: [] };
  }

  /* What a checked question says. The author's feedback for the option chosen in a single-choice
   * or true/false question is the whole answer (it says "Yes!" or "Not quite." itself), so the
   * general verdict is not put before it; a multiple-choice question gets its verdict, then a note
   * for each option ticked. */
  function feedbackText(answer, state, notes) {
    if (notes.length && answer.type !== 'multiple') return notes.join(' ');
    var verdict = state === 'correct' ? (answer.correct || strings.correct)
      : state === 'partial' ? strings.partial : (answer.wrong || strings.wrong);
    return [verdict].concat(notes).join(' ');
  }

  document.querySelectorAll('form[data-satchel-quiz]').forEach(function (form) {
    var answers = JSON.parse(form.dataset.answers);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var total = 0;
      var results = [];
      form.querySelectorAll('fieldset').forEach(function (fieldset, n) {
        var answer = answers[n];
        var result = score(answer, fieldset);
        total += result.value;
        results.push(result.value);
        var state = result.value === 1 ? 'correct' : result.value > 0 ? 'partial' : 'wrong';
        fieldset.dataset.result = state;
        var feedback = fieldset.querySelector('.satchel-quiz__feedback');
        feedback.textContent = feedbackText(answer, state, result.notes);
        feedback.hidden = false;
      });
      var shown = Math.round(total * 10) / 10;
      form.querySelector('output').textContent = common.format(strings.score, { score: shown, total: answers.length });
      form.dispatchEvent(new CustomEvent('satchel:quiz', { bubbles: true, detail: {
        quiz: form.dataset.satchelQuiz, score: total, total: answers.length, results: results } }));
    });
  });
}());
