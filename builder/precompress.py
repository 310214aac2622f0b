"""Brotli and gzip copies of a bundle's text files, written beside them (`page.html.br`,
`page.html.gz`) by every build (`satchel build --no-precompress` skips them), for servers that send
them as they are: `satchel hub` does (docs/hub.md), and so can nginx (brotli_static, gzip_static). A hub
serving a bundle without them would send every page uncompressed, and most hubs are set up by someone
who never reads a flag's help. The copies
are not in pack lists or the service worker's precache, and they are byte-identical from one
build to the next (gzip without a time stamp)."""

from __future__ import annotations

import gzip
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import brotli

TEXT = {".html", ".css", ".js", ".json", ".svg", ".webmanifest", ".xml", ".txt"}
SMALLEST = 512  # below this, compressing saves less than the headers cost


def precompress(site: Path) -> int:
    """Write the copies of every text file of `site`; returns how many files were compressed."""
    files = [p for p in site.rglob("*") if p.suffix in TEXT and p.is_file() and p.stat().st_size >= SMALLEST]

    def one(path: Path) -> None:
        data = path.read_bytes()
        # The app's scripts and stylesheet go to every device: worth brotli's slowest, smallest setting.
        top = path.relative_to(site).parts[0]
        quality = 11 if top in ("assets", "sw.js") else 8  # 9: as small as 8, 15x slower
        Path(f"{path}.br").write_bytes(brotli.compress(data, quality=quality))
        Path(f"{path}.gz").write_bytes(gzip.compress(data, compresslevel=9, mtime=0))

    with ThreadPoolExecutor() as pool:
        list(pool.map(one, files))
    return len(files)
