"""Quizzes: `satchel check` catches malformed ones with file and line; the browser scores every
question type, right, wrong and partly right, in every language."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from satchel.builder.build import build
from satchel.builder.curriculum import load_curriculum

QUIZ = {
    "en": ("Which is bigger?", "a half", "  A  HALF "),
    "fr": ("Lequel est le plus grand ?", "une moitié", "Une Moitie"),
    "ar": ("أيهما أكبر؟", "نصف", "نِصْف"),
}


def quiz_block(code: str) -> str:
    question, accepted, _ = QUIZ[code]
    return textwrap.dedent(f"""\
        ```quiz
        - question: "{question}"
          type: single
          options:
            - {{text: "1/2", correct: true, feedback: "Two pieces are bigger than four."}}
            - {{text: "1/4", feedback: "Four pieces are smaller."}}
        - question: Equal to one half?
          type: multiple
          options:
            - {{text: "2/4", correct: true}}
            - {{text: "3/6", correct: true}}
            - {{text: "1/3", feedback: "1/3 is less than a half."}}
        - question: A quarter is bigger than a half.
          type: truefalse
          answer: false
        - question: 1/4 of 10?
          type: number
          answer: 2.5
          tolerance: 0
          feedback: {{correct: "Yes, 10 / 4 = 2.5.", wrong: "Share 10 in 4 groups."}}
        - question: 1/2 in words?
          type: text
          accept: ["{accepted}"]
        ```
        """)


def write_curriculum(root: Path, extra: str = "", codes=("en", "fr", "ar")) -> Path:
    root.mkdir(parents=True)
    (root / "curriculum.yml").write_text(
        "id: quiz\nversion: '1'\ntitle: Quiz school\nlanguages:\n  - {code: en, name: English, default: true}\n"
        "  - {code: fr, name: Français}\n  - {code: ar, name: العربية}\n", encoding="utf-8")
    for code in codes:
        unit = root / code / "maths" / "fractions"
        unit.mkdir(parents=True)
        (root / code / "maths" / "index.md").write_text("---\ntitle: Maths\n---\n", encoding="utf-8")
        (unit / "index.md").write_text("---\ntitle: Fractions\n---\n", encoding="utf-8")
        (unit / "halves.md").write_text(f"---\ntitle: Halves\n---\n\nText.\n\n{quiz_block(code)}\n{extra}", encoding="utf-8")
    return root


@pytest.mark.parametrize("quiz, expected", [
    ("- question: Q\n  type: essay\n", ":9: unknown question type 'essay'"),
    ("- type: single\n  options: [{text: a, correct: true}, {text: b}]\n", ":8: a quiz question needs 'question:'"),
    ("- question: Q\n  type: single\n  options: [{text: a}, {text: b}]\n",
     ":8: a single-choice question needs exactly one option with 'correct: true' (it has 0)"),
    ("- question: Q\n  type: single\n  options:\n    - {text: a, correct: true}\n    - {text: b, correct: true}\n",
     ":8: a single-choice question needs exactly one option with 'correct: true' (it has 2)"),
    ("- question: Q\n  type: multiple\n  options:\n    - {text: a}\n    - {text: b}\n", ":8: a multiple-choice question needs at least one"),
    ("- question: Q\n  type: single\n  options:\n    - {text: a, correct: true}\n    - {text: A}\n", ":12: option 'A' is there twice"),
    ("- question: Q\n  type: single\n  options: [{text: a, correct: true}]\n", ":10: a single question needs 'options:' with 2 or more options"),
    ("- question: Q\n  type: truefalse\n  answer: maybe\n", ":10: a true/false question needs 'answer: true' or 'answer: false'"),
    ("- question: Q\n  type: number\n  answer: three\n", ":10: a number question needs 'answer:' with a number"),
    ("- question: Q\n  type: number\n  answer: 3\n  tolerance: -1\n", ":11: 'tolerance' must be a number of 0 or more"),
    ("- question: Q\n  type: text\n  accept: []\n", ":10: a text question needs 'accept:'"),
    ("- question: Q\n  type: text\n  accept: [x]\n  hint: h\n", ":11: unknown key 'hint' in a quiz question"),
    ("- question: Q\n  type: text\n  accept: [x\n", ":10: quiz is not valid YAML"),
    ("just: a mapping\n", ":7: a quiz is a list of questions"),
])
def test_malformed_quizzes_are_reported_with_file_and_line(tmp_path, quiz, expected):
    root = tmp_path / "c"
    write_curriculum(root)
    lesson = root / "en" / "maths" / "fractions" / "halves.md"
    lesson.write_text(f"---\ntitle: Halves\n---\n\nText.\n\n```quiz\n{quiz}```\n", encoding="utf-8")
    _, problems = load_curriculum(root)
    found = [p.format(root) for p in problems]
    assert any(f"halves.md{expected}" in p for p in found), found


def test_well_formed_quizzes_pass(tmp_path):
    _, problems = load_curriculum(write_curriculum(tmp_path / "c"))
    assert problems == []


@pytest.fixture(scope="module")
def quiz_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("quiz")
    site = root / "site"
    build(write_curriculum(root / "curriculum"), site, show_progress=False)
    return site


def answer(page, n: int, values) -> None:
    fieldset = page.locator("form[data-satchel-quiz] fieldset").nth(n)
    if isinstance(values, str):
        fieldset.locator("input").fill(values)
        return
    for value in values:
        fieldset.locator(f"input[value='{value}']").check()


def check(page) -> list[str]:
    page.click(".satchel-quiz button[type=submit]")
    return [page.locator("form[data-satchel-quiz] fieldset").nth(i).get_attribute("data-result") for i in range(5)]


@pytest.mark.browser
@pytest.mark.parametrize("code", ["en", "fr", "ar"])
def test_every_question_type_is_scored(quiz_site, serve, context, code):
    server = serve(quiz_site)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url + ("" if code == "en" else f"{code}/") + "maths/fractions/halves/")
    assert page.locator("form[data-satchel-quiz] fieldset legend").first.text_content() == QUIZ[code][0]

    # All right, typed the way a child might: other case, no accents, short vowels, decimal comma.
    answer(page, 0, ["0"])
    answer(page, 1, ["0", "1"])
    answer(page, 2, ["1"])
    answer(page, 3, "2,5" if code != "ar" else "٢٫٥")
    answer(page, 4, QUIZ[code][2])
    results = check(page)
    assert results == ["correct"] * 5
    assert page.text_content(".satchel-quiz__score").startswith("5")
    assert "Yes, 10 / 4 = 2.5." in page.locator("form[data-satchel-quiz] fieldset").nth(3).text_content()

    # Wrong and partly right.
    page.reload()
    answer(page, 0, ["1"])
    answer(page, 1, ["0"])  # one of the two right options: half a point
    answer(page, 2, ["0"])
    answer(page, 3, "3")
    answer(page, 4, "a quarter")
    assert check(page) == ["wrong", "partial", "wrong", "wrong", "wrong"]
    assert page.text_content(".satchel-quiz__score").startswith("0,5" if code == "fr" else "0.5")  # as the language writes it
    assert "Four pieces are smaller." in page.locator("form[data-satchel-quiz] fieldset").nth(0).text_content()
    assert "Share 10 in 4 groups." in page.locator("form[data-satchel-quiz] fieldset").nth(3).text_content()

    # A right option and a wrong one cancel out.
    page.reload()
    answer(page, 1, ["0", "2"])
    assert check(page)[1] == "wrong"
    assert "1/3 is less than a half." in page.locator("form[data-satchel-quiz] fieldset").nth(1).text_content()
    assert errors == []
