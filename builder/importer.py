"""`satchel import`: turn a multilingual Markdown course in a common layout into a Satchel curriculum.

Layouts read (docs/importing.md): lesson folders with `README.md` and `translations/README.<lang>.md`
(Microsoft's "*-For-Beginners"), mkdocs-static-i18n's suffix (`page.fr.md`) and folder (`docs/fr/`)
layouts, and Docusaurus (`docs/` with `i18n/<lang>/docusaurus-plugin-content-docs/current/`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import yaml

from .curriculum import LANGUAGE_CODE_RE, canonical_tag
from .frontmatter import FRONT_MATTER_RE
from .problems import Problem

PAGE_SUFFIXES = (".md", ".mdx", ".markdown")
INDEX_NAMES = ("index", "readme", "_index")
# Files about the repository rather than the course: never lessons.
REPOSITORY_FILES = {"license", "contributing", "code_of_conduct", "security", "support", "changelog", "source"}
SKIPPED_DIRS = {".git", ".github", "node_modules", "site", "build", ".docusaurus", "i18n", "translations", "static"}
ROOT_UNIT = "lessons"  # the unit of the pages that sit at the top of a course, outside any folder

FENCE_RE = re.compile(r"^( {0,3})(`{3,}|~{3,}).*?^\1\2[ \t]*$", re.S | re.M)
INLINE_CODE_RE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
H1_RE = re.compile(r"^ {0,3}# +(.+?)(?: +#+)? *$", re.M)
SETEXT_H1_RE = re.compile(r"^(?! {0,3}[-*>#|])(\S[^\n]*)\n {0,3}=+ *$", re.M)
LINK_RE = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*(<[^>]*>|(?:[^()\s]|\([^()\s]*\))+)((?:\s+[\"'(][^)]*)?)\)")
DEFINITION_RE = re.compile(r"^( {0,3}\[[^\]]+\]:[ \t]*)(<[^>]*>|\S+)", re.M)
TAG_RE = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", re.S)
URL_ATTR_RE = re.compile(r"""\b(src|href|poster|data)\s*=\s*(["'])([^"']*)\2""", re.I)
MDX_IMPORT_RE = re.compile(r"^(?:import|export)\s.*$", re.M)
ADMONITION_RE = re.compile(r"^:::[ \t]*(\w+)(?:[ \t]+(.*?))?[ \t]*\n(.*?)^:::[ \t]*$", re.S | re.M)
GITHUB_ALERT_RE = re.compile(r"^> \[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\][ \t]*\n((?:>.*\n?)*)", re.M)
NUMBER_PREFIX_RE = re.compile(r"^(\d+)[-_. ]")
# What a page would load, as opposed to follow; an element we cannot bring is reported.
LOADING_TAGS = {"img", "source", "video", "audio", "track", "iframe", "object", "embed", "script", "link", "style"}
UNMAPPED_TAGS = {"iframe", "script", "style", "form", "object", "embed", "link"}


@dataclass
class SourcePage:
    """One Markdown file of the course: its place in the course (`key`, the same in every language)."""

    key: str  # a POSIX path without language and extension; a folder's README/index ends in '/index'
    language: str
    path: Path
    docs_root: Path  # where absolute links ('/img/x.png') and shared folders resolve


@dataclass
class Course:
    layout: str
    title: str
    default_language: str
    languages: dict[str, str]  # canonical tag -> name
    pages: list[SourcePage]
    static_roots: list[Path] = field(default_factory=list)
    folder_titles: dict[str, tuple[str, int | None]] = field(default_factory=dict)  # Docusaurus _category_


@dataclass
class ImportResult:
    curriculum: Path
    lessons: int
    languages: list[str]
    problems: list[Problem]


class CourseImportError(Exception):
    """The course could not be imported at all (not a layout we know, DEST not empty)."""


# Finding the layout

def read_course(source: Path, default_language: str | None = None) -> Course:
    """Recognise the layout of `source` and list its pages."""
    source = source.resolve()
    if (source / "i18n").is_dir() and any((source / "i18n").glob("*/docusaurus-plugin-content-docs")) or \
            any(source.glob("docusaurus.config.*")):
        return _docusaurus(source, default_language)
    if (source / "mkdocs.yml").is_file():
        return _mkdocs(source, default_language)
    if any(source.rglob("translations/*.md")):
        return _translations(source, default_language or "en")
    if any(_suffix_language(p.name, None) for p in source.rglob("*.md")):
        return _mkdocs_suffix(source, source, "en" if default_language is None else default_language, {}, _folder_title(source))
    raise CourseImportError(f"{source} is not a course layout Satchel can import: see docs/importing.md for the layouts it reads")


def _pages_under(root: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith("."))
        found += [Path(dirpath, f) for f in sorted(filenames) if f.lower().endswith(PAGE_SUFFIXES)
                  and f.split(".")[0].lower() not in REPOSITORY_FILES]
    return found


def _key(relative: PurePosixPath) -> str:
    """'a/b/README.md' -> 'a/b/index'; 'a/page.md' -> 'a/page'."""
    stem = relative.name.rsplit(".", 1)[0]
    if stem.lower() in INDEX_NAMES:
        stem = "index"
    return str(relative.parent / stem) if str(relative.parent) != "." else stem


def _translations(source: Path, default_language: str) -> Course:
    default = canonical_tag(default_language)
    pages, languages = [], {default: ""}
    for path in _pages_under(source):
        if path.parent == source and path.name.lower() != "readme.md":
            continue  # beside the course's README: the repository's own pages, not lessons
        pages.append(SourcePage(_key(PurePosixPath(path.relative_to(source).as_posix())), default, path, source))
    for path in sorted(source.rglob("translations/*")):
        if path.suffix.lower() not in PAGE_SUFFIXES or any(part in SKIPPED_DIRS - {"translations"} for part in path.relative_to(source).parts):
            continue
        stem, _, tag = path.name.rsplit(".", 1)[0].rpartition(".")
        if not stem or not LANGUAGE_CODE_RE.match(tag.replace("_", "-")):
            continue
        code = canonical_tag(tag)
        languages.setdefault(code, "")
        folder = path.parent.parent.relative_to(source).as_posix()
        pages.append(SourcePage(_key(PurePosixPath(folder, stem + ".md")), code, path, source))
    title = _first_h1(source / "README.md") or _folder_title(source)
    return Course("translations", title, default, _named(languages), pages, [source])


def _lenient_yaml(text: str):
    class Loader(yaml.SafeLoader):
        pass
    Loader.add_multi_constructor("", lambda loader, suffix, node: None)  # mkdocs' !!python/name: and !ENV tags
    try:
        return yaml.load(text, Loader=Loader) or {}
    except yaml.YAMLError:
        return {}


def _mkdocs(source: Path, default_language: str | None) -> Course:
    config = _lenient_yaml((source / "mkdocs.yml").read_text(encoding="utf-8"))
    docs = source / str(config.get("docs_dir") or "docs")
    title = str(config.get("site_name") or _folder_title(source))
    i18n = {}
    for plugin in config.get("plugins") or []:
        if isinstance(plugin, dict) and isinstance(plugin.get("i18n"), dict):
            i18n = plugin["i18n"]
    declared: dict[str, str] = {}
    default = default_language
    raw = i18n.get("languages") or []
    items = [{"locale": k, "name": v} for k, v in raw.items()] if isinstance(raw, dict) else raw
    for item in items:
        if isinstance(item, dict) and item.get("locale") and item["locale"] != "default":
            code = canonical_tag(str(item["locale"]))
            declared[code] = str(item.get("name") or "")
            if item.get("default") and default is None:
                default = code
    default = canonical_tag(default or i18n.get("default_language") or "en")
    declared.setdefault(default, "")
    folders = {canonical_tag(d.name): d for d in docs.iterdir() if d.is_dir() and LANGUAGE_CODE_RE.match(d.name)
               and (canonical_tag(d.name) in declared or not items)} if docs.is_dir() else {}
    if i18n.get("docs_structure") == "folder" or (default in folders and len(folders) > 1):
        pages = []
        for code, folder in sorted(folders.items()):
            pages += [SourcePage(_key(PurePosixPath(p.relative_to(folder).as_posix())), code, p, docs) for p in _pages_under(folder)]
            declared.setdefault(code, "")
        return Course("mkdocs-folder", title, default, _named({c: declared[c] for c in declared if c in folders}), pages, [docs])
    return _mkdocs_suffix(source, docs, default, declared, title)


def _suffix_language(name: str, declared: dict | None) -> str | None:
    parts = name.rsplit(".", 2)
    if len(parts) != 3 or "." + parts[2].lower() not in PAGE_SUFFIXES or not LANGUAGE_CODE_RE.match(parts[1].replace("_", "-")):
        return None
    code = canonical_tag(parts[1])
    if declared is not None and declared and code not in declared:
        return None
    return code


def _mkdocs_suffix(source: Path, docs: Path, default: str, declared: dict[str, str], title: str) -> Course:
    default = canonical_tag(default)
    pages, languages = [], {**declared, default: declared.get(default, "")}
    for path in _pages_under(docs):
        code = _suffix_language(path.name, declared or None)
        relative = PurePosixPath(path.relative_to(docs).as_posix())
        if code is None:
            pages.append(SourcePage(_key(relative), default, path, docs))
        else:
            languages.setdefault(code, "")
            pages.append(SourcePage(_key(relative.with_name(relative.name.rsplit(".", 2)[0] + ".md")), code, path, docs))
    # 'page.en.md' beside 'page.md' with en the default: the suffixed one wins, as the plugin does.
    chosen: dict[tuple[str, str], SourcePage] = {}
    for page in pages:
        if (page.key, page.language) not in chosen or _suffix_language(page.path.name, None):
            chosen[(page.key, page.language)] = page
    return Course("mkdocs-suffix", title, default, _named(languages), list(chosen.values()), [docs])


def _docusaurus(source: Path, default_language: str | None) -> Course:
    config = next((p.read_text(encoding="utf-8") for p in sorted(source.glob("docusaurus.config.*"))), "")
    match = re.search(r"defaultLocale\s*:\s*['\"]([^'\"]+)", config)
    default = canonical_tag(default_language or (match.group(1) if match else "en"))
    match = re.search(r"^\s*title\s*:\s*['\"]([^'\"]+)", config, re.M)
    title = match.group(1) if match else _folder_title(source)
    docs = source / "docs"
    pages = [SourcePage(_key(PurePosixPath(p.relative_to(docs).as_posix())), default, p, docs) for p in _pages_under(docs)]
    languages = {default: ""}
    for current in sorted((source / "i18n").glob("*/docusaurus-plugin-content-docs/current")):
        code = canonical_tag(current.parent.parent.name)
        if code == default:
            continue
        languages[code] = ""
        pages += [SourcePage(_key(PurePosixPath(p.relative_to(current).as_posix())), code, p, docs) for p in _pages_under(current)]
    folder_titles = {}
    for category in sorted(docs.rglob("_category_.*")):
        data = json.loads(category.read_text(encoding="utf-8")) if category.suffix == ".json" else _lenient_yaml(category.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            position = data.get("position")
            folder_titles[category.parent.relative_to(docs).as_posix()] = (str(data.get("label") or ""), position if isinstance(position, int) else None)
    return Course("docusaurus", title, default, _named(languages), pages, [docs, source / "static"], folder_titles)


def _named(languages: dict[str, str]) -> dict[str, str]:
    """Each language with a name in that language (Babel), else the name the course gave, else its tag."""
    from babel import Locale, UnknownLocaleError
    named = {}
    for code, name in languages.items():
        if not name:
            try:
                name = Locale.parse(code, sep="-").get_display_name() or code
            except (UnknownLocaleError, ValueError):
                name = code
        named[code] = name
    return named


def _folder_title(folder: Path) -> str:
    return _humanise(folder.name)


def _humanise(name: str) -> str:
    text = re.sub(r"[-_]+", " ", NUMBER_PREFIX_RE.sub("", name)).strip()
    return (text[:1].upper() + text[1:]) if text else name


def _first_h1(path: Path) -> str | None:
    if not path.is_file():
        return None
    match = H1_RE.search(_blank_code(_strip_front_matter(path.read_text(encoding="utf-8"))[0]))
    return _plain(match.group(1)) if match else None


# Mapping pages to subjects, units and lessons

@dataclass
class Target:
    """Where a page goes in the curriculum: a path below the language folder."""

    kind: str  # "subject", "unit" or "lesson"
    path: PurePosixPath  # e.g. course/unit/lesson.md
    order: int | None = None


def slugify(name: str) -> str:
    slug = re.sub(r"[^\w]+", "-", name.lower(), flags=re.U).replace("_", "-")
    return re.sub(r"-{2,}", "-", slug).strip("-") or "page"


def plan(course: Course, subject: str) -> dict[str, Target]:
    """The target of every page key: the course is one subject; its top folders are units (the pages
    at the top form the unit 'lessons'); a folder's README or index is its unit's index; deeper
    folders and files become lessons named by their path, joined with dashes."""
    targets: dict[str, Target] = {}
    taken: set[PurePosixPath] = set()
    for key in sorted({page.key for page in course.pages}):
        parts = key.split("/")
        if parts == ["index"]:
            targets[key] = Target("subject", PurePosixPath(subject, "index.md"))
            continue
        if len(parts) == 1:
            unit, rest = ROOT_UNIT, parts
        else:
            unit, rest = slugify(parts[0]), parts[1:]
        if rest == ["index"]:
            targets[key] = Target("unit", PurePosixPath(subject, unit, "index.md"), _number(parts[0]))
            continue
        if rest[-1] == "index":
            rest = rest[:-1]
        slug = "-".join(slugify(p) for p in rest)
        if slug == "index":
            slug = "index-page"
        path = PurePosixPath(subject, unit, slug + ".md")
        counter = 2
        while path in taken:
            path = PurePosixPath(subject, unit, f"{slug}-{counter}.md")
            counter += 1
        taken.add(path)
        targets[key] = Target("lesson", path, _number(rest[-1]))
    return targets


def _number(name: str) -> int | None:
    match = NUMBER_PREFIX_RE.match(name)
    return int(match.group(1)) if match else None


# Converting one page

def _strip_front_matter(text: str) -> tuple[str, dict, int]:
    """(body, front matter, the line on which the body starts)."""
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    match = FRONT_MATTER_RE.match(text)
    if not match:
        return text, {}, 1
    meta = _lenient_yaml(match.group(1))
    return text[match.end():], meta if isinstance(meta, dict) else {}, match.group(0).count("\n") + 1


def _blank_code(text: str) -> str:
    def blank(match: re.Match) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))
    return INLINE_CODE_RE.sub(blank, FENCE_RE.sub(blank, text))


def _plain(heading: str) -> str:
    """A heading as plain text: no images, links as their text, no emphasis or attribute lists."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)(\{[^}]*\})?", "", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\{:?[^}]*\}\s*$", "", text)
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"[*_`]{1,3}", "", text).strip()


class Converter:
    """Converts the pages of one course, copying the files they use and recording what it cannot convert."""

    def __init__(self, course: Course, targets: dict[str, Target], dest: Path, remote_images: str, source: Path):
        self.course, self.targets, self.dest, self.remote_images = course, targets, dest, remote_images
        self.source = source  # nothing outside the course's folder is brought
        self.problems: list[Problem] = []
        self.page_of: dict[Path, SourcePage] = {page.path.resolve(): page for page in course.pages}
        self.copied: dict[tuple[Path, str], str] = {}  # (source file, folder written to) -> name used

    def report(self, page: SourcePage, line: int, message: str) -> None:
        self.problems.append(Problem(page.path, line, message))

    def convert(self, page: SourcePage) -> tuple[dict, str]:
        """(front matter, body) of the page in the curriculum."""
        target = self.targets[page.key]
        body, meta, body_line = _strip_front_matter(page.path.read_text(encoding="utf-8"))
        title = str(meta.get("title") or "").strip()
        heading_image = ""
        if not title:
            code_free = _blank_code(body)
            match = H1_RE.search(code_free) or SETEXT_H1_RE.search(code_free)
            if match:
                raw = body[match.start(1):match.end(1)]
                title = _plain(raw)
                images = re.findall(r"!\[[^\]]*\]\([^)]*\)(?:\{[^}]*\})?", raw)
                heading_image = " ".join(images)
                body = body[:match.start()] + heading_image + body[match.end():]  # the line stays: line numbers hold
        if not title:
            title = self.folder_title(page.key) if target.kind != "lesson" else _humanise(target.path.stem)
            if target.kind == "lesson":
                self.report(page, 1, f"has no '# ' heading: its title is '{title}', from its file name")
        front = {"title": title}
        order = meta.get("sidebar_position", meta.get("order", target.order))
        if isinstance(order, (int, float)) and not isinstance(order, bool) and order >= 0:
            front["order"] = int(order)
        if target.kind != "lesson" and meta.get("description"):
            front["description"] = str(meta["description"])
        dropped = sorted(k for k in meta if k not in {"title", "sidebar_position", "order", "description"}
                         or (k == "description" and target.kind == "lesson"))
        if dropped:
            self.report(page, 1, f"front matter {', '.join(dropped)} not brought: Satchel has no such key")
        body = self.convert_markdown(page, body, body_line)
        return front, re.sub(r"\A(?:[ \t]*\n)+", "", body).rstrip() + "\n"

    def folder_title(self, key: str) -> str:
        folder = key.rsplit("/", 1)[0] if "/" in key else ""
        label = self.course.folder_titles.get(folder, ("", None))[0]
        return label or (_humanise(folder.split("/")[-1]) if folder else self.course.title)

    def convert_markdown(self, page: SourcePage, body: str, body_line: int) -> str:
        """Every rewrite keeps the body's lines where they were, so a report names the source line."""
        def line_at(offset: int) -> int:
            return body_line + body[:offset].count("\n")
        if page.path.suffix.lower() == ".mdx":
            for match in MDX_IMPORT_RE.finditer(_blank_code(body)):
                self.report(page, line_at(match.start()), f"MDX '{match.group(0)[:60]}' dropped: Satchel reads Markdown, not MDX")
            body = MDX_IMPORT_RE.sub("", body)
        body = ADMONITION_RE.sub(lambda m: _admonition(m.group(1), m.group(2), m.group(3)), body)  # ':::' -> an empty line
        body = GITHUB_ALERT_RE.sub(lambda m: _admonition(m.group(1).lower(), "", re.sub(r"^> ?", "", m.group(2), flags=re.M)), body)
        code_free = _blank_code(body)
        edits: list[tuple[int, int, str]] = []
        for match in LINK_RE.finditer(code_free):
            outer = self.link_edit(page, body, match, line_at)
            edits += outer
            if match.group(1) != "!" and "![" in match.group(2) and not any(start == match.start() for start, _, _ in outer):
                # An image inside a link, such as a video's thumbnail: its own URL is read too.
                for inner in LINK_RE.finditer(code_free, match.start(2), match.end(2)):
                    edits += self.link_edit(page, body, inner, line_at)
        for match in DEFINITION_RE.finditer(code_free):
            start, end = match.start(2), match.end(2)
            new = self.rewrite(page, body[start:end].strip("<>"), False, line_at(start))
            if new is not None and new != body[start:end]:
                edits.append((start, end, new))
        for match in TAG_RE.finditer(code_free):
            name = match.group(1).lower()
            if name[0].isupper() or match.group(1)[0].isupper():
                self.report(page, line_at(match.start()), f"<{match.group(1)}> is a component Satchel cannot show: it is kept as text")
                continue
            if name in UNMAPPED_TAGS:
                self.report(page, line_at(match.start()), f"raw HTML <{name}> is kept as it is: Satchel cannot map it (check it, or remove it)")
            for attr in URL_ATTR_RE.finditer(body[match.start(2):match.end(2)]):
                start = match.start(2) + attr.start(3)
                loads = name in LOADING_TAGS and attr.group(1).lower() != "href" or name == "link"
                new = self.rewrite(page, attr.group(3), loads, line_at(start), f"<{name} {attr.group(1).lower()}>")
                if new is not None and new != attr.group(3):
                    edits.append((start, start + len(attr.group(3)), new))
        for start, end, new in sorted(edits, reverse=True):
            body = body[:start] + new + body[end:]
        return body

    def link_edit(self, page: SourcePage, body: str, match: re.Match, line_at) -> list[tuple[int, int, str]]:
        is_image, text = match.group(1) == "!", match.group(2)
        url = match.group(3).strip("<>")
        line = line_at(match.start())
        inside_link = match.start() > 0 and body[match.start() - 1] == "["
        if is_image and _is_remote(url):
            if self.remote_images == "link":
                self.report(page, line, f"remote image '{url}' became a link to it: download it beside the lesson to show it offline")
                replacement = text if inside_link else f"[{text or url}]({url})"
                return [(match.start(), match.end(), replacement)]
            self.report(page, line, f"remote image '{url}' kept: the check refuses it until `satchel build --fetch-remote` "
                                    "keeps a copy, or you download it beside the lesson")
            return []
        new = self.rewrite(page, url, is_image, line)
        if new is None:
            return []
        if new == "":
            # Not brought: the text stays, the link or image goes, so the page still reads.
            return [(match.start(), match.end(), text if not is_image else (f"*{text}*" if text else ""))]
        start = match.start(3)
        return [(start, match.end(3), new)]

    def rewrite(self, page: SourcePage, url: str, loads: bool, line: int, kind: str = "") -> str | None:
        """The URL in the curriculum; None to leave it, '' when its file was not brought (reported)."""
        parts = urlsplit(url)
        if parts.scheme or parts.netloc:
            if loads and kind and _is_remote(url):
                self.report(page, line, f"{kind} '{url}' loads from another site: the check refuses it; download it beside the lesson")
            return None
        if not parts.path:
            return None
        found = self.resolve(page, unquote(parts.path))
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        if found is None:
            self.report(page, line, f"{'image' if loads else 'link'} '{url}' points to a file that is not in the course: "
                                    "it was left out (the text stays)")
            return ""
        target_page = self.page_of.get(found) or self.page_of.get(self.index_in(found) or Path("/nonexistent"))
        here = self.targets[page.key].path
        if target_page is not None:
            there = self.targets[target_page.key].path
            return _relative(here, there) + fragment
        if found.is_dir() or found.suffix.lower() in PAGE_SUFFIXES:
            self.report(page, line, f"link '{url}' points to {'a folder' if found.is_dir() else 'a page'} that was not imported: "
                                    "it was left out (the text stays)")
            return ""
        name = self.copy(found, page.language, here.parent)
        return name + fragment

    def index_in(self, folder: Path) -> Path | None:
        if not folder.is_dir():
            return None
        for candidate in sorted(folder.iterdir()):
            if candidate.name.rsplit(".", 1)[0].lower() in INDEX_NAMES and candidate.resolve() in self.page_of:
                return candidate.resolve()
        return None

    def resolve(self, page: SourcePage, path: str) -> Path | None:
        """The file a link points to, as the course's own tool would find it."""
        candidates = []
        if path.startswith("/"):
            candidates += [root / path.lstrip("/") for root in [page.docs_root, *self.course.static_roots]]
        else:
            candidates.append(page.path.parent / path)
            # A translation's link as written for the default page: the folder layouts share files.
            for root in self.course.static_roots:
                try:
                    relative = page.path.parent.relative_to(root)
                except ValueError:
                    continue
                if relative.parts:
                    candidates.append(root / Path(*relative.parts[1:]) / path)
            if page.path.parent.name == "translations":
                candidates.append(page.path.parent.parent / path)
        for candidate in candidates:
            candidate = candidate.resolve()
            if candidate.exists() and candidate.is_relative_to(self.source):
                return candidate
        return None

    def copy(self, file: Path, language: str, folder: PurePosixPath) -> str:
        key = (file, f"{language}/{folder}")
        if key in self.copied:
            return self.copied[key]
        stem, suffix = file.stem, file.suffix.lower()
        name = f"{slugify(stem)}{suffix}"
        counter = 2
        while (self.dest / language / folder / name).exists():
            name = f"{slugify(stem)}-{counter}{suffix}"
            counter += 1
        (self.dest / language / folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, self.dest / language / folder / name)
        self.copied[key] = name
        return name


def _admonition(kind: str, title: str | None, text: str) -> str:
    kind = {"danger": "danger", "caution": "warning", "important": "note", "info": "info"}.get(kind.lower(), kind.lower())
    heading = f'!!! {kind} "{title.strip()}"' if title and title.strip() else f"!!! {kind}"
    lines = (text[:-1] if text.endswith("\n") else text).split("\n")
    return heading + "\n" + "\n".join(("    " + line) if line.strip() else "" for line in lines) + "\n"


def _is_remote(url: str) -> bool:
    return bool(urlsplit(url.strip()).netloc)


def _relative(here: PurePosixPath, there: PurePosixPath) -> str:
    return os.path.relpath(str(there), str(here.parent)).replace(os.sep, "/")


# Writing the curriculum

def curriculum_id(folder_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", folder_name.lower()).strip("-")
    return slug if slug and slug[0].isalnum() else f"course-{slug}".strip("-")


def import_course(source: Path, dest: Path, force: bool = False, default_language: str | None = None,
                  remote_images: str = "keep", show_progress: bool = True) -> ImportResult:
    """Import the course at `source` into a new curriculum at `dest`; returns what it could not convert."""
    from tqdm import tqdm
    source, dest = Path(source).resolve(), Path(dest).resolve()
    if dest.exists() and any(dest.iterdir()):
        if not force:
            raise CourseImportError(f"{dest} is not empty: choose an empty folder, or pass --force to replace it")
        if source.is_relative_to(dest):
            raise CourseImportError(f"{dest} holds the course itself: choose another folder")
        shutil.rmtree(dest)
    course = read_course(source, default_language)
    subject = slugify(curriculum_id(source.name))
    targets = plan(course, subject)
    converter = Converter(course, targets, dest, remote_images, source)
    titles: dict[str, str] = {}
    lessons = set()
    written: set[tuple[str, PurePosixPath]] = set()
    in_default = {page.key for page in course.pages if page.language == course.default_language}
    for page in course.pages:
        if page.key not in in_default:
            converter.report(page, 0, f"has no page in the default language '{course.default_language}' "
                                      f"(every language falls back to it): left out")
    pages = [page for page in course.pages if page.key in in_default]
    for page in tqdm(sorted(pages, key=lambda p: (p.language != course.default_language, p.key, p.language)),
                     desc="Importing pages", unit="page", disable=not show_progress):
        target = targets[page.key]
        front, body = converter.convert(page)
        if target.kind == "lesson":
            lessons.add(target.path)
        _write(dest / page.language / target.path, front, body)
        written.add((page.language, target.path))
    # Every subject and unit has an index.md in each language that has lessons: the default language
    # must, and a translation without one is written with the default's title (a page fallen back to the
    # default language before the language's home page trips mkdocs-static-i18n, see docs/importing.md).
    default = course.default_language
    indexes = {PurePosixPath(subject, "index.md")} | {t.path.parent / "index.md" for t in targets.values() if t.kind == "lesson"}
    for code in [default] + [c for c in course.languages if c != default]:
        if not (dest / code).is_dir():
            continue
        for target in sorted(indexes):
            if (code, target) in written:
                continue
            if code != default:
                front, body = read_front(dest / default / target), ""
            else:
                unit = target.parent.name if target.parent.name != subject else None
                front, body = ({"title": course.title} if unit is None else _unit_front(course, unit)), ""
            _write(dest / code / target, front, body)
    titles.setdefault(default, course.title)
    _write_config(dest, curriculum_id(source.name), titles, course)
    return ImportResult(dest, len(lessons), list(course.languages), sorted(converter.problems))


def read_front(path: Path) -> dict:
    """The front matter of an index.md written by the import (title, order; not its description)."""
    _, meta, _ = _strip_front_matter(path.read_text(encoding="utf-8"))
    return {k: v for k, v in meta.items() if k in ("title", "order")}


def _unit_front(course: Course, unit: str) -> dict:
    """A unit's front matter when the course has no index page for it: Docusaurus' _category_, else its name."""
    if unit == ROOT_UNIT:
        return {"title": course.title}
    front: dict = {"title": _humanise(unit)}
    if _number(unit) is not None:
        front["order"] = _number(unit)
    for folder, (label, position) in course.folder_titles.items():
        if slugify(folder) == unit:
            front["title"] = label or front["title"]
            if position is not None:
                front["order"] = position
    return front


def _write(path: Path, front: dict, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = yaml.safe_dump(front, allow_unicode=True, sort_keys=False, width=1000)
    path.write_text(f"---\n{meta}---\n\n{body}", encoding="utf-8")


def _write_config(dest: Path, course_id: str, titles: dict[str, str], course: Course) -> None:
    languages = [{"code": course.default_language, "name": course.languages[course.default_language], "default": True}]
    languages += [{"code": code, "name": name} for code, name in sorted(course.languages.items()) if code != course.default_language]
    present = [lang for lang in languages if (dest / lang["code"]).is_dir()]
    config = {"id": course_id, "version": "1.0.0", "title": {code: titles[code] for code in titles if (dest / code).is_dir()},
              "languages": present}
    (dest / "curriculum.yml").write_text(
        "# Written by `satchel import` (docs/importing.md); edit it freely.\n" + yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
        encoding="utf-8")
