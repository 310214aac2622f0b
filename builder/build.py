"""`satchel build`: check the curriculum, then build it with mkdocs into a static bundle."""

from __future__ import annotations

import io
import logging
import time
from pathlib import Path

from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config import load_config
from tqdm import tqdm

from . import media, parallel, remote
from .coverage import report
from .curriculum import Curriculum, load_curriculum, require_valid
from .nodejs import ensure_node_env
from .precompress import precompress as write_compressed
from .problems import CurriculumError
from .site_config import mkdocs_yml


def load_mkdocs_config(curriculum: Curriculum, site_dir: Path):
    """The curriculum's mkdocs configuration (absolute paths), as mkdocs loads and validates it."""
    return load_config(config_file=io.StringIO(mkdocs_yml(curriculum, site_dir, None)))


def show_mkdocs_warnings() -> None:
    """mkdocs' own warnings (strict mode turns them into a failed build) go to stderr, once."""
    logger = logging.getLogger("mkdocs")
    logger.setLevel(logging.WARNING)
    if not any(getattr(h, "satchel", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        handler.satchel = True
        logger.addHandler(handler)
        logger.propagate = False


def build(curriculum_dir: Path, site_dir: Path, show_progress: bool = True, fetch_remote: bool = False,
          precompress: bool = True, media_renditions: str = "") -> Curriculum:
    """Build `curriculum_dir` into `site_dir`. Raises CurriculumError if the curriculum has problems.
    With `fetch_remote`, first download the remote images and media its pages load (remote.py).
    With `precompress` (the default), write brotli and gzip copies of the text files (precompress.py).
    With `media_renditions="low"`, also write low-data copies of videos and audio with ffmpeg (media.py)."""
    started = time.perf_counter()
    say = print if show_progress else (lambda *a, **k: None)
    if media_renditions == "low":
        media.require_ffmpeg()  # before anything is built: without ffmpeg, say so at once
    curriculum = _fetch_then_check(curriculum_dir, say) if fetch_remote else require_valid(curriculum_dir)
    curriculum.media.low = media_renditions == "low"
    for warning in sorted(curriculum.warnings):
        say(f"warning: {warning.format(curriculum.root)}")
    lessons = len(curriculum.lessons)
    say(f"Curriculum '{curriculum.id}' {curriculum.version}: {len(curriculum.subjects)} subjects, {lessons} lessons, "
        f"{len(curriculum.languages)} languages ({', '.join(lang.code for lang in curriculum.languages)})")
    ensure_node_env(log=say)
    show_mkdocs_warnings()
    config = load_mkdocs_config(curriculum, Path(site_dir).resolve())
    plugin = config.plugins["satchel"]
    plugin.curriculum = curriculum
    pages = len(curriculum.lessons) + len(curriculum.units) + len(curriculum.subjects) + sum(len(u.pages) for u in curriculum.units) + 3  # + home, offline, TV
    # Each page counts twice: once converted from Markdown, once written.
    with tqdm(total=2 * pages * len(curriculum.languages), unit="step", desc="Building pages", disable=not show_progress) as bar:
        codes = _build_order(curriculum)
        compressed = {}  # pages the languages' processes compressed already
        if len(codes) > 1 and parallel.can_fork():
            compressed = parallel.build_languages(config, codes, progress=bar.update, precompress=precompress)
        else:
            plugin.progress = bar.update
            mkdocs_build(config)
    if precompress:
        say(f"Compressed {write_compressed(Path(site_dir), compressed)} files (.br and .gz beside each, for servers that send them as they are).")
    say(report(curriculum))
    say(f"Built {site_dir} in {time.perf_counter() - started:.1f} s")
    return curriculum


def _build_order(curriculum: Curriculum) -> list[str]:
    """The languages in the order mkdocs-static-i18n builds them: the default, then the others as listed."""
    default = curriculum.default_language.code
    return [default, *(lang.code for lang in curriculum.languages if lang.code != default)]


def _fetch_then_check(curriculum_dir: Path, say) -> Curriculum:
    refused = remote.fetch_remote(curriculum_dir, log=say)
    curriculum, problems = load_curriculum(curriculum_dir)
    if refused or problems or curriculum is None:
        raise CurriculumError(problems + refused, Path(curriculum_dir).resolve())
    return curriculum
