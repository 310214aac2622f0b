"""Benchmark: `satchel build` against plain `mkdocs build` (material + static-i18n, navigation.prune,
material's search) on the same synthetic Markdown, in the same run, interleaved.

    .venv/bin/python benchmarks/build.py [--sizes 100 1000] [--repeat 1] [--out FILE]

Reports, per size (N lessons x 3 languages):
  - wall time and peak RSS, and their ratios (Satchel / mkdocs; goal: time <= 0.5x). Peak RSS is the
    peak of the SUM of the resident sets of the whole process tree (Python and the Node jobs it
    starts), sampled from /proc every 20 ms; the largest single process is reported beside it;
  - a lesson page, brotli, against its own content (the lesson's HTML between its language `<div>`
    and the pager): `chrome` = page - content (goal: <= 1,536 B);
  - the first-install shell, brotli (goal: <= 40 KB): what a first visit downloads until the app is
    ready: sw.js, the scripts it imports, the workbox modules, every precached file, the home page and
    what the home page itself loads (each file once). benchmarks/phone.py measures it on the wire;
  - bytes per language, raw and brotli: every file of its packs (satchel/packs/<code>/<part>.json).
Results also go to benchmarks/results/build.json (or --out).

Both contenders build under the temporary folder: where creating a file is slow (an ext4 that has
seen many files deleted scans them for each new inode), run it with TMPDIR=/dev/shm, or the disk's
cost of Satchel's .br and .gz copies (3.3x mkdocs' files) hides the build's own time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import brotli
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from satchel.builder.site_config import MARKDOWN_EXTENSIONS  # noqa: E402
from synthetic import LANGUAGES, write_curriculum  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_SECONDS = 0.02
CHROME_GOAL = 1536
SHELL_GOAL = 40 * 1024


def br(data: bytes) -> int:
    return len(brotli.compress(data, quality=11))


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process now, from /proc/<pid>/stat."""
    parents = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        parents[int(entry.name)] = int(fields[1])
    return parents


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(root: int) -> tuple[int, int]:
    """(sum of RSS over `root` and all its descendants, largest single RSS), in bytes."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    total = largest = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        rss = _rss(pid)
        total, largest = total + rss, max(largest, rss)
        todo.extend(children.get(pid, ()))
    return total, largest


def timed(command: list[str]) -> tuple[float, float, float]:
    """(seconds, peak summed RSS of the process tree in MB, peak RSS of its largest process in MB) of one command."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=HERE.parent)
    peak = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            total, largest = tree_rss(process.pid)
            peak[0], peak[1] = max(peak[0], total), max(peak[1], largest)
            done.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stderr = process.stderr.read()  # until the command closes it; the sampler runs meanwhile
    status = process.wait()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr.decode(errors='replace')}")
    return seconds, peak[0] / 2**20, peak[1] / 2**20


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
    """A lesson page against its own content, brotli; `chrome` is what the page adds around it."""
    html = (site / lesson / "index.html").read_bytes()
    content = re.search(r'<div lang="[^"]+" dir="[^"]+">(.*)<nav class="satchel-pager"', html.decode("utf-8"), re.S)
    if not content:
        raise SystemExit(f"{site / lesson / 'index.html'}: no lesson content found (its language <div> up to the pager)")
    page, own = br(html), br(content.group(1).encode("utf-8"))
    return {"page_raw": len(html), "page_brotli": page, "content_brotli": own, "chrome_brotli": page - own}


def _local(site: Path, base: str, reference: str) -> Path | None:
    """The file of the bundle that `reference`, found in the file at `base` (a URL path), names; None if off-site."""
    if re.match(r"^[a-z]+:|^//|^#", reference):
        return None
    url = os.path.normpath(os.path.join(os.path.dirname(base), reference.split("#")[0].split("?")[0]))
    path = site / url
    return path / "index.html" if path.is_dir() else path


def shell_files(site: Path) -> list[Path]:
    """What a first visit installs: sw.js, the scripts it imports (and the workbox modules they load),
    every precached file, the home page and what the home page loads (stylesheets, scripts, icons)."""
    sw = (site / "sw.js").read_text(encoding="utf-8")
    files = {site / "sw.js", site / "index.html"}
    for call in re.findall(r"importScripts\(([^)]*)\)", sw):
        files.update(site / url for url in re.findall(r"['\"]([^'\"]+)['\"]", call))
    for workbox in site.glob("workbox-v*"):
        files.update(workbox.glob("*.prod.js"))  # workbox-sw.js loads the modules the worker uses, all of them here
    files.update(site / url.split("?")[0] for url in re.findall(r'"url":\s*"([^"]+)"', sw))
    home = (site / "index.html").read_text(encoding="utf-8")
    for tag in re.findall(r"<(?:script|link|img)\b[^>]*>", home):
        if re.search(r'rel="(?:alternate|canonical|prev|next)"', tag):
            continue
        reference = re.search(r'\b(?:src|href)="([^"]+)"', tag)
        path = _local(site, "index.html", reference.group(1)) if reference else None
        if path is not None:
            files.add(path)
    return sorted(path for path in files if path.is_file())


def shell_bytes(site: Path) -> int:
    return sum(br(path.read_bytes()) for path in shell_files(site))


def language_bytes(site: Path, code: str) -> tuple[int, int]:
    """(raw, brotli) bytes of every file of a language's packs: the index lists the parts, each part its files."""
    index = json.loads((site / "satchel" / "packs" / f"{code}.json").read_text(encoding="utf-8"))
    raw = compressed = 0
    for part in index["parts"]:
        listed = json.loads((site / part["url"]).read_text(encoding="utf-8"))
        for entry in listed["files"]:
            path = site / entry["url"]
            path = path / "index.html" if entry["url"].endswith("/") else path
            data = path.read_bytes()
            raw += len(data)
            compressed += br(data)
    return raw, compressed


def measure_size(tmp: Path, size: int, repeat: int) -> dict:
    python = sys.executable
    curriculum = write_curriculum(tmp / f"curriculum-{size}", size)
    satchel_site, mkdocs_site = tmp / f"satchel-{size}", tmp / f"mkdocs-{size}"
    config = plain_mkdocs_config(curriculum, mkdocs_site)
    satchel_runs, mkdocs_runs = [], []
    for _ in range(repeat):  # interleaved, so both see the same machine
        satchel_runs.append(timed([python, "-m", "satchel.builder.cli", "build", str(curriculum), "-o", str(satchel_site)]))
        mkdocs_runs.append(timed([python, "-m", "mkdocs", "build", "-q", "-f", str(config)]))
    s_time, m_time = min(r[0] for r in satchel_runs), min(r[0] for r in mkdocs_runs)
    s_rss, m_rss = min(r[1] for r in satchel_runs), min(r[1] for r in mkdocs_runs)
    s_largest, m_largest = min(r[2] for r in satchel_runs), min(r[2] for r in mkdocs_runs)
    units = max(1, -(-size // 10))
    subjects = max(1, round(units ** 0.5))
    lesson = f"ar/subject-00/unit-000/lesson-0{min(3, size - 1)}"
    mkdocs_page = (mkdocs_site / lesson / "index.html").read_bytes()
    row = {
        "lessons_per_language": size, "subjects": subjects, "repeat": repeat,
        "satchel_seconds": round(s_time, 2), "mkdocs_seconds": round(m_time, 2), "time_ratio": round(s_time / m_time, 3),
        "satchel_peak_rss_tree_mb": round(s_rss, 1), "mkdocs_peak_rss_tree_mb": round(m_rss, 1),
        "rss_ratio": round(s_rss / m_rss, 3),
        "satchel_peak_rss_largest_process_mb": round(s_largest, 1), "mkdocs_peak_rss_largest_process_mb": round(m_largest, 1),
        "lesson": lesson,
        "satchel_lesson": lesson_bytes(satchel_site, lesson),
        "mkdocs_lesson": {"page_raw": len(mkdocs_page), "page_brotli": br(mkdocs_page)},
        "shell_brotli": shell_bytes(satchel_site), "shell_files": len(shell_files(satchel_site)), "shell_goal_brotli": SHELL_GOAL,
        "languages": {},
    }
    lesson_row = row["satchel_lesson"]
    row["lesson_goal_brotli"] = lesson_row["content_brotli"] + CHROME_GOAL
    for code, _ in LANGUAGES:
        raw, compressed = language_bytes(satchel_site, code)
        row["languages"][code] = {"raw": raw, "brotli": compressed}
    return row


def report(row: dict) -> str:
    lesson = row["satchel_lesson"]
    languages = ", ".join(f"{code} {v['raw']:,} B raw / {v['brotli']:,} B brotli" for code, v in row["languages"].items())
    return (f"N={row['lessons_per_language']}: build time satchel {row['satchel_seconds']:.2f} s, mkdocs {row['mkdocs_seconds']:.2f} s, "
            f"time ratio {row['time_ratio']:.2f} (goal <= 0.50)\n"
            f"  peak RSS of the process tree (sum): satchel {row['satchel_peak_rss_tree_mb']:.0f} MB, mkdocs "
            f"{row['mkdocs_peak_rss_tree_mb']:.0f} MB, RSS ratio {row['rss_ratio']:.2f} (largest single process: satchel "
            f"{row['satchel_peak_rss_largest_process_mb']:.0f} MB, mkdocs {row['mkdocs_peak_rss_largest_process_mb']:.0f} MB)\n"
            f"  lesson page {lesson['page_brotli']:,} B brotli, content {lesson['content_brotli']:,} B, chrome "
            f"{lesson['chrome_brotli']:,} B (goal <= {CHROME_GOAL:,} B: page <= {row['lesson_goal_brotli']:,} B); mkdocs page "
            f"{row['mkdocs_lesson']['page_brotli']:,} B brotli\n"
            f"  first-install shell {row['shell_brotli']:,} B brotli in {row['shell_files']} files (goal <= {SHELL_GOAL:,} B)\n"
            f"  per language: {languages}")


def run(sizes: list[int], repeat: int) -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Warm-up: the build's Node environment is set up once per machine, not per build.
        subprocess.run([sys.executable, "-c", "from satchel.builder.nodejs import ensure_node_env; ensure_node_env()"], check=True, cwd=HERE.parent)
        for size in sizes:
            results[size] = measure_size(Path(tmp), size, repeat)
            print(report(results[size]), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "build.json")
    args = parser.parse_args()
    results = run(args.sizes, args.repeat)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"Results: {args.out}")


if __name__ == "__main__":
    main()
