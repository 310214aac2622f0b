"""What the build writes around the pages: pack lists, web manifests, icons, colours, the
machine-readable curriculum and the service worker. The bundle layout is documented in docs/bundle.md.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from . import media, search, service_worker
from .assets import Assets
from .curriculum import Curriculum
from .icons import write_icons
from .pages import HOME, OFFLINE_SLUG, LanguageScript, PageContext, language_prefix, node_url, outline_url
from .progress import write_progress_files

# Loaded when needed (builder/assets.py STANDALONE): with the language's shared part.
ON_DEMAND = ("assets/satchel/quiz.js", "assets/satchel/search.js", "assets/satchel/search-worker.js", "assets/satchel/media.js",
             "assets/satchel/offline.js")
# The classroom TV's script and stylesheet (builder/tv.py): loaded by the language's TV page only, with its shared part.
TV_FILES = ("assets/satchel/tv.js", "assets/satchel/tv.css")
PACK_FORMAT = 2  # 2: one list per subject, and an index of them per language
SATCHEL_DIR = "satchel"  # bundle files that are Satchel's own: packs, version, curriculum.json


def _json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def page_entries(curriculum: Curriculum, files, site_dir: Path) -> list[dict]:
    """Pack entries of one language's pages and images: URL, size, hash and subject."""
    subjects = {s.id for s in curriculum.subjects}
    entries = []
    for file in files:
        norm = getattr(file, "norm_src_uri", file.src_uri)
        if norm == f"{OFFLINE_SLUG}.md":
            continue  # precached with the app shell
        path = Path(file.abs_dest_path)
        if not path.is_file():
            continue
        top = norm.split("/", 1)[0]
        url = file.url if file.is_documentation_page() else file.dest_uri
        entries.append({"url": url or "./", "bytes": path.stat().st_size, "sha256": _sha256(path),
                        "subject": top if top in subjects else None})
    return entries


SHARED_PART = "_shared"  # what every subject of a language needs: its home, search index, lunr


def write_packs(curriculum: Curriculum, code: str, pages: list[dict], site_dir: Path, media_parts: dict | None = None) -> None:
    """Write a language's packs: satchel/packs/<code>/<part>.json lists the files of one subject
    (pages, images, search store), and of the shared part, each with hash and size. The small
    index satchel/packs/<code>.json lists the parts with the hash of each list, so a device
    checking for an update fetches the index and only the lists that changed. A subject's videos,
    audio and documents (`media_parts`, builder/media.py) are listed apart, under "media"."""
    entries = list(pages)
    for url in search.language_files(code, site_dir):
        path = site_dir / url
        entries.append({"url": url, "bytes": path.stat().st_size, "sha256": _sha256(path), "subject": search.file_subject(url)})
    parts = []
    for part in [SHARED_PART, *(subject.id for subject in curriculum.subjects)]:
        files = sorted(({"url": e["url"], "bytes": e["bytes"], "sha256": e["sha256"]} for e in entries
                        if (e["subject"] or SHARED_PART) == part), key=lambda e: e["url"])
        if not files:
            continue
        url = f"{SATCHEL_DIR}/packs/{code}/{part}.json"
        large = media.pack_entries(media_parts[part]) if media_parts and part in media_parts else []
        _json(site_dir / url, {"format": PACK_FORMAT, "curriculum": curriculum.id, "version": curriculum.version,
                               "language": code, "part": part, "bytes": sum(f["bytes"] for f in files), "files": files,
                               **({"media": large} if large else {})})
        node = curriculum.node(part)
        parts.append({"id": part, "url": url, "sha256": _sha256(site_dir / url), "files": len(files),
                      "bytes": sum(f["bytes"] for f in files),
                      "title": str(node.meta("title", code, curriculum.default_language.code)) if node else "",
                      **({"media_bytes": sum(e["bytes"] for e in large), "media_files": len(large)} if large else {})})
    _json(site_dir / SATCHEL_DIR / "packs" / f"{code}.json", {
        "format": PACK_FORMAT, "curriculum": curriculum.id, "version": curriculum.version, "language": code,
        "bytes": sum(p["bytes"] for p in parts), "parts": parts,
    })


def write_shared(curriculum: Curriculum, site_dir: Path) -> None:
    """The files every language shares that no page needs to be built: icons, web manifests, the
    machine-readable curriculum, the progress schema and lunr. `satchel build` writes them while
    the languages' pages are being built (builder/parallel.py)."""
    icons = write_icons(site_dir, curriculum.colours["primary"], curriculum.colours["accent"], curriculum.icon)
    for language in curriculum.languages:
        _write_manifest(curriculum, language.code, icons, site_dir)
    _json(site_dir / SATCHEL_DIR / "curriculum.json", describe(curriculum))
    write_progress_files(site_dir)
    search.copy_lunr(curriculum, site_dir)


def finish(curriculum: Curriculum, site_dir: Path, pages: dict[str, list[dict]], search_jobs: dict,
           search_documents: dict[str, list[dict]], assets: Assets, language_scripts: dict[str, LanguageScript]) -> None:
    """Run once after every language is built, and after write_shared: `pages` holds each language's
    page_entries. The bundled scripts (over the sources mkdocs copied), the service worker (built
    while the last search index is), then, once every index is in, the pack lists."""
    assets.write(site_dir)
    for language in curriculum.languages:
        script = language_scripts[language.code]
        (site_dir / script.url).parent.mkdir(parents=True, exist_ok=True)
        (site_dir / script.url).write_text(script.text, encoding="utf-8")
    pages = {code: list(entries) for code, entries in pages.items()}
    media_parts = media.catalogue(curriculum)  # videos, audio, documents; their posters and captions go with the pages
    media.write(site_dir, media_parts, curriculum.media.low)
    for entries in pages.values():
        for subject_id, part in media_parts.items():
            entries.extend({"url": url, "bytes": len(small.data), "sha256": small.sha256, "subject": subject_id}
                           for url, small in sorted(part.small.items()))
    for code, entries in pages.items():  # with the language's shared part: the home's lesson list, the on-demand scripts, its script
        entries.append(_write_outline(curriculum, code, site_dir))
        for url in (*ON_DEMAND, *TV_FILES, language_scripts[code].url):
            entries.append({"url": url, "bytes": (site_dir / url).stat().st_size, "sha256": _sha256(site_dir / url), "subject": None})
    content = _content_hash(pages, search_documents)
    _json(site_dir / SATCHEL_DIR / "version.json", {"curriculum": curriculum.id, "version": curriculum.version, "content": content})
    folders = [lang.code for lang in curriculum.languages if language_prefix(curriculum, lang.code)]
    worker = service_worker.start(site_dir, assets.worker, assets.urls["core"], content, folders)
    search.finish_indexes(search_jobs)
    for language in curriculum.languages:
        write_packs(curriculum, language.code, pages[language.code], site_dir, media_parts)
    service_worker.finish(worker, site_dir)


def _write_outline(curriculum: Curriculum, code: str, site_dir: Path) -> dict:
    """satchel/outline/<code>.json, every lesson in order for the home page's guide; its pack entry."""
    url = outline_url(code)
    lessons = [{k: v for k, v in lesson.items() if v} for lesson in PageContext(curriculum, code, HOME, code).outline()]
    (site_dir / url).parent.mkdir(parents=True, exist_ok=True)
    (site_dir / url).write_text(json.dumps(lessons, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return {"url": url, "bytes": (site_dir / url).stat().st_size, "sha256": _sha256(site_dir / url), "subject": None}


def colours_css(curriculum: Curriculum) -> str:
    """The curriculum's colours as material's and Satchel's CSS variables (bundled into the stylesheet)."""
    primary, accent = curriculum.colours["primary"], curriculum.colours["accent"]
    return (f":root{{--md-primary-fg-color:{primary};--md-primary-fg-color--light:{primary};"
            f"--md-primary-fg-color--dark:{primary};--md-accent-fg-color:{accent};--satchel-accent:{accent}}}\n")


def _write_manifest(curriculum: Curriculum, code: str, icons: list[dict], site_dir: Path) -> None:
    language = curriculum.language(code)
    prefix = language_prefix(curriculum, code)
    up = "../" * prefix.count("/")
    title = curriculum.title(code)
    _json(site_dir / prefix / "manifest.webmanifest", {
        "id": f"./?lang={code}" if prefix else "./",
        "name": title,
        "short_name": title if len(title) <= 12 else title.split()[0][:12],
        "description": curriculum.description(code),
        "lang": code,
        "dir": language.dir,
        "start_url": "./",
        "scope": "./",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": curriculum.colours["primary"],
        "icons": [dict(icon, src=up + icon["src"]) for icon in icons],
    })


def describe(curriculum: Curriculum) -> dict:
    """The machine-readable curriculum: ids, titles per language and order, for apps and hubs."""
    codes = [lang.code for lang in curriculum.languages]
    default = curriculum.default_language.code

    def titles(node) -> dict:
        return {code: str(node.meta("title", code, default)) for code in codes}

    return {
        "id": curriculum.id, "version": curriculum.version,
        "title": {code: curriculum.title(code) for code in codes},
        "languages": [{"code": lang.code, "name": lang.name, "dir": lang.dir, "default": lang.default,
                       "url": node_url(curriculum, lang.code, "home")} for lang in curriculum.languages],
        "subjects": [{
            "id": subject.id, "title": titles(subject),
            "units": [{
                "id": unit.id, "title": titles(unit),
                "lessons": [{
                    "id": lesson.id, "title": titles(lesson),
                    "minutes": lesson.meta("minutes", default, default),
                    "prerequisites": lesson.meta("prerequisites", default, default) or [],
                    "languages": [code for code in codes if lesson.has(code)],
                } for lesson in unit.lessons],
            } for unit in subject.units],
        } for subject in curriculum.subjects],
    }


def _content_hash(pages: dict[str, list[dict]], search_documents: dict[str, list[dict]]) -> str:
    """One hash over every page and image of every language, and the text their search indexes
    are built from: it changes when any content does, so every publication makes a new service
    worker (satchel/version.json is in its precache)."""
    digest = hashlib.sha256()
    for code in sorted(pages):
        digest.update(json.dumps(sorted((e["url"], e["sha256"]) for e in pages[code])).encode())
        digest.update(json.dumps(search_documents.get(code, []), ensure_ascii=False, sort_keys=True).encode())
    return digest.hexdigest()[:20]
