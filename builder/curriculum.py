"""The curriculum model: languages, subjects, units and lessons, read from a curriculum folder.

`load_curriculum(path)` returns the model and every problem found; nothing here depends on mkdocs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import headings, media, schema
from .frontmatter import Document, load_yaml, read_document
from .links import check_links
from .problems import CurriculumError, Problem
from .quiz import find_quizzes

CONFIG_FILE = "curriculum.yml"
STRINGS_DIR = "strings"  # optional interface translations, strings/<code>.yml
RTL_LANGUAGES = {"ar", "he", "fa", "ur", "ps", "ckb", "dv", "yi", "sd", "ug"}
# A BCP 47 language tag (RFC 5646): language (2 or 3 letters), up to three extended language
# subtags, script (4 letters), region (2 letters or 3 digits), variants; any case. Examples: en,
# tet, fil, ckb, pt-TL, zh-CN, sr-Latn, zh-Hant-TW, sl-rozaj. Not taken: the 5-8 letter languages
# no registry has ('english' is a mistake), private-use and extension subtags (a language folder's
# name stays simple).
LANGUAGE_CODE_RE = re.compile(r"^[a-z]{2,3}(?:-[a-z]{3}){0,3}(?:-[a-z]{4})?(?:-(?:[a-z]{2}|[0-9]{3}))?"
                              r"(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*$", re.IGNORECASE)


def canonical_tag(tag: str) -> str:
    """A language tag in its one canonical case (RFC 5646, 2.1.1): 'ZH-cn' -> 'zh-CN',
    'sr-latn' -> 'sr-Latn', 'TET' -> 'tet'. `_` is read as `-`."""
    parts = tag.replace("_", "-").split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            out.append(part.title())
        elif len(part) == 2 and part.isalpha():
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# Top-level names of a bundle (docs/bundle.md) and of a hub (docs/hub.md): no subject may take them.
RESERVED_TOP = {"api", "assets", "icons", "satchel", "search", "sw.js", "tv"}  # tv: the classroom TV page (builder/tv.py)
# Top-level names a folder of media cannot take: the bundle's and hub's own (assets/ is let in, beside material's).
RESERVED_MEDIA = {"api", "icons", "satchel", "search", "sw.js", STRINGS_DIR}
# A teacher's box inside a quote: the build takes teacher's boxes out of learners' pages only at the
# top level of the Markdown (or indented under a list item), builder/tv.py.
QUOTED_TEACHER_RE = re.compile(r"^[ \t]*>[ \t>]*(?:!!!|\?\?\?\+?)[ \t]+(?i:teacher)\b", re.M)
QUOTED_TEACHER = ("a teacher's box inside a quote would show on the learners' page: put `!!! teacher` at the start of a line, "
                  "outside the quote")
CURRICULUM_KEYS = {"id", "version", "title", "description", "languages", "colours", "icon", "media"}
LANGUAGE_KEYS = {"code", "name", "default", "dir", "fallback"}
DEFAULT_COLOURS = {"primary": "#1f6f5c", "accent": "#f2a541"}
MISPLACED_LESSON = "a lesson must sit in a unit folder inside a subject folder, such as mathematics/fractions/halves.md"
LESSON_FILES = ("index.md", "README.md")  # a folder inside a unit holding one of these is a lesson
MARKDOWN_SUFFIXES = (".md", ".markdown")


@dataclass
class Language:
    code: str
    name: str
    default: bool = False
    dir: str = "ltr"
    fallbacks: tuple[str, ...] = ()  # languages whose interface strings stand in for missing ones (tet -> pt), before English


@dataclass
class Node:
    """A subject, a unit or a lesson: the same id in every language, a document per language."""

    id: str
    slug: str
    docs: dict[str, Document] = field(default_factory=dict)

    @property
    def order(self) -> tuple[float, str]:
        values = [d.meta.get("order") for d in self.docs.values() if isinstance(d.meta.get("order"), int)]
        return (values[0] if values else math.inf, self.slug)

    def meta(self, key: str, language: str, default_language: str) -> Any:
        for code in (language, default_language):
            doc = self.docs.get(code)
            if doc is not None and key in doc.meta:
                return doc.meta[key]
        return None

    def has(self, language: str) -> bool:
        return language in self.docs


@dataclass
class Lesson(Node):
    unit: Unit | None = None


@dataclass
class Page(Node):
    """Markdown of a unit that is not a lesson (an assignment, a glossary), beside a lesson's README.md:
    built and packed with its subject, not counted, not in the lesson pager."""

    unit: Unit | None = None


@dataclass
class Unit(Node):
    subject: Subject | None = None
    lessons: list[Lesson] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)


@dataclass
class Subject(Node):
    units: list[Unit] = field(default_factory=list)

    @property
    def lessons(self) -> list[Lesson]:
        return [lesson for unit in self.units for lesson in unit.lessons]


@dataclass
class Curriculum:
    root: Path
    id: str
    version: str
    titles: dict[str, str]
    descriptions: dict[str, str]
    languages: list[Language]
    colours: dict[str, str]
    icon: Path | None
    subjects: list[Subject] = field(default_factory=list)
    homes: dict[str, Document] = field(default_factory=dict)
    media: Any = None  # media.Settings: curriculum.yml's `media:` (builder/media.py)
    media_uses: dict = field(default_factory=dict)  # document path -> its media links, checked (media.Use)
    warnings: list[Problem] = field(default_factory=list)  # shown, but the build goes on (a video without a poster)

    @property
    def default_language(self) -> Language:
        return next(lang for lang in self.languages if lang.default)

    def language(self, code: str) -> Language:
        return next(lang for lang in self.languages if lang.code == code)

    def title(self, code: str) -> str:
        return self.titles.get(code) or self.titles[self.default_language.code]

    def description(self, code: str) -> str:
        return self.descriptions.get(code) or self.descriptions.get(self.default_language.code, "")

    @property
    def units(self) -> list[Unit]:
        return [unit for subject in self.subjects for unit in subject.units]

    @property
    def lessons(self) -> list[Lesson]:
        return [lesson for subject in self.subjects for lesson in subject.lessons]

    def nodes(self) -> list[Node]:
        return list(self._index().values())

    def documents(self) -> list[Document]:
        """Every Markdown file read: the languages' homes, then each node's file in each language."""
        return [*self.homes.values(), *(doc for node in self.nodes() for doc in node.docs.values())]

    def node(self, node_id: str) -> Node | None:
        return self._index().get(node_id)

    def _index(self) -> dict[str, Node]:
        if not hasattr(self, "_nodes"):
            nodes: dict[str, Node] = {}
            for subject in self.subjects:
                nodes[subject.id] = subject
                for unit in subject.units:
                    nodes[unit.id] = unit
                    nodes.update((lesson.id, lesson) for lesson in unit.lessons)
                    nodes.update((page.id, page) for page in unit.pages)
            self._nodes = nodes
        return self._nodes


def load_curriculum(root: Path) -> tuple[Curriculum | None, list[Problem]]:
    """Read the curriculum at `root`. Returns the model (None if unreadable) and all problems."""
    root = Path(root).resolve()
    problems: list[Problem] = []
    config_path = root / CONFIG_FILE
    if not config_path.is_file():
        problems.append(Problem(root, 0, f"is not a curriculum: it has no {CONFIG_FILE} (see docs/curriculum-format.md)"))
        return None, problems
    curriculum = _read_config(config_path, problems)
    if curriculum is None:
        return None, problems
    _check_top_level(curriculum, problems)
    for language in curriculum.languages:
        _read_language(curriculum, language.code, problems)
    _sort(curriculum)
    _check_default_has_everything(curriculum, problems)
    _check_prerequisites(curriculum, problems)
    curriculum.media = media.read_settings(config_path, problems)
    curriculum.media_uses = media.check(curriculum, problems, curriculum.warnings)
    return curriculum, problems


def require_valid(root: Path) -> Curriculum:
    """Load the curriculum, raising CurriculumError with every problem if there is any."""
    curriculum, problems = load_curriculum(root)
    if problems or curriculum is None:
        raise CurriculumError(problems, Path(root).resolve())
    return curriculum


# curriculum.yml

def _read_config(path: Path, problems: list[Problem]) -> Curriculum | None:
    try:
        text = path.read_text(encoding="utf-8")
        node, data = load_yaml(text)
    except UnicodeDecodeError:
        problems.append(Problem(path, 0, "is not UTF-8 text: save it as UTF-8"))
        return None
    except yaml.MarkedYAMLError as err:
        mark = err.context_mark or err.problem_mark
        problems.append(Problem(path, mark.line + 1 if mark else 0, f"is not valid YAML: {err.problem or err}"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(path, 1, "must be a mapping of keys such as 'id:', 'version:', 'languages:'"))
        return None
    lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value} if isinstance(node, yaml.MappingNode) else {}

    for key in data:
        if key not in CURRICULUM_KEYS:
            problems.append(Problem(path, lines.get(str(key), 1), f"unknown key '{key}' (allowed: {', '.join(sorted(CURRICULUM_KEYS))})"))
    for key in ("id", "version", "title", "languages"):
        if key not in data:
            problems.append(Problem(path, 1, f"has no '{key}': add it (see docs/curriculum-format.md)"))

    curriculum_id = str(data.get("id", ""))
    if "id" in data and not ID_RE.match(curriculum_id):
        problems.append(Problem(path, lines["id"], f"'id' must be lower-case letters, digits and dashes, such as 'math-grade-3' (got '{curriculum_id}')"))

    languages = _read_languages(data.get("languages"), path, lines.get("languages", 1), problems)
    codes = [lang.code for lang in languages]
    default = next((lang.code for lang in languages if lang.default), None)

    titles = _per_language(data.get("title"), "title", codes, default, path, lines.get("title", 1), problems)
    descriptions = _per_language(data.get("description", ""), "description", codes, None, path, lines.get("description", 1), problems)

    colours = dict(DEFAULT_COLOURS)
    raw_colours = data.get("colours") or {}
    if not isinstance(raw_colours, dict):
        problems.append(Problem(path, lines.get("colours", 1), "'colours' must have 'primary:' and 'accent:' colours such as \"#1f6f5c\""))
        raw_colours = {}
    for name, value in raw_colours.items():
        if name not in DEFAULT_COLOURS:
            problems.append(Problem(path, lines.get("colours", 1), f"unknown colour '{name}' (allowed: accent, primary)"))
        elif not isinstance(value, str) or not schema.HEX_COLOUR_RE.match(value):
            problems.append(Problem(path, lines.get("colours", 1), f"colour '{name}' must be a quoted hex colour such as \"#1f6f5c\" (got {value!r})"))
        else:
            colours[name] = value

    icon = None
    if data.get("icon") is not None:
        icon = _check_icon(path.parent / str(data["icon"]), path, lines.get("icon", 1), problems)

    # Problems here are reported with the rest: the lessons are read whenever the languages, their
    # default and the curriculum's id, version and title are known (one problem never hides others).
    if not languages or default is None or any(key not in data for key in ("id", "version", "title")) or not titles.get(default):
        return None
    return Curriculum(
        root=path.parent, id=curriculum_id, version=str(data["version"]), titles=titles,
        descriptions=descriptions, languages=languages, colours=colours, icon=icon,
    )


def _read_languages(raw: Any, path: Path, line: int, problems: list[Problem]) -> list[Language]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not raw:
        problems.append(Problem(path, line, "'languages' must be a list such as '- {code: en, name: English, default: true}'"))
        return []
    languages: list[Language] = []
    for index, item in enumerate(raw, start=1):
        where = f"language {index}"
        if not isinstance(item, dict) or "code" not in item or "name" not in item:
            problems.append(Problem(path, line, f"{where} needs a 'code' and a 'name', such as '{{code: fr, name: Français}}'"))
            continue
        for key in item:
            if key not in LANGUAGE_KEYS:
                problems.append(Problem(path, line, f"{where} has unknown key '{key}' (allowed: {', '.join(sorted(LANGUAGE_KEYS))})"))
        code = str(item["code"]).strip()
        if not LANGUAGE_CODE_RE.match(code):
            problems.append(Problem(path, line, f"language code '{code}' is not a BCP 47 language tag: write the language "
                                                "(2 or 3 letters), then optionally a script and a region, such as 'fr', 'tet', "
                                                "'pt-TL', 'zh-CN' or 'sr-Latn'"))
            continue  # the other languages are still read and checked
        code = canonical_tag(code)
        if code in {lang.code for lang in languages}:
            problems.append(Problem(path, line, f"language '{code}' is declared twice"))
        direction = item.get("dir", "rtl" if code.split("-")[0].split("_")[0] in RTL_LANGUAGES else "ltr")
        if direction not in ("ltr", "rtl"):
            problems.append(Problem(path, line, f"language '{code}': 'dir' must be ltr or rtl (got {direction!r})"))
        raw_fallbacks = item.get("fallback") or []
        fallbacks = []
        for tag in raw_fallbacks if isinstance(raw_fallbacks, list) else [raw_fallbacks]:
            if isinstance(tag, str) and LANGUAGE_CODE_RE.match(tag.strip()):
                fallbacks.append(canonical_tag(tag.strip()))
            else:
                problems.append(Problem(path, line, f"language '{code}': 'fallback' must be a language tag or a list of them, "
                                                    f"such as 'fallback: pt' or 'fallback: [pt, es]' (got {tag!r})"))
        languages.append(Language(code, str(item["name"]), bool(item.get("default", False)), direction, tuple(fallbacks)))
    defaults = [lang.code for lang in languages if lang.default]
    if len(defaults) != 1:
        found = "none" if not defaults else ", ".join(defaults)
        problems.append(Problem(path, line, f"exactly one language must have 'default: true' (found: {found})"))
    return languages


def _per_language(raw: Any, key: str, codes: list[str], required: str | None, path: Path, line: int, problems: list[Problem]) -> dict[str, str]:
    if isinstance(raw, str):
        return {code: raw for code in codes}
    if not isinstance(raw, dict):
        problems.append(Problem(path, line, f"'{key}' must be text, or one text per language such as 'en: ...'"))
        return {}
    texts = {canonical_tag(str(k)) if LANGUAGE_CODE_RE.match(str(k)) else str(k): str(v) for k, v in raw.items()}
    for code in texts:
        if code not in codes:
            problems.append(Problem(path, line, f"'{key}' has a text for '{code}', which is not a declared language"))
    if required and not texts.get(required):
        problems.append(Problem(path, line, f"'{key}' needs a text for the default language '{required}'"))
    return texts


def _check_icon(icon: Path, path: Path, line: int, problems: list[Problem]) -> Path | None:
    if not icon.is_file():
        problems.append(Problem(path, line, f"icon '{icon.name}' does not exist beside curriculum.yml"))
        return None
    from PIL import Image
    try:
        with Image.open(icon) as image:
            size, kind = image.size, image.format
    except OSError:
        problems.append(Problem(path, line, f"icon '{icon.name}' is not an image Satchel can read: use a PNG"))
        return None
    if kind != "PNG" or size[0] != size[1] or size[0] < 512:
        problems.append(Problem(path, line, f"icon '{icon.name}' must be a square PNG of at least 512 x 512 pixels (it is a {kind} of {size[0]} x {size[1]})"))
        return None
    return icon


# Folders and files

def _check_top_level(curriculum: Curriculum, problems: list[Problem]) -> None:
    codes = {lang.code for lang in curriculum.languages}
    for entry in sorted(curriculum.root.iterdir()):
        if entry.name.startswith(".") or entry.name in (CONFIG_FILE, STRINGS_DIR) or entry == curriculum.icon:
            continue
        if entry.is_dir() and entry.name.lower() not in RESERVED_MEDIA and not entry.name.lower().startswith("workbox-") \
                and not _markdown_in(entry):
            continue  # a folder of images and media shared by every language, /shared/map.png in a lesson
        if entry.is_dir() and entry.name not in codes and entry.name.replace("_", "-").lower() not in {c.lower() for c in codes}:
            problems.append(Problem(entry, 0, f"folder '{entry.name}' is not a declared language: "
                                               "add it to 'languages' in curriculum.yml, or move it out of the curriculum"))
        elif entry.is_file():
            problems.append(Problem(entry, 0, "files at the top of a curriculum are not published: put lessons in a language folder"))
    for code in sorted(codes):
        if (curriculum.root / code).is_dir():
            continue
        # A folder named by the tag in another case ('zh-cn'): URLs, packs and search use the canonical name.
        other = [f for f in curriculum.root.iterdir() if f.is_dir() and f.name.replace("_", "-").lower() == code.lower()]
        if other:
            problems.append(Problem(other[0], 0, f"is the folder of language '{code}': rename it to '{code}' (language "
                                                 "folders are named by the tag in its canonical case, as URLs are)"))
        else:
            problems.append(Problem(curriculum.root / CONFIG_FILE, 0, f"language '{code}' is declared but has no folder '{code}/'"))


def _children(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith((".", "_")))


def _read_language(curriculum: Curriculum, code: str, problems: list[Problem]) -> None:
    language_dir = curriculum.root / code
    if not language_dir.is_dir():
        return
    fallback_dir = curriculum.root / curriculum.default_language.code
    seen: dict[str, Path] = {}

    def read(path: Path, fields: tuple, kind: str) -> Document:
        doc = read_document(path, problems)
        headings.take_title(doc)
        schema.validate(doc, fields, kind, problems)
        check_links(doc, language_dir, fallback_dir, problems)
        return doc

    def claim(node_id: str, path: Path) -> None:
        key = node_id.lower()
        if key in seen:
            problems.append(Problem(path, 0, f"duplicate id '{node_id}': '{seen[key].relative_to(language_dir)}' has the same id "
                                              "(ids ignore letter case and '.md'); rename one"))
        else:
            seen[key] = path

    for entry in _children(language_dir):
        if entry.name == "index.md":
            curriculum.homes[code] = read(entry, schema.HOME_FIELDS, "home page")
            continue
        if not entry.is_dir():
            if entry.suffix == ".md":
                problems.append(Problem(entry, 0, MISPLACED_LESSON))
            continue
        if not any(not media.is_side_file(p) for p in entry.rglob("*.md")):
            continue  # a folder of this language's images and media (en/shared/map.png), published as it is
        reserved = RESERVED_TOP | {lang.code for lang in curriculum.languages}
        if entry.name.lower() in reserved or entry.name.lower().startswith("workbox-"):
            problems.append(Problem(entry, 0, f"a subject cannot be called '{entry.name}': the bundle and the hub use that name at the top "
                                              f"({', '.join(sorted(reserved))}, workbox-*); rename the folder"))
            continue
        subject = _node(curriculum.subjects, Subject, entry.name)
        claim(subject.id, entry)
        _read_subject(curriculum, code, entry, subject, read, claim, problems)


def _node(nodes: list, kind: type, node_id: str, **links):
    """The subject, unit or lesson of that id that an earlier language added, else a new one."""
    for node in nodes:
        if node.id == node_id:
            return node
    nodes.append(kind(node_id, node_id.rsplit("/", 1)[-1], **links))
    return nodes[-1]


def _read_index(curriculum, code, folder: Path, node: Node, fields, kind: str, read, problems) -> Document | None:
    """Read the index.md of a subject or unit; the default language must have one."""
    index = folder / "index.md"
    if index.is_file():
        node.docs[code] = read(index, fields, kind)
        return node.docs[code]
    if code == curriculum.default_language.code:
        problems.append(Problem(folder, 0, f"{kind} has no index.md: add one with 'title: ...' in its front matter"))
    return None


def _read_subject(curriculum, code, folder: Path, subject: Subject, read, claim, problems) -> None:
    _read_index(curriculum, code, folder, subject, schema.SUBJECT_FIELDS, "subject", read, problems)
    for entry in _children(folder):
        if entry.is_file():
            if entry.suffix == ".md" and entry.name != "index.md" and not media.is_side_file(entry):
                problems.append(Problem(entry, 0, MISPLACED_LESSON))
            continue
        unit = _node(subject.units, Unit, f"{subject.id}/{entry.name}", subject=subject)
        claim(unit.id, entry)
        _read_unit(curriculum, code, entry, unit, read, claim, problems)


def _read_unit(curriculum, code, folder: Path, unit: Unit, read, claim, problems) -> None:
    index = folder / "index.md"
    doc = _read_index(curriculum, code, folder, unit, schema.UNIT_FIELDS, "unit", read, problems)
    if doc is not None:
        illustration = doc.meta.get("illustration")
        if isinstance(illustration, str) and not (folder / illustration).is_file():
            fallback = curriculum.root / curriculum.default_language.code / unit.id / illustration
            if not fallback.is_file():
                problems.append(Problem(index, doc.line_of("illustration"), f"illustration '{illustration}' does not exist beside this index.md"))

    def read_lesson(lesson_id: str, path: Path) -> None:
        lesson = _node(unit.lessons, Lesson, lesson_id, unit=unit)
        claim(lesson.id, path)
        doc = lesson.docs[code] = read(path, schema.LESSON_FIELDS, "lesson")
        find_quizzes(doc.body, doc.body_line, doc.path, problems)
        for match in QUOTED_TEACHER_RE.finditer(doc.body):
            problems.append(Problem(doc.path, doc.body_line + doc.body.count("\n", 0, match.start()), QUOTED_TEACHER))

    for entry in _children(folder):
        if entry.is_dir():
            source = _lesson_file(entry, problems)
            if source is None:
                _check_media_folder(entry, "inside a unit is a lesson when it holds README.md or index.md: add one, or move "
                                           "this file into the unit as a lesson of its own", problems)
                continue
            read_lesson(f"{unit.id}/{entry.name}", source)
            for path in _markdown_in(entry):
                if path.parent == entry and path.name in LESSON_FILES or media.is_side_file(path):
                    continue
                if path.suffix != ".md":
                    problems.append(Problem(path, 0, "pages must end in '.md' (lower case)"))
                    continue
                page_path = path.relative_to(folder).with_suffix("").as_posix()
                page_path = page_path.removesuffix("/index").removesuffix("/README")  # as mkdocs builds it: extra/README.md -> extra/
                page = _node(unit.pages, Page, f"{unit.id}/{page_path}", unit=unit)
                claim(page.id, path)
                page.docs[code] = read(path, schema.PAGE_FIELDS, "page")
            continue
        if entry.suffix.lower() in MARKDOWN_SUFFIXES and entry.name != "index.md" and not media.is_side_file(entry):
            if entry.suffix != ".md":
                problems.append(Problem(entry, 0, "lessons must end in '.md' (lower case)"))
                continue
            read_lesson(f"{unit.id}/{entry.stem}", entry)


def _markdown_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in MARKDOWN_SUFFIXES and p.is_file()
                  and not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts) and not media.is_side_file(p))


def _lesson_file(folder: Path, problems: list[Problem]) -> Path | None:
    """The README.md or index.md that makes `folder` a lesson (index.md when both: mkdocs skips README.md)."""
    found = [folder / name for name in LESSON_FILES if (folder / name).is_file()]
    if len(found) == 2:
        problems.append(Problem(found[1], 0, "sits beside index.md, and a lesson folder has one of them: merge README.md "
                                             "into index.md and delete it"))
    return found[0] if found else None


def _check_media_folder(folder: Path, why: str, problems: list[Problem]) -> None:
    """A folder of images and media is published as it is; Markdown in it would be lost, so it is reported."""
    for path in _markdown_in(folder):
        problems.append(Problem(path, 1, f"is in '{folder.name}/', which is a folder of media, not read as Markdown: a folder {why}"))


def _sort(curriculum: Curriculum) -> None:
    curriculum.subjects.sort(key=lambda n: n.order)
    for subject in curriculum.subjects:
        subject.units.sort(key=lambda n: n.order)
        for unit in subject.units:
            unit.lessons.sort(key=lambda n: n.order)


def _check_default_has_everything(curriculum: Curriculum, problems: list[Problem]) -> None:
    default = curriculum.default_language.code
    for node in curriculum._index().values():
        if not node.has(default) and node.docs:
            code, doc = next(iter(node.docs.items()))
            if isinstance(node, Lesson):
                problems.append(Problem(doc.path, 0, f"lesson '{node.id}' exists in '{code}' but not in the default language '{default}', "
                                                     f"which every language falls back to: add {default}/{node.id}.md"))


def _check_prerequisites(curriculum: Curriculum, problems: list[Problem]) -> None:
    lessons = {lesson.id: lesson for lesson in curriculum.lessons}
    for lesson in lessons.values():
        for doc in lesson.docs.values():
            for prerequisite in doc.meta.get("prerequisites") or []:
                if not isinstance(prerequisite, str):
                    continue
                if prerequisite == lesson.id:
                    problems.append(Problem(doc.path, doc.line_of("prerequisites"), "a lesson cannot be its own prerequisite"))
                elif prerequisite not in lessons:
                    problems.append(Problem(doc.path, doc.line_of("prerequisites"), f"prerequisite '{prerequisite}' is not a lesson id; ids look like "
                                            "'mathematics/fractions/halves' (the path without the language folder and '.md')"))
