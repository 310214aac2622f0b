"""What each page of the learner app shows, computed from the curriculum model.

`page_context` is what the theme's templates receive as `satchel`; it knows nothing of mkdocs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from . import media
from .curriculum import Curriculum, Lesson, Node, Page, Subject, Unit
from .search import LANGUAGE_SCRIPT, SEARCH_DIR, WORKER_SCRIPT, vendor_files
from .strings import render, ui_strings

HOME = "home"
LANGUAGE_DIR = "assets/satchel/lang"  # one script per language: its settings and interface strings
OFFLINE_SLUG = "_offline"  # the offline fallback page of each language: <lang>/_offline/
TV_SLUG = "tv"  # the classroom TV page of each language: <lang>/tv/ (builder/tv.py)

# The words app.js shows (offline dialog, updates, notifications): its name for each, and the string's key.
APP_STRINGS = {
    "ready": "offline_ready", "progress": "offline_progress", "failed": "offline_failed", "unsupported": "offline_unsupported",
    "updating": "offline_updating", "noroom": "offline_noroom", "all": "offline_all", "partOn": "offline_part_on",
    "partPaused": "offline_part_paused", "download": "offline_download", "remove": "offline_remove", "resume": "offline_resume",
    "cancelled": "offline_cancelled", "removed": "offline_removed", "free": "offline_free", "updateOffer": "update_offer",
    "updateGet": "update_get", "updateReady": "update_ready", "updateNow": "update_button", "pushOn": "push_on",
    "pushOff": "push_off", "pushStarted": "push_started", "pushStopped": "push_stopped", "pushDenied": "push_denied",
    "pushFailed": "push_failed", "lessonsOnly": "media_lessons_only", "withVideos": "media_with_videos",
}


def language_prefix(curriculum: Curriculum, code: str) -> str:
    """Where a language lives in the bundle: '' for the default language, 'fr/' for the others."""
    return "" if code == curriculum.default_language.code else f"{code}/"


def node_url(curriculum: Curriculum, code: str, node_id: str) -> str:
    """The bundle-relative URL of a page: 'fr/mathematics/fractions/halves/', or 'fr/' for a home."""
    prefix = language_prefix(curriculum, code)
    if node_id == HOME:
        return prefix or "./"
    return f"{prefix}{node_id}/"


def page_id(norm_src_uri: str) -> str:
    """'mathematics/fractions/halves.md' -> 'mathematics/fractions/halves'; 'index.md' -> 'home';
    a lesson folder's 'mathematics/fractions/halves/README.md' -> 'mathematics/fractions/halves'."""
    path = norm_src_uri.removesuffix(".md")
    if path == "index":
        return HOME
    return path.removesuffix("/index").removesuffix("/README")


@dataclass
class Link:
    url: str
    title: str


class PageContext:
    """Everything the templates need to draw one page in one language."""

    def __init__(self, curriculum: Curriculum, code: str, node_id: str, file_locale: str, strings: dict | None = None):
        """`strings`: the language's ui_strings, when the caller has them already (read, never changed)."""
        self.curriculum = curriculum
        self.code = code
        self.language = curriculum.language(code)
        self.default = curriculum.default_language.code
        self.strings = strings if strings is not None else ui_strings(code, curriculum.root, curriculum.language(code).fallbacks)
        self.node_id = node_id
        self.node: Node | None = curriculum.node(node_id)
        self.kind = _kind(self.node, node_id)
        content_language = curriculum.language(file_locale) if file_locale in {lang.code for lang in curriculum.languages} else self.language
        self.content_lang = content_language.code
        self.content_dir = content_language.dir
        self.has_quiz = False  # set by the plugin when the lesson holds a quiz
        self.has_media = False  # set by the plugin when the page holds a video, audio, PDF or EPUB (builder/media.py)
        self.language_script: LanguageScript | None = None  # set by the plugin: the language's script (make_language_script)
        self.fallback_notice = None
        if file_locale != code:
            self.fallback_notice = self.t("fallback_notice", language=self.language.name, fallback=content_language.name)

    # text

    def t(self, key: str, **values) -> str:
        """The interface string `key` filled in: its plural form for the count, numbers as the language writes them."""
        return render(self.strings.get(key, key), self.code, **values)

    def spec(self, key: str) -> str | dict:
        """The interface string `key` as the scripts get it: a text, or a mapping of plural forms that
        theme/assets/satchel/common.js fills in (satchelCommon.format)."""
        return self.strings.get(key, key)

    def title(self, node: Node | None) -> str:
        if node is None:
            return self.curriculum.title(self.code)
        return str(node.meta("title", self.code, self.default) or node.slug)

    def description(self, node: Node) -> str:
        return str(node.meta("description", self.code, self.default) or "")

    def url(self, node_id: str) -> str:
        return node_url(self.curriculum, self.code, node_id)

    # places

    @property
    def home_url(self) -> str:
        return self.url(HOME)

    @property
    def tv_url(self) -> str:
        """The language's TV page (builder/tv.py), which a lesson's "Present" button opens."""
        return f"{language_prefix(self.curriculum, self.code)}{TV_SLUG}/"

    @property
    def manifest_url(self) -> str:
        return f"{language_prefix(self.curriculum, self.code)}manifest.webmanifest"

    @property
    def search(self) -> dict:
        """What search.js and its worker need: the worker, the scripts it loads, this language's title
        list, its subjects (each with a shard of the index and a store of texts, in index/ and store/
        under `folder`)."""
        keys = ("hint", "none", "found", "failed")
        folder = f"{SEARCH_DIR}/{self.code}/"
        return {"worker": WORKER_SCRIPT, "scripts": [*vendor_files(self.code), LANGUAGE_SCRIPT], "titles": f"{folder}titles.json", "folder": folder,
                "subjects": [subject.id for subject in self.curriculum.subjects],
                "strings": {key: self.spec(f"search_{key}") for key in keys}}

    @property
    def page_data(self) -> dict:
        """What the scripts need of this page alone (common.js merges it into satchelCommon.config)."""
        lesson = None
        if isinstance(self.node, Lesson):
            lesson = {"id": self.node.id, "title": self.title(self.node), "quiz": self.has_quiz}
        return {"lesson": lesson}

    def language_config(self) -> dict:
        """What the scripts need of the language, the same on every page of it: satchelCommon.config."""
        return {"language": self.code, "search": self.search, "outline": outline_url(self.code), "quiz": self.quiz_strings, "strings": self.app_strings,
                "progress": {"curriculum": {"id": self.curriculum.id, "version": self.curriculum.version},
                             "strings": {key.removeprefix("progress_"): value for key, value in self.strings.items()
                                         if key.startswith("progress_")}}}

    @property
    def app_strings(self) -> dict:
        """What app.js needs: its words by its names for them, plural mappings kept (config.strings)."""
        return {name: self.spec(key) for name, key in APP_STRINGS.items()}

    @property
    def quiz_strings(self) -> dict:
        """What quiz.js says after a check."""
        return {key: self.spec(f"quiz_{key}") for key in ("correct", "partial", "wrong", "score")}

    def outline(self) -> list[dict]:
        """Every lesson in curriculum order, for the home page's "Continue" and "Next lesson"."""
        return [{"id": lesson.id, "title": self.title(lesson), "url": self.url(lesson.id),
                 "prerequisites": lesson.meta("prerequisites", self.default, self.default) or []}
                for subject in self.curriculum.subjects for lesson in subject.lessons]

    @staticmethod
    def meter_ids(node: Subject | Unit) -> tuple[str, str]:
        """(prefix, ids): a meter's lesson ids with what they all start with written once
        ("maths/halves/", "cutting sharing"); paint.js puts them back together."""
        ids = [lesson.id for lesson in node.lessons]
        prefix = f"{node.id}/"
        if not all(i.startswith(prefix) for i in ids):
            return "", " ".join(ids)
        return prefix, " ".join(i[len(prefix):] for i in ids)

    @property
    def languages(self) -> list[dict]:
        """The same page in every language, for the language switcher."""
        target = self.node_id if self.kind != "offline" else HOME
        return [
            {"code": lang.code, "name": lang.name, "dir": lang.dir, "current": lang.code == self.code,
             "url": node_url(self.curriculum, lang.code, target)}
            for lang in self.curriculum.languages
        ]

    @property
    def subject(self) -> Subject | None:
        node = self.node
        if isinstance(node, (Lesson, Page)):
            return node.unit.subject
        if isinstance(node, Unit):
            return node.subject
        return node if isinstance(node, Subject) else None

    @property
    def unit(self) -> Unit | None:
        node = self.node
        if isinstance(node, (Lesson, Page)):
            return node.unit
        return node if isinstance(node, Unit) else None

    @property
    def breadcrumbs(self) -> list[Link]:
        crumbs = [Link(self.home_url, self.t("home"))]
        for node in (self.subject, self.unit):
            if node is not None and node is not self.node:
                crumbs.append(Link(self.url(node.id), self.title(node)))
        return crumbs

    @property
    def subjects(self) -> list[Subject]:
        return self.curriculum.subjects

    def illustration(self, unit: Unit) -> str | None:
        """The bundle-relative URL of a unit's illustration, in this language or the default one."""
        for code in (self.code, self.default):
            doc = unit.docs.get(code)
            name = doc.meta.get("illustration") if doc else None
            if isinstance(name, str) and (self.curriculum.root / code / unit.id / name).is_file():
                name = media.built_name(self.curriculum.root / code / unit.id / name, self.curriculum.media.max_image_width)  # map.png -> map.webp
                return f"{language_prefix(self.curriculum, code)}{unit.id}/{name}"
        return None

    def lesson_count(self, node: Subject | Unit) -> str:
        return self.t("lessons", n=len(node.lessons))

    @property
    def previous_lesson(self) -> Link | None:
        return self._neighbour(-1)

    @property
    def next_lesson(self) -> Link | None:
        return self._neighbour(+1)

    def _neighbour(self, step: int) -> Link | None:
        """The lesson before or after this one in its subject (crossing units)."""
        if not isinstance(self.node, Lesson):
            return None
        lessons = self.node.unit.subject.lessons
        index = lessons.index(self.node) + step
        if 0 <= index < len(lessons):
            return Link(self.url(lessons[index].id), self.title(lessons[index]))
        return None


@dataclass
class LanguageScript:
    url: str  # relative to the bundle root, named by its content's hash (served as immutable)
    text: str


def outline_url(code: str) -> str:
    """satchel/outline/<code>.json: PageContext.outline(), which the home page's guide fetches (paint.js)."""
    return f"satchel/outline/{code}.json"


def make_language_script(context: PageContext, dialogs: str) -> LanguageScript:
    """assets/satchel/lang/<code>.<hash>.js: `satchelLanguage`, the language's settings and words and
    the HTML of the app's dialogs (theme/dialogs.html, which common.js adds to the page), one file
    every page of the language shares, and a device keeps, instead of a copy in each page."""
    config = dict(context.language_config(), dialogs=dialogs)
    text = "window.satchelLanguage=" + json.dumps(config, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + ";\n"
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return LanguageScript(f"{LANGUAGE_DIR}/{context.code}.{digest}.js", text)


def _kind(node: Node | None, node_id: str) -> str:
    if node_id == HOME:
        return "home"
    if node_id == OFFLINE_SLUG:
        return "offline"
    if node_id == TV_SLUG:
        return "tv"
    if isinstance(node, Lesson):
        return "lesson"
    if isinstance(node, Unit):
        return "unit"
    if isinstance(node, Subject):
        return "subject"
    return "page"


def home_markdown(curriculum: Curriculum, code: str) -> str:
    """The generated home page of a language that has no index.md of its own."""
    return f"---\ntitle: {_yaml_text(curriculum.title(code))}\n---\n\n{curriculum.description(code)}\n"


def offline_markdown(curriculum: Curriculum, code: str) -> str:
    strings = ui_strings(code, curriculum.root, curriculum.language(code).fallbacks)
    return f"---\ntitle: {_yaml_text(strings['offline_page_title'])}\n---\n\n{strings['offline_page_text']}\n"


def _yaml_text(text: str) -> str:
    import json
    return json.dumps(text, ensure_ascii=False)


