"""Video, audio, PDF and EPUB in lessons, and images re-encoded for phones (docs/curriculum-format.md, "Media").

An image-style link to a media file, `![The water cycle](water-cycle.mp4)`, becomes a player (or, for a
PDF or an EPUB, a link with its size and page count). Beside the file: a poster `water-cycle.poster.png`,
captions `water-cycle.<lang>.vtt` and transcripts `water-cycle.<lang>.md`. The build writes the large files
once for every language, named by their content (assets/media/<hash>.<ext>), and lists them apart from the
pages in each subject's pack list, so a device can take the lessons without the videos (docs/bundle.md).

Images (PNG, JPEG) are resized to `media.max_image_width` and re-encoded to WebP with fixed settings and no
metadata (or kept as PNG when that is smaller), the same bytes on every build.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from .frontmatter import load_yaml
from .links import IMAGE_RE, _blank_code, is_remote
from .problems import Problem
from .strings import render as render_string

if TYPE_CHECKING:
    from .curriculum import Curriculum

MEDIA_DIR = "assets/media"
HASH_LENGTH = 20
KINDS = {
    ".mp4": ("video", "video/mp4"), ".webm": ("video", "video/webm"),
    ".mp3": ("audio", "audio/mpeg"), ".ogg": ("audio", "audio/ogg"), ".m4a": ("audio", "audio/mp4"),
    ".pdf": ("pdf", "application/pdf"), ".epub": ("epub", "application/epub+zip"),
}
# Containers a phone's browser cannot play: refused with what to convert them to.
REFUSED = {".mov": "QuickTime", ".avi": "AVI", ".mkv": "Matroska", ".wmv": "Windows Media", ".flv": "Flash video",
           ".3gp": "3GP", ".wav": "WAV", ".flac": "FLAC", ".wma": "Windows Media audio", ".aac": "raw AAC"}
SIDE_SUFFIXES = (".vtt", ".md")  # captions and transcripts beside a media file: <stem>.<lang>.vtt|md
POSTER_SUFFIXES = (".png", ".jpg", ".webp")
RASTER = (".png", ".jpg", ".jpeg")
VIDEO_CODECS = {"mp4": {"avc1", "avc3"}, "webm": {"vp8", "vp9"}}
AUDIO_CODECS = {"mp4": {"mp4a"}, "webm": {"opus", "vorbis"}}
CODEC_NAMES = {"hvc1": "HEVC (H.265)", "hev1": "HEVC (H.265)", "hevc": "HEVC (H.265)", "av01": "AV1", "av1": "AV1",
               "apcn": "ProRes", "apch": "ProRes", "apcs": "ProRes", "apco": "ProRes", "ap4h": "ProRes", "prores": "ProRes",
               "mp4v": "MPEG-4 Part 2", "ac-3": "AC-3", "ec-3": "E-AC-3", "alac": "ALAC", "vp09": "VP9 in mp4"}
MAX_VTT_BYTES = 512 * 1024
MAX_TRANSCRIPT_BYTES = 256 * 1024
MAX_MOOV_BYTES = 64 * 1024 * 1024
EPUB_LIMITS = {"entries": 10_000, "bytes": 512 * 1024 * 1024, "container": 64 * 1024, "opf": 4 * 1024 * 1024}
VTT_TIME = r"(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})"
VTT_CUE_RE = re.compile(rf"^{VTT_TIME}[ \t]+-->[ \t]+{VTT_TIME}(?:[ \t].*)?$")
SRCSET_WIDTH = 640  # a second, narrower copy of images wider than this
MB = 1_000_000
@dataclass
class Settings:
    """curriculum.yml's `media:` (docs/curriculum-format.md); `low` is `satchel build --media low`."""
    max_image_width: int = 1280
    file_budget: int = 25 * MB  # any one file: a video, a PDF, an image
    page_budget: int = 2 * MB  # a lesson without its videos, audio and documents: text, images, posters, captions
    low: bool = False
    LIMITS = {"max_image_width": (160, 8192), "file_budget": (100_000, 4_000 * MB), "page_budget": (10_000, 1_000 * MB)}


@dataclass(frozen=True)
class MediaFile:
    """A video, audio, PDF or EPUB file as the bundle serves it."""
    path: Path
    kind: str  # video, audio, pdf, epub
    type: str
    bytes: int
    sha256: str
    duration: float | None = None
    pages: int | None = None

    @property
    def url(self) -> str:
        return f"{MEDIA_DIR}/{self.sha256[:HASH_LENGTH]}{self.path.suffix.lower()}"


@dataclass(frozen=True)
class SmallFile:
    """A poster or captions file: goes with the lesson's pages (content-addressed too)."""
    path: Path
    data: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def url(self) -> str:
        return f"{MEDIA_DIR}/{self.sha256[:HASH_LENGTH]}{self.path.suffix.lower()}"


@dataclass
class Use:
    """One media link in one document: what it shows and what goes with it."""
    media: MediaFile
    title: str
    line: int
    target: str
    poster: SmallFile | None = None
    captions: dict[str, SmallFile] = field(default_factory=dict)  # language -> .vtt
    transcripts: dict[str, Path] = field(default_factory=dict)  # language -> .md


# curriculum.yml

def read_settings(config_path: Path, problems: list[Problem]) -> Settings:
    settings = Settings()
    try:
        node, data = load_yaml(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return settings  # reported by curriculum.py
    raw = data.get("media") if isinstance(data, dict) else None
    if raw is None:
        return settings
    line = next((k.start_mark.line + 1 for k, _ in node.value if k.value == "media"), 1) if isinstance(node, yaml.MappingNode) else 1
    if not isinstance(raw, dict):
        problems.append(Problem(config_path, line, "'media' must be a mapping such as 'media: {max_image_width: 1280, file_budget: 25 MB}'"))
        return settings
    for key, value in raw.items():
        if key not in Settings.LIMITS:
            problems.append(Problem(config_path, line, f"'media' has unknown key '{key}' (allowed: {', '.join(sorted(Settings.LIMITS))})"))
            continue
        number = _size(value) if key != "max_image_width" else (value if isinstance(value, int) and not isinstance(value, bool) else None)
        low, high = Settings.LIMITS[key]
        if number is None or not low <= number <= high:
            example = "1280" if key == "max_image_width" else "'25 MB' or a number of bytes"
            problems.append(Problem(config_path, line, f"'media: {key}' must be between {low} and {high} (such as {example}); got {value!r}"))
            continue
        setattr(settings, key, number)
    return settings


def _size(value) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(KB|MB|GB)\s*", str(value), re.I)
    if not match:
        return None
    return int(float(match.group(1)) * {"KB": 1000, "MB": MB, "GB": 1000 * MB}[match.group(2).upper()])


# Reading media files

@lru_cache(maxsize=4096)
def _probe_cached(path: Path, size: int, mtime: int) -> tuple[MediaFile | None, str | None]:
    suffix = path.suffix.lower()
    kind, mime = KINDS[suffix]
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    duration = pages = None
    try:
        if suffix in (".mp4", ".m4a"):
            video, audio, duration = mp4_codecs(path)
            error = _codec_problem("mp4", video, audio, kind)
            if error:
                return None, error
            duration = _mutagen_length(path) or duration
        elif suffix == ".webm":
            found = _ffprobe(path)
            if found is None:
                return None, ("a WebM's codecs can only be checked with ffprobe, which is not installed: install Debian's ffmpeg "
                              "(apt-get install ffmpeg), or convert the video to mp4 (H.264 video, AAC audio)")
            video, audio, duration = found
            error = _codec_problem("webm", video, audio, kind)
            if error:
                return None, error
        elif suffix in (".mp3", ".ogg"):
            duration, error = _audio_length(path, suffix)
            if error:
                return None, error
        elif suffix == ".pdf":
            pages, error = pdf_pages(path)
            if error:
                return None, error
        elif suffix == ".epub":
            pages, error = epub_spine_count(path)
            if error:
                return None, error
    except (OSError, ValueError) as err:
        return None, f"cannot be read as {suffix[1:]} ({err}): export it again"
    duration = round(duration, 3) if duration else None
    return MediaFile(path, kind, mime, size, digest.hexdigest(), duration, pages), None


def probe(path: Path) -> tuple[MediaFile | None, str | None]:
    """The file as the bundle lists it, or why a phone could not use it (a message for its author)."""
    stat = path.stat()
    return _probe_cached(path, stat.st_size, stat.st_mtime_ns)


def _codec_problem(container: str, video: list[str], audio: list[str], kind: str) -> str | None:
    ok_video, ok_audio = VIDEO_CODECS[container], AUDIO_CODECS[container]
    wanted = "H.264 video and AAC audio" if container == "mp4" else "VP8 or VP9 video and Opus or Vorbis audio"
    for codec in video + audio:
        if codec not in ok_video | ok_audio:
            name = CODEC_NAMES.get(codec, codec)
            return (f"uses the codec {name}, which many phones cannot play: a {container} must have {wanted}; convert it, "
                    f"for example `ffmpeg -i IN -c:v libx264 -crf 28 -c:a aac -b:a 64k OUT.mp4`")
    if kind == "video" and not video:
        return f"has no video track: an audio-only {container} should be an .m4a or .mp3"
    if kind == "audio" and video:
        return "has a video track: give it the extension .mp4"
    if not video and not audio:
        return "has no audio or video track that Satchel can find: export it again as mp4 (H.264/AAC)"
    return None


def _mp4_boxes(data: bytes, start: int, end: int):
    """(type, payload start, box end) of the boxes in data[start:end] (ISO BMFF, bounded by `end`)."""
    at = start
    count = 0
    while at + 8 <= end and count < 10_000:
        count += 1
        size = int.from_bytes(data[at:at + 4], "big")
        kind = data[at + 4:at + 8]
        header = 8
        if size == 1:
            if at + 16 > end:
                return
            size, header = int.from_bytes(data[at + 8:at + 16], "big"), 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            return
        yield kind, at + header, at + size
        at += size


def mp4_codecs(path: Path) -> tuple[list[str], list[str], float | None]:
    """The video and audio sample entries (stsd formats, such as avc1, hvc1, mp4a) and the mvhd duration
    of an mp4, read from its moov box (at most MAX_MOOV_BYTES) without loading the media data."""
    with path.open("rb") as file:
        size = path.stat().st_size
        at, moov = 0, None
        while at + 8 <= size:
            file.seek(at)
            header = file.read(16)
            box_size, kind = int.from_bytes(header[:4], "big"), header[4:8]
            head = 8
            if box_size == 1:
                box_size, head = int.from_bytes(header[8:16], "big"), 16
            elif box_size == 0:
                box_size = size - at
            if box_size < head:
                raise ValueError("a box has a broken size")
            if kind == b"moov":
                if box_size > MAX_MOOV_BYTES:
                    raise ValueError("its index (moov box) is too large")
                file.seek(at)
                moov = file.read(box_size)
                break
            at += box_size
    if moov is None:
        raise ValueError("it has no moov box (is it an mp4?)")
    video, audio, duration = [], [], None
    for kind, start, end in _mp4_boxes(moov, 8, len(moov)):
        if kind == b"mvhd":
            version = moov[start]
            if version == 1:
                scale, length = int.from_bytes(moov[start + 20:start + 24], "big"), int.from_bytes(moov[start + 24:start + 32], "big")
            else:
                scale, length = int.from_bytes(moov[start + 12:start + 16], "big"), int.from_bytes(moov[start + 16:start + 20], "big")
            duration = length / scale if scale else None
        if kind != b"trak":
            continue
        handler, formats = None, []
        stack = [(start, end)]
        while stack:
            s, e = stack.pop()
            for inner, ps, pe in _mp4_boxes(moov, s, e):
                if inner in (b"mdia", b"minf", b"stbl"):
                    stack.append((ps, pe))
                elif inner == b"hdlr":
                    handler = moov[ps + 8:ps + 12]
                elif inner == b"stsd":
                    for _, es, _ee in list(_mp4_boxes(moov, ps + 8, pe))[:8]:
                        formats.append(moov[es - 4:es].decode("latin-1").strip().lower())
        if handler == b"vide":
            video += formats
        elif handler == b"soun":
            audio += formats
    return video, audio, duration


def _mutagen_length(path: Path) -> float | None:
    from mutagen import MutagenError
    from mutagen.mp4 import MP4
    try:
        return MP4(path).info.length or None
    except MutagenError:
        return None


def _audio_length(path: Path, suffix: str) -> tuple[float | None, str | None]:
    import mutagen
    from mutagen.oggopus import OggOpus
    from mutagen.oggvorbis import OggVorbis
    try:
        found = mutagen.File(path)
    except mutagen.MutagenError as err:
        return None, f"cannot be read as {suffix[1:]} ({err}): export it again"
    if found is None:
        return None, f"is not a {suffix[1:]} file that Satchel can read: export it again"
    if suffix == ".ogg" and not isinstance(found, (OggVorbis, OggOpus)):
        return None, "is an Ogg file without Vorbis or Opus audio, which phones cannot play: convert it to Opus or mp3"
    return found.info.length, None


def _ffprobe(path: Path) -> tuple[list[str], list[str], float | None] | None:
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return None
    out = subprocess.run([ffprobe, "-v", "error", "-show_entries", "stream=codec_type,codec_name:format=duration,format_name",
                          "-of", "json", str(path)], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise ValueError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "ffprobe could not read it")
    data = json.loads(out.stdout)
    streams = data.get("streams", [])
    video = [s.get("codec_name", "") for s in streams if s.get("codec_type") == "video"]
    audio = [s.get("codec_name", "") for s in streams if s.get("codec_type") == "audio"]
    duration = data.get("format", {}).get("duration")
    return video, audio, float(duration) if duration else None


def pdf_pages(path: Path) -> tuple[int | None, str | None]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            return None, "is an encrypted PDF, which a learner's phone cannot open offline: save it again without a password"
        return len(reader.pages), None
    except (PyPdfError, ValueError, KeyError, OSError) as err:
        return None, f"is not a PDF Satchel can read ({err}): export it again as PDF"


def epub_spine_count(path: Path) -> tuple[int | None, str | None]:
    """The number of items in an EPUB's reading order (the OPF spine), read with bounds on the zip's
    entries and sizes (no zip bomb gets unpacked) and without an XML parser (no entity expansion)."""
    bad = "is not an EPUB Satchel can read ({}): export it again as EPUB"
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > EPUB_LIMITS["entries"] or sum(i.file_size for i in infos) > EPUB_LIMITS["bytes"]:
                return None, bad.format("it unpacks to too many files or bytes")
            container = _zip_text(archive, "META-INF/container.xml", EPUB_LIMITS["container"])
            match = re.search(r"<rootfile\b[^>]*\bfull-path\s*=\s*[\"']([^\"']+)[\"']", container or "")
            if not match:
                return None, bad.format("META-INF/container.xml names no package file")
            opf = _zip_text(archive, match.group(1), EPUB_LIMITS["opf"])
            spine = re.search(r"<(?:\w+:)?spine\b.*?</(?:\w+:)?spine\s*>", opf or "", re.S)
            if not spine:
                return None, bad.format("its package file has no spine")
            return len(re.findall(r"<(?:\w+:)?itemref\b", spine.group(0))), None
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError) as err:
        return None, bad.format(err)


def _zip_text(archive: zipfile.ZipFile, name: str, limit: int) -> str | None:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.file_size > limit:
        raise zipfile.BadZipFile(f"{name} is larger than {limit} bytes")
    with archive.open(info) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise zipfile.BadZipFile(f"{name} is larger than {limit} bytes")
    return data.decode("utf-8")


def check_vtt(path: Path) -> list[tuple[int, str]]:
    """(line, message) for each problem of a WebVTT captions file."""
    if path.stat().st_size > MAX_VTT_BYTES:
        return [(0, f"is larger than {MAX_VTT_BYTES // 1024} KB: captions are text, split the video or shorten them")]
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return [(0, "is not UTF-8 text: save it as UTF-8")]
    lines = text.splitlines()
    if not lines or not re.match(r"^WEBVTT(?:[ \t].*)?$", lines[0]):
        return [(1, "does not start with the line 'WEBVTT': it is not a WebVTT captions file (an .srt can be converted "
                    "with `ffmpeg -i captions.srt captions.vtt`)")]
    problems, cues = [], 0
    for number, line in enumerate(lines, start=1):
        if "-->" not in line:
            continue
        match = VTT_CUE_RE.match(line.strip())
        if not match:
            problems.append((number, f"cue timing '{line.strip()}' does not parse: write it as '00:01.000 --> 00:04.500' "
                                     "(minutes:seconds.milliseconds, hours optional)"))
            continue
        g = match.groups()
        start = int(g[0] or 0) * 3600 + int(g[1]) * 60 + int(g[2]) + int(g[3]) / 1000
        end = int(g[4] or 0) * 3600 + int(g[5]) * 60 + int(g[6]) + int(g[7]) / 1000
        if end <= start:
            problems.append((number, f"cue ends before it starts ('{line.strip()}'): the second time must be later"))
        cues += 1
    if not cues and not problems:
        problems.append((1, "has no cues: add at least one '00:00.000 --> 00:03.000' line followed by its text"))
    return problems


# Finding media in documents

def media_links(body: str) -> list[tuple[int, int, str, str]]:
    """(start, end, title, target) of each image-style link to a media file (or a refused container) in `body`."""
    text = _blank_code(body)
    found = []
    for m in IMAGE_RE.finditer(text):
        target = m.group(2)
        suffix = posixpath.splitext(target.split("#", 1)[0].split("?", 1)[0])[1].lower()
        if (suffix in KINDS or suffix in REFUSED) and not is_remote(target):
            found.append((m.start(), m.end(), m.group(1), target))
    return found


def resolve(curriculum: Curriculum, doc_path: Path, target: str) -> Path | None:
    """The file a link points at: beside the document, else at the same place in the default language."""
    target = target.split("#", 1)[0].split("?", 1)[0]
    root = curriculum.root
    if target.startswith("/"):
        candidates = [root / target.lstrip("/")]
    else:
        here = (doc_path.parent / target)
        candidates = [here]
        try:
            language, *rest = here.resolve().relative_to(root).parts
            candidates.append(root.joinpath(curriculum.default_language.code, *rest))
        except ValueError:
            pass
    for candidate in candidates:
        candidate = candidate.resolve()
        if candidate.is_file() and candidate.is_relative_to(root):
            return candidate
    return None


def side_files(media_path: Path, codes: list[str]) -> tuple[Path | None, dict[str, Path], dict[str, Path]]:
    """The poster, captions by language and transcripts by language beside a media file."""
    stem = media_path.with_suffix("")
    poster = next((stem.with_name(f"{stem.name}.poster{s}") for s in POSTER_SUFFIXES if stem.with_name(f"{stem.name}.poster{s}").is_file()), None)
    captions = {c: stem.with_name(f"{stem.name}.{c}.vtt") for c in codes if stem.with_name(f"{stem.name}.{c}.vtt").is_file()}
    transcripts = {c: stem.with_name(f"{stem.name}.{c}.md") for c in codes if stem.with_name(f"{stem.name}.{c}.md").is_file()}
    return poster, captions, transcripts


def is_side_file(path: Path) -> bool:
    """A media file's poster, captions or transcript (not a lesson, not an image to re-encode)."""
    name = path.name
    parts = name.split(".")
    if len(parts) < 3:
        return False
    stem = ".".join(parts[:-2])
    if parts[-2] == "poster" and path.suffix.lower() in POSTER_SUFFIXES or path.suffix in SIDE_SUFFIXES:
        return any((path.parent / f"{stem}{ext}").is_file() for ext in KINDS if KINDS[ext][0] in ("video", "audio"))
    return False


def is_source(path: Path) -> bool:
    """A file the build writes itself (under assets/media/) instead of copying it as it is."""
    return path.suffix.lower() in KINDS or is_side_file(path)


def check(curriculum: Curriculum, problems: list[Problem], warnings: list[Problem]) -> dict[str, list[Use]]:
    """Every media link of every document, checked; returns the uses by document path."""
    settings = curriculum.media
    codes = [lang.code for lang in curriculum.languages]
    uses: dict[str, list[Use]] = {}
    for node in curriculum.nodes():
        for code, doc in node.docs.items():
            found = _check_document(curriculum, node, code, doc, settings, codes, problems, warnings)
            if found:
                uses[str(doc.path)] = found
    return uses


def _check_document(curriculum, node, code, doc, settings: Settings, codes, problems, warnings) -> list[Use]:
    from .curriculum import Lesson
    uses, page_bytes = [], len(doc.body.encode())
    for start, _end, title, target in media_links(doc.body):
        line = doc.body_line + doc.body.count("\n", 0, start)
        suffix = posixpath.splitext(target.split("#", 1)[0])[1].lower()
        if suffix in REFUSED:
            problems.append(Problem(doc.path, line, f"'{target}' is a {REFUSED[suffix]} file, which phones cannot play: convert it to "
                                                    "mp4 (H.264 video, AAC audio), for example `ffmpeg -i IN -c:v libx264 -crf 28 -c:a aac "
                                                    "-b:a 64k OUT.mp4`, or for sound alone to .m4a or .mp3"))
            continue
        path = resolve(curriculum, doc.path, target)
        if path is None:
            continue  # reported by links.py as a missing file
        size = path.stat().st_size
        if size > settings.file_budget:
            problems.append(Problem(doc.path, line, f"'{target}' is {_mb(size)}, over the file budget of {_mb(settings.file_budget)} "
                                                    "(media: file_budget in curriculum.yml): make it smaller (`satchel build --media low` "
                                                    "writes a low-data copy, or re-encode it), split it, or raise the budget"))
            continue
        media, error = probe(path)
        if media is None:
            problems.append(Problem(doc.path, line, f"'{target}' {error}"))
            continue
        use = Use(media, title.strip() or path.stem, line, target)
        if media.kind in ("video", "audio"):
            poster, captions, transcripts = side_files(path, codes)
            for lang, vtt in captions.items():
                for vtt_line, message in check_vtt(vtt):
                    problems.append(Problem(vtt, vtt_line, message))
                use.captions[lang] = SmallFile(vtt, vtt.read_bytes()[:MAX_VTT_BYTES])
            for lang, transcript in transcripts.items():
                if transcript.stat().st_size > MAX_TRANSCRIPT_BYTES:
                    problems.append(Problem(transcript, 0, f"is larger than {MAX_TRANSCRIPT_BYTES // 1024} KB: a transcript is a page's text"))
                else:
                    use.transcripts[lang] = transcript
            if media.kind == "video":
                if poster is None:
                    if not any(w.message.startswith(f"video '{target}' has no poster") for w in warnings):
                        warnings.append(Problem(doc.path, line, f"video '{target}' has no poster: add {path.stem}.poster.png (or .jpg, "
                                                                ".webp) beside it, so a learner sees what it is before downloading it"))
                else:
                    use.poster = SmallFile(poster, poster.read_bytes())
                    page_bytes += len(use.poster.data)
                if isinstance(node, Lesson):
                    missing = [c for c in codes if node.has(c) and c not in captions]
                    if code == curriculum.default_language.code and missing:
                        # A warning, not a refusal: a new translation's lessons reach learners before its captions do.
                        warnings.append(Problem(doc.path, line, f"video '{target}' has no captions in {', '.join(missing)}, a language this "
                                                                f"lesson is in: add {', '.join(f'{path.stem}.{c}.vtt' for c in missing)} "
                                                                "beside it (WebVTT)"))
            page_bytes += sum(len(c.data) for c in use.captions.values())
        uses.append(use)
    page_bytes += sum(_image_bytes(curriculum, doc, target, settings) for target in _image_targets(doc.body))
    if isinstance(node, Lesson) and page_bytes > settings.page_budget:
        problems.append(Problem(doc.path, 0, f"this lesson is {_mb(page_bytes)} without its videos, audio and documents, over the page "
                                             f"budget of {_mb(settings.page_budget)} (media: page_budget in curriculum.yml): use fewer "
                                             "or smaller images, split the lesson, or raise the budget"))
    return uses


def _image_targets(body: str) -> list[str]:
    return [m.group(2) for m in IMAGE_RE.finditer(_blank_code(body))
            if posixpath.splitext(m.group(2).split("#", 1)[0])[1].lower() in (*RASTER, ".svg", ".webp", ".gif") and not is_remote(m.group(2))]


def _image_bytes(curriculum, doc, target: str, settings: Settings) -> int:
    path = resolve(curriculum, doc.path, target)
    if path is None:
        return 0
    if path.suffix.lower() in RASTER:
        try:
            return len(encode_image(path, settings.max_image_width).data)
        except OSError:
            return path.stat().st_size
    return path.stat().st_size


def _mb(size: int) -> str:
    return f"{size / MB:.1f} MB" if size >= MB else f"{size / 1000:.0f} KB"


# Pages

def label(media: MediaFile, strings: dict, code: str) -> str:
    """'2:35 · 4.1 MB', 'PDF · 4 pages · 320 KB' (pages and chapters in the page's language, builder/strings/*.yml):
    what the learner sees before fetching the file."""
    size = _mb(media.bytes)
    if media.kind in ("video", "audio") and media.duration:
        seconds = round(media.duration)
        return f"{seconds // 60}:{seconds % 60:02d} · {size}"
    if media.kind in ("pdf", "epub") and media.pages is not None:
        count = render_string(strings["media_pages" if media.kind == "pdf" else "media_chapters"], code, n=media.pages)
        return f"{media.kind.upper()} · {count} · {size}"
    return f"{media.kind.upper()} · {size}" if media.kind in ("pdf", "epub") else size


def render(markdown: str, doc_path: str, uses: dict[str, list[Use]], up: str, code: str, curriculum: Curriculum,
           lesson_id: str, strings: dict) -> str:
    """Replace each media link of the page's Markdown with its player or link. `up` leads from the page to the bundle's root."""
    found = {use.target: use for use in uses.get(doc_path, [])}
    if not found:
        return markdown
    for start, end, _title, target in reversed(media_links(markdown)):
        use = found.get(target)
        if use is not None:
            markdown = markdown[:start] + _html(use, up, code, curriculum, lesson_id, strings) + markdown[end:]
    return markdown


def _html(use: Use, up: str, code: str, curriculum: Curriculum, lesson_id: str, strings: dict) -> str:
    media = use.media
    title = escape(use.title)
    if media.kind in ("pdf", "epub"):
        pages = f' data-satchel-pages="{media.pages}"' if media.pages is not None else ""
        return (f'<a class="satchel-resource" data-satchel-kind="{media.kind}" data-satchel-bytes="{media.bytes}"{pages} '
                f'href="{up}{media.url}">{title} · <bdi>{escape(label(media, strings, code))}</bdi></a>')
    tag = media.kind
    poster = f' poster="{up}{use.poster.url}"' if use.poster else ""
    duration = f' data-satchel-duration="{media.duration:g}"' if media.duration else ""
    default = code if code in use.captions else curriculum.default_language.code
    tracks = "".join(f'<track kind="captions" srclang="{lang}" label="{escape(curriculum.language(lang).name)}" '
                     f'src="{up}{vtt.url}"{" default" if lang == default else ""}>' for lang, vtt in use.captions.items())
    inline = "playsinline " if tag == "video" else ""
    html = (f'\n\n<figure class="satchel-media satchel-{tag}"><{tag} controls preload="none" {inline}{poster.strip()} '
            f'data-satchel-media="{escape(lesson_id)}" data-satchel-bytes="{media.bytes}"{duration} src="{up}{media.url}">{tracks}</{tag}>'
            f'<figcaption>{title} · <bdi>{escape(label(media, strings, code))}</bdi></figcaption></figure>\n\n').replace("  ", " ")
    transcript = use.transcripts.get(code) or use.transcripts.get(curriculum.default_language.code)
    if transcript is not None:
        text = transcript.read_text(encoding="utf-8")
        html += (f'<details class="satchel-transcript" markdown="1">\n<summary>{escape(strings["media_transcript"])}</summary>\n\n'
                 f'{text.strip()}\n\n</details>\n\n')
    return html


# The bundle

@dataclass
class SubjectMedia:
    large: dict[str, dict] = field(default_factory=dict)  # url -> pack list entry
    small: dict[str, SmallFile] = field(default_factory=dict)  # url -> poster or captions


def catalogue(curriculum: Curriculum) -> dict[str, SubjectMedia]:
    """The media of each subject: large files (listed apart in the pack list) and small ones (with the pages)."""
    from .curriculum import Lesson, Page, Subject, Unit
    found: dict[str, SubjectMedia] = {}
    for node in curriculum.nodes():
        subject = node if isinstance(node, Subject) else node.subject if isinstance(node, Unit) else \
            node.unit.subject if isinstance(node, (Lesson, Page)) else None
        if subject is None:
            continue
        for doc in node.docs.values():
            for use in curriculum.media_uses.get(str(doc.path), []):
                part = found.setdefault(subject.id, SubjectMedia())
                media = use.media
                entry = part.large.setdefault(media.url, {
                    "url": media.url, "sha256": media.sha256, "bytes": media.bytes, "type": media.type, "kind": media.kind,
                    "lessons": [], "_path": media.path,
                    **({"duration": media.duration} if media.duration else {}),
                    **({"pages": media.pages} if media.kind == "pdf" and media.pages is not None else {})})
                if node.id not in entry["lessons"]:
                    entry["lessons"] = sorted([*entry["lessons"], node.id])
                for small in [use.poster, *use.captions.values()]:
                    if small is not None:
                        part.small[small.url] = small
    return found


def write(site_dir: Path, found: dict[str, SubjectMedia], low: bool, log=print) -> None:
    """Write every media file into the bundle (and, with `low`, its low-data rendition), filling in the pack entries."""
    target = site_dir / MEDIA_DIR
    target.mkdir(parents=True, exist_ok=True)
    for part in found.values():
        for url, entry in part.large.items():
            _copy(entry["_path"], site_dir / url)
            if low and entry["kind"] in ("video", "audio"):
                rendition = low_rendition(entry["_path"], entry["kind"])
                data = rendition.read_bytes()
                if len(data) >= entry["bytes"]:
                    log(f"The low-data copy of {entry['_path'].name} would not be smaller than the file: none is listed.")
                    continue
                digest = hashlib.sha256(data).hexdigest()
                suffix = ".mp4" if entry["kind"] == "video" else ".m4a"
                low_url = f"{MEDIA_DIR}/{digest[:HASH_LENGTH]}{suffix}"
                _copy(rendition, site_dir / low_url)
                entry["low"] = {"url": low_url, "sha256": digest, "bytes": len(data), "type": KINDS[suffix][1]}
        for url, small in part.small.items():
            if not (site_dir / url).is_file():
                (site_dir / url).write_bytes(small.data)


def _copy(source: Path, dest: Path) -> None:
    if dest.is_file() and dest.stat().st_size == source.stat().st_size:
        return  # named by its content: already there
    temporary = dest.with_name(f".{dest.name}.{os.getpid()}")
    shutil.copyfile(source, temporary)
    os.replace(temporary, dest)


def pack_entries(part: SubjectMedia) -> list[dict]:
    return sorted(({k: v for k, v in e.items() if not k.startswith("_")} for e in part.large.values()), key=lambda e: e["url"])


# Low-data renditions (ffmpeg)

class FfmpegMissing(Exception):
    pass


LOW_VIDEO = ["-vf", "scale=-2:'min(360,ih)'", "-c:v", "libx264", "-preset", "medium", "-crf", "30", "-profile:v", "main",
             "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "48k", "-ac", "1", "-movflags", "+faststart"]
LOW_AUDIO = ["-vn", "-c:a", "aac", "-b:a", "32k", "-ac", "1", "-movflags", "+faststart"]
BITEXACT = ["-threads", "1", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact"]


def require_ffmpeg() -> str:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise FfmpegMissing("`--media low` writes low-data copies of videos and audio with ffmpeg, which is not installed: install "
                            "Debian's ffmpeg (apt-get install ffmpeg), or build without --media low (a normal build never needs it)")
    return ffmpeg


def low_rendition(source: Path, kind: str) -> Path:
    """A 360p H.264 CRF 30 + 48 kbit/s AAC mono copy of a video, a 32 kbit/s AAC mono copy of audio; kept in a cache
    by the source's hash and the settings (encoded single-threaded with ffmpeg's bitexact flags)."""
    ffmpeg = require_ffmpeg()
    options = LOW_VIDEO if kind == "video" else LOW_AUDIO
    key = hashlib.sha256((_file_hash(source) + json.dumps(options)).encode()).hexdigest()[:24]
    cache = Path(tempfile.gettempdir()) / "satchel-media-low"
    cache.mkdir(parents=True, exist_ok=True)
    out = cache / f"{key}{'.mp4' if kind == 'video' else '.m4a'}"
    if not out.is_file():
        temporary = out.with_name(f".{out.stem}.{os.getpid()}{out.suffix}")
        run = subprocess.run([ffmpeg, "-y", "-loglevel", "error", "-i", str(source), *options, *BITEXACT, str(temporary)],
                             capture_output=True, text=True, timeout=3600)
        if run.returncode != 0:
            temporary.unlink(missing_ok=True)
            raise OSError(f"ffmpeg could not make a low-data copy of {source}: {run.stderr.strip()[-500:]}")
        os.replace(temporary, out)
    return out


def _file_hash(path: Path) -> str:
    return probe(path)[0].sha256 if path.suffix.lower() in KINDS and probe(path)[0] else hashlib.sha256(path.read_bytes()).hexdigest()


# Images

@dataclass(frozen=True)
class EncodedImage:
    ext: str  # ".webp" or ".png"
    data: bytes
    width: int
    height: int
    smaller: tuple[int, bytes] | None  # (width, data) of the narrower copy for srcset


@lru_cache(maxsize=1024)
def _encode_cached(path: Path, size: int, mtime: int, max_width: int) -> EncodedImage:
    from PIL import Image, ImageOps
    with Image.open(path) as source:
        image = ImageOps.exif_transpose(source)
        alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
        image = image.convert("RGBA" if alpha else "RGB")
    if image.width > max_width:
        image = image.resize((max_width, max(1, round(image.height * max_width / image.width))), Image.Resampling.LANCZOS)
    webp, png = _webp(image), _png(image)
    ext, data = (".png", png) if len(png) <= len(webp) else (".webp", webp)
    smaller = None
    if image.width > SRCSET_WIDTH * 1.5:
        small = image.resize((SRCSET_WIDTH, max(1, round(image.height * SRCSET_WIDTH / image.width))), Image.Resampling.LANCZOS)
        smaller = (SRCSET_WIDTH, _png(small) if ext == ".png" else _webp(small))
    return EncodedImage(ext, data, image.width, image.height, smaller)


def _webp(image) -> bytes:
    out = io.BytesIO()
    image.save(out, "WEBP", quality=80, method=6, exact=False)  # no exif, icc or xmp passed: none written
    return out.getvalue()


def _png(image) -> bytes:
    """An optimized PNG; with a palette when the image has at most 256 colours and the palette keeps them all."""
    if image.mode == "RGB" and image.getcolors(256) is not None:
        palette = image.quantize(colors=256)
        if palette.convert("RGB").tobytes() == image.tobytes():
            image = palette
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def encode_image(path: Path, max_width: int) -> EncodedImage:
    stat = path.stat()
    return _encode_cached(path, stat.st_size, stat.st_mtime_ns, max_width)


def built_image_name(name: str, encoded: EncodedImage) -> str:
    return posixpath.splitext(name)[0] + encoded.ext


def built_name(path: Path, max_width: int) -> str:
    """The name an image of the curriculum has in the bundle ('map.png' -> 'map.webp')."""
    if path.suffix.lower() not in RASTER or is_side_file(path):
        return path.name
    try:
        return built_image_name(path.name, encode_image(path, max_width))
    except OSError:
        return path.name


def smaller_name(name: str, encoded: EncodedImage) -> str:
    return f"{posixpath.splitext(name)[0]}.{encoded.smaller[0]}w{encoded.ext}"


IMG_RE = re.compile(r"<img\b[^>]*>")


def add_image_sizes(html: str, page_url: str, images: dict[str, EncodedImage], names: dict[str, str]) -> str:
    """Give each re-encoded image of a page its width and height, and a srcset where it has a narrower copy."""
    base = page_url if page_url.endswith("/") else posixpath.dirname(page_url) + "/"

    def fix(match: re.Match) -> str:
        tag = match.group(0)
        src = re.search(r'\ssrc="([^"]+)"', tag)
        if not src or " width=" in tag:
            return tag
        dest = posixpath.normpath(posixpath.join(base, src.group(1))).lstrip("/")
        encoded = images.get(dest)
        if encoded is None:
            return tag
        extra = f' width="{encoded.width}" height="{encoded.height}"'
        if encoded.smaller is not None:
            small = posixpath.join(posixpath.dirname(src.group(1)), posixpath.basename(names[dest]))
            extra += (f' srcset="{small} {encoded.smaller[0]}w, {src.group(1)} {encoded.width}w" '
                      f'sizes="(max-width: {encoded.width}px) 100vw, {encoded.width}px"')
        return tag[:-1].rstrip("/").rstrip() + extra + ">"

    return IMG_RE.sub(fix, html)
