"""Files a curriculum loads from other sites: the local cache that `satchel build --fetch-remote`
fills, and the rewrite that makes built pages use it, so a built site loads nothing from another origin."""

from __future__ import annotations

import hashlib
import html
import json
import mimetypes
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from .frontmatter import Document, read_document
from .links import RemoteLoad, find_remote_loads
from .problems import Problem

CACHE_DIR = PurePosixPath(".satchel-cache/remote")  # inside the curriculum; mkdocs copies it into the site
SOURCES_FILE = "sources.json"  # url -> {file, bytes, content_type, fetched}
MAX_BYTES = 10 * 1024 * 1024
TIMEOUT_SECONDS = 20
MEDIA_TYPES = ("image/", "audio/", "video/")
# What --fetch-remote downloads: images and media. Scripts, styles, frames and plug-ins are code
# from another site; a copy would still call home, so the author replaces them.
FETCHED_KINDS = re.compile(r"^(image|<img (src|srcset)>|<source (src|srcset)>|<video (src|poster)>|<audio src>|<input src>|.* url\(\))$")
VIDEO_EMBEDS = [  # (pattern of the player's URL, the video's page, its thumbnail or None)
    (re.compile(r"^(?:https?:)?//(?:www\.)?youtube(?:-nocookie)?\.com/embed/([\w-]+)"),
     "https://www.youtube.com/watch?v={}", "https://img.youtube.com/vi/{}/hqdefault.jpg"),
    (re.compile(r"^(?:https?:)?//player\.vimeo\.com/video/(\d+)"), "https://vimeo.com/{}", None),
]
IFRAME_END_RE = re.compile(r"</iframe\s*>", re.I)
TITLE_RE = re.compile(r"""\btitle\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)


class FetchError(Exception):
    """A remote file that --fetch-remote refused or could not download; the message says why."""


def cache_dir(curriculum_root: Path) -> Path:
    return Path(curriculum_root, CACHE_DIR)


def load_sources(curriculum_root: Path) -> dict[str, dict]:
    path = cache_dir(curriculum_root) / SOURCES_FILE
    try:
        sources = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    # An entry whose file was deleted is no copy at all.
    return {url: entry for url, entry in sources.items()
            if entry.get("file") is None or (cache_dir(curriculum_root) / entry["file"]).is_file()}


def video_embed(url: str) -> tuple[str, str | None] | None:
    """(the video's page, its thumbnail URL or None) when `url` is a video player, else None."""
    for pattern, page, thumbnail in VIDEO_EMBEDS:
        match = pattern.match(url)
        if match:
            return page.format(match.group(1)), thumbnail.format(match.group(1)) if thumbnail else None
    return None


def is_fetched_kind(load: RemoteLoad) -> bool:
    return bool(FETCHED_KINDS.match(load.kind))


def is_resolved(curriculum_root: Path, load: RemoteLoad) -> bool:
    """True when the build will not load `load` remotely: --fetch-remote kept a copy, or (a video
    player) the build shows a card instead."""
    if load.kind == "<iframe src>" and video_embed(load.url):
        return load.url in load_sources(curriculum_root)
    return is_fetched_kind(load) and load.url in load_sources(curriculum_root)


def fix_for(load: RemoteLoad) -> str:
    """How an author fixes a remote reference, said in the problem."""
    if load.kind == "<iframe src>" and video_embed(load.url):
        return ("a video player cannot play offline: run `satchel build --fetch-remote` while online to show a card "
                "with its thumbnail and a link instead, or replace the <iframe> with a link to the video")
    if is_fetched_kind(load):
        return ("download the file into the curriculum beside the lesson and link to it by name, "
                "or run `satchel build --fetch-remote` while online to keep a local copy")
    return "download the file into the curriculum and link to it locally, or remove it"


def fetch(url: str, into: Path, max_bytes: int = MAX_BYTES, timeout: float = TIMEOUT_SECONDS) -> dict:
    """Download `url` into the folder `into` as <sha256 of url>.<ext>; return its sources.json entry.
    Raises FetchError for anything but an image, audio or video file of at most `max_bytes`."""
    full = "https:" + url if url.startswith("//") else url
    if urlsplit(full).scheme not in ("http", "https"):
        raise FetchError("only http and https addresses can be fetched")
    request = urllib.request.Request(full, headers={"User-Agent": "satchel --fetch-remote"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            content_type = response.headers.get_content_type()
            if not content_type.startswith(MEDIA_TYPES):
                raise FetchError(f"the server sent '{content_type}', not an image, audio or video file")
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise FetchError(f"the file is {_size(int(length))}, more than the {_size(max_bytes)} a copy may be")
            data = response.read(max_bytes + 1)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise FetchError(f"it could not be downloaded ({getattr(error, 'reason', error)})") from None
    if len(data) > max_bytes:
        raise FetchError(f"the file is more than the {_size(max_bytes)} a copy may be")
    extension = mimetypes.guess_extension(content_type) or PurePosixPath(urlsplit(full).path).suffix or ".bin"
    name = hashlib.sha256(url.encode("utf-8")).hexdigest() + extension
    into.mkdir(parents=True, exist_ok=True)
    (into / name).write_bytes(data)
    return {"file": name, "bytes": len(data), "content_type": content_type,
            "fetched": datetime.now(UTC).isoformat(timespec="seconds")}


def _size(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 1e6 else f"{count / 1e3:.0f} kB"


def fetch_remote(curriculum_root: Path, log: Callable[[str], None] = lambda _: None,
                 max_bytes: int = MAX_BYTES, timeout: float = TIMEOUT_SECONDS) -> list[Problem]:
    """Download, once, every remote image and media file the curriculum's pages load, and the
    thumbnail of every video player. Returns a problem for each file that was refused."""
    root = Path(curriculum_root).resolve()
    folder = cache_dir(root)
    sources = load_sources(root)
    problems: list[Problem] = []
    refused: dict[str, FetchError] = {}
    for doc in _documents(root):
        for load in find_remote_loads(doc.body):
            line = doc.body_line + doc.body[:load.offset].count("\n")
            video = video_embed(load.url) if load.kind == "<iframe src>" else None
            if load.url in sources or not (video or is_fetched_kind(load)):
                continue
            if video:
                thumbnail = video[1]
                if thumbnail and thumbnail not in sources:
                    try:
                        sources[thumbnail] = fetch(thumbnail, folder, max_bytes, timeout)
                    except FetchError as error:
                        log(f"No thumbnail for {load.url}: {error}; its card shows a placeholder.")
                        thumbnail = None
                sources[load.url] = {"file": None, "video": video[0], "thumbnail": thumbnail,
                                     "fetched": datetime.now(UTC).isoformat(timespec="seconds")}
            else:
                try:
                    if load.url in refused:  # asked once per build, reported at every use
                        raise refused[load.url]
                    sources[load.url] = fetch(load.url, folder, max_bytes, timeout)
                    log(f"Fetched {load.url} ({sources[load.url]['bytes']} bytes)")
                except FetchError as error:
                    refused[load.url] = error
                    problems.append(Problem(doc.path, line, f"--fetch-remote refused '{load.url}': {error}. "
                                                            "Download it yourself into the curriculum and link it locally"))
                    continue
            _write_sources(root, sources)
    return problems


def _documents(root: Path) -> list[Document]:
    """Every Markdown file the curriculum publishes (files and folders starting with '.' or '_' are not)."""
    docs = []
    for path in sorted(root.rglob("*.md")):
        if any(part.startswith((".", "_")) for part in path.relative_to(root).parts):
            continue
        doc = read_document(path, [])
        if doc.readable:
            docs.append(doc)
    return docs


def _write_sources(root: Path, sources: dict) -> None:
    folder = cache_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SOURCES_FILE).write_text(json.dumps(sources, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def localize(body: str, source: Path, page_url: str, curriculum_root: Path, sources: dict[str, dict]) -> str:
    """`body` (the Markdown of `source`, built at `page_url`) with each remote reference that has a
    local copy pointing at that copy, and each video player replaced by a card. References without
    a copy are left as they are: the check reports them, so a build never gets here with one."""
    edits: dict[tuple[int, int], str] = {}
    for load in find_remote_loads(body):
        entry = sources.get(load.url)
        if entry is None:
            continue
        if load.kind == "<iframe src>" and "video" in entry:
            end = IFRAME_END_RE.search(body, load.end)
            stop = end.end() if end else body.find(">", load.end) + 1
            thumbnail = sources.get(entry.get("thumbnail") or "", {}).get("file")
            src = _page_relative(page_url, thumbnail) if thumbnail else None
            edits[(load.tag_start, stop)] = video_card(entry["video"], _title(body[load.tag_start:stop]), src)
        elif entry.get("file") and is_fetched_kind(load):
            if load.kind == "image":  # Markdown: mkdocs resolves it from the source file, in every language
                target = os.path.relpath(Path(curriculum_root, CACHE_DIR, entry["file"]), Path(source).parent)
                edits[(load.start, load.end)] = Path(target).as_posix()
            else:  # raw HTML is written as it is: relative to the page's own address
                edits[(load.start, load.end)] = _page_relative(page_url, entry["file"])
    for (start, end), text in sorted(edits.items(), reverse=True):
        body = body[:start] + text + body[end:]
    return body


def localize_page(markdown: str, page, config) -> str:
    """The mkdocs `on_page_markdown` step: `localize` for one page of the curriculum at `config.docs_dir`."""
    root = Path(config["docs_dir"])
    sources = load_sources(root)
    if not sources or page.file.abs_src_path is None:  # generated pages (home, offline) load nothing remote
        return markdown
    return localize(markdown, Path(page.file.abs_src_path), page.url, root, sources)


def _page_relative(page_url: str, file: str) -> str:
    """The copy's URL relative to a page at `page_url` (`maths/shapes/circles/`, `fr/maths/`, ``): the
    cache is copied once, at the top of the site, and every language's pages use it."""
    page_dir = page_url if page_url.endswith("/") or not page_url else page_url.rsplit("/", 1)[0] + "/"
    return Path(os.path.relpath(Path(CACHE_DIR, file), page_dir or ".")).as_posix()


def _title(tag: str) -> str:
    match = TITLE_RE.search(tag)
    return html.unescape(match.group(1) or match.group(2)) if match else "Video"


def video_card(page_url: str, title: str, thumbnail_src: str | None) -> str:
    """A card for a video that cannot play offline: its thumbnail (or a neutral placeholder), title and link."""
    picture = (f'<img src="{html.escape(thumbnail_src)}" alt="">' if thumbnail_src
               else '<span class="satchel-video-placeholder" aria-hidden="true">&#9654;</span>')
    return (f'<a class="satchel-video" href="{html.escape(page_url)}">{picture}'
            f'<span class="satchel-video-title">{html.escape(title)}</span></a>')
