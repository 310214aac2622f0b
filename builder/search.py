"""Offline search: the text of every page, indexed per language at build time with lunr.js (in the
build's Node environment, through theme/assets/satchel/search-language.js, the same pipeline the
browser runs on queries). The browser only loads an index: it never builds one.

Per language, under satchel/search/<code>/:
  titles.json            every page's title, URL and trail: the instant suggestions, shown before
                         any index has arrived (small, and unchanged by an edit of a lesson's text)
  index/<subject>.json   the serialised lunr index of one subject's pages (lunr.Index.load): an
                         edit re-downloads only its subject's shard
  store/<subject>/<unit>.json (and store/<subject>.json for the subject's own page): title, trail
                         (the titles of its subject and unit), URL and text of each
                         page, for results and their snippets
A subject's index and store belong to that subject's pack; titles.json to the shared part.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import tempfile
from pathlib import Path

from . import ROOT
from .curriculum import Curriculum
from .nodejs import NodeJob, ensure_node_env

SEARCH_DIR = "satchel/search"
VENDOR_DIR = "assets/satchel/vendor"
BUILD_SCRIPT = ROOT / "builder" / "js" / "build-search-index.js"
LANGUAGE_SCRIPT = "assets/satchel/search-language.js"
WORKER_SCRIPT = "assets/satchel/search-worker.js"  # search.js starts it; in builder/bundle.py ON_DEMAND

INLINE_TAG_RE = re.compile(r"</?(?:a|abbr|b|code|em|i|kbd|mark|small|span|strong|sub|sup|u)\b[^>]*>", re.I)
TAG_RE = re.compile(r"<[^>]+>")
SPACE_RE = re.compile(r"\s+")
DROP_RE = re.compile(r"<(script|style|svg)\b.*?</\1>", re.S | re.I)


def page_text(page_html: str) -> str:
    """The words of a page as a learner reads them: tags, scripts and pictures' code removed."""
    text = TAG_RE.sub(" ", INLINE_TAG_RE.sub("", DROP_RE.sub(" ", page_html)))
    return SPACE_RE.sub(" ", html.unescape(text)).strip()


def search_document(ref: str, title: str, trail: list[str], url: str, subject: str, body_html: str) -> dict:
    """A page as search sees it. The trail is a list: the browser isolates each title and puts the
    separators in the page's direction, which a joined string could not do for mixed scripts."""
    return {"ref": ref, "title": title, "trail": trail, "url": url, "subject": subject, "body": page_text(body_html)}


def start_index(code: str, documents: list[dict], site_dir: Path) -> NodeJob:
    """Write one language's text stores and title list, and start building its index in the
    background: the other languages' pages are being built meanwhile."""
    write_texts(code, documents, site_dir)
    folder = Path(tempfile.mkdtemp(prefix="satchel-search-"))
    source = folder / "documents.json"
    index_input = {code: [{"ref": d["ref"], "title": d["title"], "trail": " ".join(d["trail"]), "body": d["body"],
                           "subject": d["subject"]} for d in documents]}
    source.write_text(json.dumps(index_input, ensure_ascii=False), encoding="utf-8")
    return NodeJob(BUILD_SCRIPT, [str(source), str(site_dir / SEARCH_DIR)], scratch=folder)


def finish_indexes(jobs: dict[str, NodeJob]) -> None:
    """Wait for the indexes start_index started."""
    for job in jobs.values():
        job.wait()


def write_texts(code: str, docs: list[dict], site_dir: Path) -> None:
    """A language's text stores and title list (text_files)."""
    stores: dict[str, dict] = {}
    for doc in docs:
        stores.setdefault(store_group(doc["ref"]), {})[doc["ref"]] = [doc["title"], doc["trail"], doc["url"], doc["body"]]
    for group, store in sorted(stores.items()):
        path = site_dir / SEARCH_DIR / code / "store" / f"{group}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(store, ensure_ascii=False, sort_keys=True, separators=(",", ":")), encoding="utf-8")
    write_titles(docs, site_dir / SEARCH_DIR / code / "titles.json")


def text_files(code: str, site_dir: Path) -> list[Path]:
    """What write_texts wrote for a language (not its index, which Node writes)."""
    folder = site_dir / SEARCH_DIR / code
    return [*sorted((folder / "store").rglob("*.json")), folder / "titles.json"]


def store_group(ref: str) -> str:
    """The text store a page is in: its unit's ('science/water-cycle'), or a subject page's own
    ('science'). Results fetch only the stores of the pages they show (at most ten units), not a
    whole subject's text (search-worker.js store() asks for the same groups)."""
    return "/".join(ref.split("/")[:2])


def write_titles(docs: list[dict], path: Path) -> None:
    """{"trails": [[titles]], "pages": [[ref, title, url, trail's position]]}: each trail once, as
    a unit's lessons share theirs."""
    trails: dict[tuple, int] = {}
    pages = []
    for doc in sorted(docs, key=lambda d: d["ref"]):
        trail = trails.setdefault(tuple(doc["trail"]), len(trails))
        pages.append([doc["ref"], doc["title"], doc["url"], trail])
    data = {"trails": [list(t) for t in trails], "pages": pages}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def build_indexes(curriculum: Curriculum, documents: dict[str, list[dict]], site_dir: Path) -> None:
    """Build every language's index and stores (all at once; the build starts them one by one)."""
    jobs = {code: start_index(code, docs, site_dir) for code, docs in documents.items()}
    finish_indexes(jobs)
    copy_lunr(curriculum, site_dir)


def vendor_files(code: str) -> list[str]:
    """The lunr scripts a language's search loads, relative to the bundle root."""
    from_language = ["lunr.min.js"]
    base = code.lower().replace("_", "-").split("-")[0]
    if base in STEMMED:
        from_language += ["lunr.stemmer.support.min.js", f"lunr.{base}.min.js"]
    return [f"{VENDOR_DIR}/{name}" for name in from_language]


# Must match STEMMED in theme/assets/satchel/search-language.js (a test checks they agree).
STEMMED = ("ar", "da", "de", "es", "fi", "fr", "hu", "it", "nl", "no", "pt", "ro", "ru", "sv", "tr")


def copy_lunr(curriculum: Curriculum, site_dir: Path) -> None:
    node_modules = ensure_node_env() / "node_modules"
    sources = {"lunr.min.js": node_modules / "lunr" / "lunr.min.js"}
    for name in sorted({Path(f).name for lang in curriculum.languages for f in vendor_files(lang.code)} - set(sources)):
        sources[name] = node_modules / "lunr-languages" / "min" / name
    target = site_dir / VENDOR_DIR
    target.mkdir(parents=True, exist_ok=True)
    for name, source in sources.items():
        shutil.copyfile(source, target / name)


def language_files(code: str, site_dir: Path) -> list[str]:
    """What a device needs to search a language offline, relative to the bundle root."""
    folder = site_dir / SEARCH_DIR / code
    files = [p.relative_to(site_dir).as_posix() for p in sorted(folder.rglob("*.json"))]
    return files + vendor_files(code) + [LANGUAGE_SCRIPT]  # search-worker.js loads it on demand: not in the page's bundle


def file_subject(url: str) -> str | None:
    """The subject a file of language_files belongs to (its pack), or None for the shared part:
    satchel/search/<code>/index/<subject>.json and store/<subject>[/<unit>].json are their subject's."""
    parts = url.split("/")
    if url.startswith(SEARCH_DIR + "/") and len(parts) == 5 and parts[3] in ("index", "store"):
        return parts[4].removesuffix(".json")
    if url.startswith(SEARCH_DIR + "/") and len(parts) == 6 and parts[3] == "store":  # store/<subject>/<unit>.json
        return parts[4]
    return None
