"""Benchmark: `satchel build` against plain `mkdocs build` (material + static-i18n, navigation.prune,
material's search) on the same synthetic Markdown, in the same run.

    .venv/bin/python benchmarks/build.py [--sizes 100 1000] [--repeat 1]

Reports wall time, peak RSS and their ratios (Satchel / mkdocs), and bytes (brotli): a lesson page
against its own content, the first-install shell and a whole language. Results also go to
benchmarks/results/build.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import brotli
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from synthetic import LANGUAGES, write_curriculum  # noqa: E402

from builder.site_config import MARKDOWN_EXTENSIONS  # noqa: E402


def br(data: bytes) -> int:
    return len(brotli.compress(data, quality=11))


def timed(command: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one command, measured by the kernel for that process tree."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{process.stderr.read().decode()}")
    return seconds, usage.ru_maxrss / 1024


def plain_mkdocs_config(curriculum: Path, site: Path) -> Path:
    config = {
        "site_name": "Synthetic school", "docs_dir": str(curriculum), "site_dir": str(site),
        "theme": {"name": "material", "features": ["navigation.prune"]},
        "markdown_extensions": MARKDOWN_EXTENSIONS,
        "plugins": ["search", {"i18n": {"docs_structure": "folder", "languages": [
            {"locale": code, "name": name, "default": code == "en", "build": True} for code, name in LANGUAGES]}}],
    }
    path = site.parent / f"mkdocs-{site.name}.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def lesson_bytes(site: Path, lesson: str) -> dict:
    html = (site / lesson / "index.html").read_bytes()
    text = html.decode("utf-8")
    content = re.search(r'<div lang="[^"]+" dir="[^"]+">(.*)<nav class="satchel-pager"', text, re.S)
    own = content.group(1).encode("utf-8") if content else b""
    return {"page_raw": len(html), "page_brotli": br(html), "content_brotli": br(own)}


def shell_bytes(site: Path) -> int:
    """What a first visit installs: sw.js, the workbox runtime it imports, every precached file, the home page."""
    sw = (site / "sw.js").read_text(encoding="utf-8")
    urls = set(re.findall(r'"url":\s*"([^"]+)"', sw)) | set(re.findall(r"url:\s*\"([^\"]+)\"", sw))
    files = [site / "sw.js", site / "index.html"] + [site / url for url in urls]
    workbox = next(site.glob("workbox-v*"))
    files += sorted(workbox.iterdir())
    return sum(br(path.read_bytes()) for path in files if path.is_file())


def language_bytes(site: Path, code: str) -> tuple[int, int]:
    pack = json.loads((site / "satchel" / "packs" / f"{code}.json").read_text(encoding="utf-8"))
    raw = compressed = 0
    for entry in pack["files"]:
        path = site / entry["url"]
        path = path / "index.html" if entry["url"].endswith("/") else path
        data = path.read_bytes()
        raw += len(data)
        compressed += br(data)
    return raw, compressed


def run(sizes: list[int], repeat: int) -> dict:
    python = sys.executable
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # Warm-up: the build's Node environment is set up once per machine, not per build.
        subprocess.run([python, "-c", "from builder.nodejs import ensure_node_env; ensure_node_env()"], check=True, cwd=HERE.parent)
        for size in sizes:
            curriculum = write_curriculum(tmp / f"curriculum-{size}", size)
            satchel_site, mkdocs_site = tmp / f"satchel-{size}", tmp / f"mkdocs-{size}"
            config = plain_mkdocs_config(curriculum, mkdocs_site)
            satchel_runs, mkdocs_runs = [], []
            for _ in range(repeat):  # interleaved, so both see the same machine
                satchel_runs.append(timed([python, "-m", "builder.cli", "build", str(curriculum), "-o", str(satchel_site)]))
                mkdocs_runs.append(timed([python, "-m", "mkdocs", "build", "-q", "-f", str(config)]))
            s_time, s_rss = min(satchel_runs)
            m_time, m_rss = min(mkdocs_runs)
            lesson = "ar/subject-00/unit-000/lesson-03"
            row = {
                "lessons_per_language": size,
                "satchel_seconds": round(s_time, 2), "mkdocs_seconds": round(m_time, 2), "time_ratio": round(s_time / m_time, 3),
                "satchel_peak_rss_mb": round(s_rss), "mkdocs_peak_rss_mb": round(m_rss), "rss_ratio": round(s_rss / m_rss, 3),
                "satchel_lesson": lesson_bytes(satchel_site, lesson),
                "mkdocs_lesson": {"page_raw": (mkdocs_site / lesson / "index.html").stat().st_size,
                                  "page_brotli": br((mkdocs_site / lesson / "index.html").read_bytes())},
                "shell_brotli": shell_bytes(satchel_site),
            }
            raw, compressed = language_bytes(satchel_site, "ar")
            row["language_ar_raw"], row["language_ar_brotli"] = raw, compressed
            lesson_row = row["satchel_lesson"]
            row["lesson_budget_brotli"] = 2 * lesson_row["content_brotli"] + 8192
            results[size] = row
            print(f"N={size}: satchel {s_time:.2f} s / {s_rss:.0f} MB, mkdocs {m_time:.2f} s / {m_rss:.0f} MB, "
                  f"time ratio {s_time / m_time:.2f}, RSS ratio {s_rss / m_rss:.2f}; lesson page {lesson_row['page_brotli']} B brotli "
                  f"(content {lesson_row['content_brotli']} B, budget {row['lesson_budget_brotli']} B; mkdocs page "
                  f"{row['mkdocs_lesson']['page_brotli']} B); shell {row['shell_brotli']} B; Arabic language {raw} B raw, {compressed} B brotli",
                  flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    results = run(args.sizes, args.repeat)
    out = HERE / "results" / "build.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"Results: {out}")


if __name__ == "__main__":
    main()
