"""Quizzes in lessons: ```quiz blocks of YAML (docs/quizzes.md), checked with file and line, and
turned into HTML forms that theme/assets/satchel/quiz.js scores in the browser."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .frontmatter import load_yaml
from .problems import Problem

QUIZ_FENCE_RE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*quiz[ \t]*\n(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$", re.M | re.S)
TYPES = ("single", "multiple", "truefalse", "number", "text")
QUESTION_KEYS = {"question", "type", "options", "answer", "tolerance", "accept", "feedback"}
OPTION_KEYS = {"text", "correct", "feedback"}
FEEDBACK_KEYS = {"correct", "wrong"}


@dataclass
class QuizBlock:
    start: int  # offset of the fence in the Markdown body
    end: int
    line: int  # file line of the fence
    questions: list[dict]


def find_quizzes(body: str, body_line: int, path: Path, problems: list[Problem]) -> list[QuizBlock]:
    """Every quiz block of a lesson body, validated; a problem for each mistake, with its line."""
    blocks = []
    for match in QUIZ_FENCE_RE.finditer(body):
        fence_line = body_line + body[:match.start()].count("\n")
        questions = _parse(match.group("body"), fence_line, path, problems)
        if questions is not None:
            blocks.append(QuizBlock(match.start(), match.end(), fence_line, questions))
    return blocks


def _parse(text: str, fence_line: int, path: Path, problems: list[Problem]) -> list[dict] | None:
    try:
        node, data = load_yaml(text)
    except yaml.MarkedYAMLError as err:
        mark = err.context_mark or err.problem_mark
        problems.append(Problem(path, fence_line + 1 + (mark.line if mark else 0), f"quiz is not valid YAML: {err.problem or err}"))
        return None
    if not isinstance(data, list) or not data or not isinstance(node, yaml.SequenceNode):
        problems.append(Problem(path, fence_line, "a quiz is a list of questions, each starting with '- question: ...' (see docs/quizzes.md)"))
        return None
    before = len(problems)
    for item, item_node in zip(data, node.value, strict=True):
        _check_question(item, item_node, fence_line, path, problems)
    return data if len(problems) == before else None


def _line(node: yaml.Node, fence_line: int) -> int:
    return fence_line + 1 + node.start_mark.line


def _key_lines(node: yaml.Node, fence_line: int) -> dict[str, int]:
    if isinstance(node, yaml.MappingNode):
        return {str(k.value): _line(k, fence_line) for k, _ in node.value}
    return {}


def _check_question(item: Any, node: yaml.Node, fence_line: int, path: Path, problems: list[Problem]) -> None:
    line = _line(node, fence_line)
    if not isinstance(item, dict):
        problems.append(Problem(path, line, "each question must be keys such as 'question:', 'type:' (see docs/quizzes.md)"))
        return
    lines = _key_lines(node, fence_line)

    def say(key: str, message: str) -> None:
        problems.append(Problem(path, lines.get(key, line), message))

    for key in item:
        if key not in QUESTION_KEYS:
            say(key, f"unknown key '{key}' in a quiz question (allowed: {', '.join(sorted(QUESTION_KEYS))})")
    if not isinstance(item.get("question"), str) or not item["question"].strip():
        say("question", "a quiz question needs 'question:' with its text")
    kind = item.get("type")
    if kind not in TYPES:
        say("type", f"unknown question type {kind!r}: use one of {', '.join(TYPES)}")
        return
    if kind in ("single", "multiple"):
        _check_options(item, kind, node, lines, line, fence_line, path, problems)
    elif kind == "truefalse" and not isinstance(item.get("answer"), bool):
        say("answer", "a true/false question needs 'answer: true' or 'answer: false'")
    elif kind == "number":
        answer, tolerance = item.get("answer"), item.get("tolerance", 0)
        if not _is_number(answer):
            say("answer", "a number question needs 'answer:' with a number, such as 3 or 2.5")
        if not _is_number(tolerance) or tolerance < 0:
            say("tolerance", "'tolerance' must be a number of 0 or more")
    elif kind == "text":
        accept = item.get("accept")
        if isinstance(accept, str):
            accept = [accept]
        if not isinstance(accept, list) or not accept or not all(isinstance(a, (str, int, float)) and str(a).strip() for a in accept):
            say("accept", "a text question needs 'accept:' with the list of accepted answers, such as [a half, one half]")
    if kind not in ("single", "multiple"):
        for key in ("options",):
            if key in item:
                say(key, f"'{key}' is for single and multiple questions; a {kind} question uses " + ("'answer'" if kind != "text" else "'accept'"))
        _check_feedback(item.get("feedback"), lines.get("feedback", line), path, problems)


def _check_options(item, kind, node, lines, line, fence_line, path, problems) -> None:
    options = item.get("options")
    if not isinstance(options, list) or len(options) < 2:
        problems.append(Problem(path, lines.get("options", line), f"a {kind} question needs 'options:' with 2 or more options"))
        return
    option_nodes = next((v.value for k, v in node.value if k.value == "options"), [])
    seen: set[str] = set()
    correct = 0
    for option, option_node in zip(options, option_nodes, strict=True):
        option_line = _line(option_node, fence_line)
        if not isinstance(option, dict) or "text" not in option:
            problems.append(Problem(path, option_line, "each option needs 'text:', such as '- {text: \"1/2\", correct: true}'"))
            continue
        for key in option:
            if key not in OPTION_KEYS:
                problems.append(Problem(path, option_line, f"unknown key '{key}' in a quiz option (allowed: correct, feedback, text)"))
        text = str(option["text"]).strip()
        if text.lower() in seen:
            problems.append(Problem(path, option_line, f"option '{text}' is there twice"))
        seen.add(text.lower())
        if option.get("correct", False) not in (True, False):
            problems.append(Problem(path, option_line, "'correct' must be true or false"))
        correct += option.get("correct") is True
    if kind == "single" and correct != 1:
        problems.append(Problem(path, line, f"a single-choice question needs exactly one option with 'correct: true' (it has {correct})"))
    if kind == "multiple" and correct == 0:
        problems.append(Problem(path, line, "a multiple-choice question needs at least one option with 'correct: true'"))


def _check_feedback(feedback: Any, line: int, path: Path, problems: list[Problem]) -> None:
    if feedback is None:
        return
    if not isinstance(feedback, dict) or not set(feedback) <= FEEDBACK_KEYS:
        problems.append(Problem(path, line, "'feedback' must be '{correct: ..., wrong: ...}' (either may be left out)"))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# Rendering

def render(markdown: str, strings: dict[str, str], quiz_id: str) -> str:
    """Replace each quiz block of `markdown` (already checked) with its HTML form."""
    parts, last = [], 0
    for number, block in enumerate(find_quizzes(markdown, 1, Path(quiz_id), [])):
        parts.append(markdown[last:block.start])
        parts.append(render_block(block.questions, strings, f"{quiz_id}-{number}"))
        last = block.end
    parts.append(markdown[last:])
    return "".join(parts)


def render_block(questions: list[dict], strings: dict[str, str], quiz_id: str) -> str:
    """A <form> a learner can answer without JavaScript's help to read it; quiz.js scores it."""
    e = html.escape
    out = [f'<form class="satchel-quiz" data-satchel-quiz="{e(quiz_id)}" data-answers="{e(json.dumps(_answers(questions), ensure_ascii=False))}">']
    for n, q in enumerate(questions):
        name = f"{quiz_id}-{n}"
        out.append(f'<fieldset class="satchel-quiz__question" data-type="{e(q["type"])}"><legend>{e(str(q["question"]))}</legend>')
        if q["type"] in ("single", "multiple", "truefalse"):
            options = q.get("options") or [{"text": strings["quiz_true"]}, {"text": strings["quiz_false"]}]
            kind = "checkbox" if q["type"] == "multiple" else "radio"
            for i, option in enumerate(options):
                out.append(f'<label><input type="{kind}" name="{e(name)}" value="{i}"> {e(str(option["text"]))}</label>')
        elif q["type"] == "number":
            out.append(f'<input type="text" inputmode="decimal" name="{e(name)}" aria-label="{e(strings["quiz_answer"])}" autocomplete="off">')
        else:
            out.append(f'<input type="text" name="{e(name)}" aria-label="{e(strings["quiz_answer"])}" autocomplete="off">')
        out.append('<p class="satchel-quiz__feedback" aria-live="polite" hidden></p></fieldset>')
    out.append(f'<p class="satchel-quiz__actions"><button type="submit" class="md-button md-button--primary">{e(strings["quiz_check"])}</button> '
               f'<output class="satchel-quiz__score" aria-live="polite"></output></p></form>')
    return "\n\n" + "".join(out) + "\n\n"


def _answers(questions: list[dict]) -> list[dict]:
    """What quiz.js needs to score each question and show its feedback."""
    answers = []
    for q in questions:
        feedback = q.get("feedback") if isinstance(q.get("feedback"), dict) else {}
        entry: dict[str, Any] = {"type": q["type"], "correct": feedback.get("correct", ""), "wrong": feedback.get("wrong", "")}
        if q["type"] in ("single", "multiple"):
            entry["options"] = [{"correct": bool(o.get("correct")), "feedback": str(o.get("feedback", ""))} for o in q["options"]]
        elif q["type"] == "truefalse":
            entry["options"] = [{"correct": q["answer"] is True, "feedback": ""}, {"correct": q["answer"] is False, "feedback": ""}]
        elif q["type"] == "number":
            entry.update(answer=q["answer"], tolerance=q.get("tolerance", 0))
        else:
            accept = q["accept"] if isinstance(q["accept"], list) else [q["accept"]]
            entry["accept"] = [str(a) for a in accept]
        answers.append(entry)
    return answers
