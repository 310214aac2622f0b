"""Classroom TV mode (docs/curriculum-format.md, "Teacher's notes and the TV"): the `!!! teacher`
boxes taken out of every learner page into a per-lesson notes file, and the TV page of a language.

`<lang>/tv/` is one static page per language (theme/tv.html, theme/assets/satchel/tv.js): the
lesson picker, the lesson in screens, and the presenter view (`?presenter`). Its notes files,
`<lang>/tv/notes/<lesson id>.json`, are in no pack and no precache: only the presenter view asks
for them (docs/security.md says what that means).
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import markdown as markdown_lib

from .curriculum import Curriculum
from .pages import TV_SLUG, PageContext, language_prefix
from .site_config import MARKDOWN_EXTENSIONS

# `!!! teacher`, `!!! teacher "Title"`, `??? teacher` and `???+ teacher` (any indentation, any case,
# other classes after it as the admonition extension allows: `!!! teacher inline`), and the lines
# indented under it (blank lines included, as the admonition extension reads them).
TEACHER_RE = re.compile(
    r'^(?P<indent>[ \t]*)(?:!!!|\?\?\?\+?)[ \t]+(?i:teacher)(?:[ \t]+[\w-]+)*(?:[ \t]+"(?P<title>[^"\n]*)")?[ \t]*(?:\n|\Z)'
    r'(?P<body>(?:(?P=indent)(?: {4}|\t)[^\n]*\n|[ \t]*\n)*)', re.M)
# What the admonition extension makes of a teacher's box left in the Markdown: never in a learner's page.
LEFT_IN_PAGE_RE = re.compile(r'<(?:div|details)\b[^>]*\bclass="(?:admonition )?teacher\b', re.I)
FENCE_RE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\n.*?^[ \t]*\1[ \t]*$", re.M | re.S)
HEADING_RE = re.compile(r"^#{2,6}[ \t]", re.M)  # a lesson's sections: the TV counts its h2..h6 the same way (tv.js)
NOTES_DIR = "notes"
TV_STRINGS = ("title", "present", "subjects", "units", "lessons", "back", "screen", "keys", "reveal", "countdown", "answer",
              "presenter", "notes", "no_notes", "next_up", "class_result", "right", "learners", "keep", "kept", "class",
              "mark_taught", "taught", "taught_failed", "sign_in", "failed", "end", "open_tv")


def extract_notes(markdown: str) -> tuple[str, list[dict]]:
    """`markdown` without its teacher boxes, and the boxes: [{section, title, markdown}], where
    `section` is how many headings (## to ######) come before the box: the TV's screens of that section
    show it in the presenter view. Boxes inside fenced code are left alone."""
    fences = [(m.start(), m.end()) for m in FENCE_RE.finditer(markdown)]
    notes, parts, last = [], [], 0
    for match in TEACHER_RE.finditer(markdown):
        if any(start <= match.start() < end for start, end in fences):
            continue
        body = textwrap.dedent(match.group("body").replace("\t", "    ")).strip("\n")
        before = markdown[:match.start()]
        section = len([h for h in HEADING_RE.finditer(before) if not any(s <= h.start() < e for s, e in fences)])
        notes.append({"section": section, "title": match.group("title") or "", "markdown": body})
        parts.append(markdown[last:match.start()])
        parts.append("\n")
        last = match.end()
    if not notes:
        return markdown, []
    parts.append(markdown[last:])
    return "".join(parts), notes


def notes_url(curriculum: Curriculum, code: str, lesson_id: str) -> str:
    """The bundle-relative URL of a lesson's notes: '<lang>/tv/notes/<lesson id>.json'."""
    return f"{language_prefix(curriculum, code)}{TV_SLUG}/{NOTES_DIR}/{lesson_id}.json"


def write_notes(site_dir: Path, curriculum: Curriculum, code: str, lesson_id: str, notes: list[dict]) -> None:
    """The lesson's notes, their Markdown made HTML, for the presenter view."""
    names = [e if isinstance(e, str) else next(iter(e)) for e in MARKDOWN_EXTENSIONS]
    configs = {next(iter(e)): next(iter(e.values())) for e in MARKDOWN_EXTENSIONS if isinstance(e, dict)}
    shown = [{"section": note["section"], "title": note["title"],
              "html": markdown_lib.markdown(note["markdown"], extensions=names, extension_configs=configs)} for note in notes]
    path = Path(site_dir) / notes_url(curriculum, code, lesson_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"lesson": lesson_id, "notes": shown}, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def tv_markdown(curriculum: Curriculum, code: str) -> str:
    """The generated TV page of a language (its content is drawn by theme/tv.html)."""
    from .strings import ui_strings
    title = ui_strings(code, curriculum.root, curriculum.language(code).fallbacks).get("tv_title", "Present a lesson")
    return f"---\ntitle: {json.dumps(title, ensure_ascii=False)}\n---\n"


def tv_config(context: PageContext) -> dict:
    """What tv.js needs: the language, its words, and the lessons to pick (subjects, units, lessons),
    each lesson's page and notes relative to the TV page."""
    up = "../"  # the TV page is <lang>/tv/, beside the language's lessons
    default = context.default
    subjects = []
    for subject in context.curriculum.subjects:
        units = [{"title": context.title(unit),
                  "lessons": [{"id": lesson.id, "title": context.title(lesson), "url": f"{up}{lesson.id}/",
                               "notes": f"{NOTES_DIR}/{lesson.id}.json"} for lesson in unit.lessons]}
                 for unit in subject.units if unit.lessons]
        if units:
            subjects.append({"title": context.title(subject), "units": units})
    return {"language": context.code, "dir": context.language.dir, "curriculum": context.curriculum.id, "default": default,
            "strings": {key: context.spec(f"tv_{key}") for key in TV_STRINGS}, "subjects": subjects}
