"""Brotli and gzip copies of a bundle's text files, written beside them (`page.html.br`,
`page.html.gz`) by every build (`satchel build --no-precompress` skips them), for servers that send
them as they are: `satchel hub` does (docs/hub.md), and so can nginx (brotli_static, gzip_static). A hub
serving a bundle without them would send every page uncompressed, and most hubs are set up by someone
who never reads a flag's help. The copies
are not in pack lists or the service worker's precache, and they are byte-identical from one
build to the next (gzip without a time stamp)."""

from __future__ import annotations

import gzip
import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import brotli

TEXT = {".html", ".css", ".js", ".json", ".svg", ".webmanifest", ".xml", ".txt"}
SMALLEST = 512  # below this, compressing saves less than the headers cost


def precompress(site: Path, compressed: dict[str, str] | None = None) -> int:
    """Write the copies of every text file of `site`; returns how many files were compressed.
    `compressed` maps files already compressed (by `compress_file`; their paths relative to `site`) to
    what it returned: those still the same are left as they are."""
    files = [p for p in site.rglob("*") if wanted(p)]
    done = compressed or {}
    names = {p: p.relative_to(site).as_posix() for p in files}
    for gone in done.keys() - set(names.values()):  # compressed, then removed or made too small: no copies
        Path(site, f"{gone}.br").unlink(missing_ok=True)
        Path(site, f"{gone}.gz").unlink(missing_ok=True)
    todo = [p for p in files if names[p] not in done or _digest(p.read_bytes()) != done[names[p]]]
    with ThreadPoolExecutor() as pool:
        list(pool.map(lambda path: compress_file(site, path), todo))
    return len(files)


def wanted(path: Path) -> bool:
    """Whether `precompress` writes copies of this file (as it is now)."""
    return path.suffix in TEXT and path.is_file() and path.stat().st_size >= SMALLEST


def compress_file(site: Path, path: Path) -> str:
    """Write the copies of one file of `site`; returns a digest of what was compressed."""
    data = path.read_bytes()
    # The app's scripts and stylesheet go to every device: worth brotli's slowest, smallest setting.
    top = path.relative_to(site).parts[0]
    quality = 11 if top in ("assets", "sw.js") else 8  # 9: as small as 8, 15x slower
    Path(f"{path}.br").write_bytes(brotli.compress(data, quality=quality))
    Path(f"{path}.gz").write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    return _digest(data)


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()
