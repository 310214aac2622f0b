"""Benchmark: what installing a subject and updating it cost a learner, in bytes and seconds, in
Debian's Chromium, on a synthetic curriculum (3 languages x N lessons).

    .venv/bin/python benchmarks/update.py [--lessons 1000]

Every byte the server sends (status line, headers, body) is counted by the server itself.
  - install_subject: one subject of English from the dialog (with the language's home and search);
  - whole_language: every subject of English, in a fresh browser: the baseline an update is
    compared with (what re-downloading the language would cost);
  - update_<k>: after editing k lessons of that subject and rebuilding, the page is reloaded and
    brings the installed subject up to date; `changed_bytes` are the files of the installed parts
    whose hash changed, and `ratio` is bytes sent / changed_bytes (goal: <= 1.1; manifests and
    headers count against it).
Results also go to benchmarks/results/update.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from satchel.builder.build import build  # noqa: E402

from benchmarks.synthetic import write_curriculum  # noqa: E402
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, WELCOMED, Server  # noqa: E402
from tests.test_packs import wait_for_new_service_worker  # noqa: E402

SUBJECT = "subject-00"


def installed_hashes(site: Path) -> dict[str, tuple[str, int]]:
    files = {}
    for part in ("_shared", SUBJECT):
        listed = json.loads((site / "satchel" / "packs" / "en" / f"{part}.json").read_text(encoding="utf-8"))
        files.update({f["url"]: (f["sha256"], f["bytes"]) for f in listed["files"]})
    return files


def counted(server: Server, action) -> tuple[int, int, float]:
    """(bytes sent, requests, seconds) while `action` runs."""
    start, began = len(server.sent), time.perf_counter()
    action()
    seconds = time.perf_counter() - began
    time.sleep(0.5)  # answers still being written are counted too
    sent = server.sent[start:]
    return sum(n for _, n in sent), len(sent), seconds


def open_home(context, server: Server):
    context.add_init_script(WELCOMED)
    page = context.new_page()
    page.goto(server.url)
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30000)
    return page


def download(page, selector: str, ready: str) -> None:
    page.click("[data-satchel-offline]")
    page.wait_for_selector("[data-satchel-parts] li")
    page.click(selector)
    page.wait_for_selector(ready, timeout=600000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lessons", type=int, default=1000)
    parser.add_argument("--verbose", action="store_true", help="list what each update fetched")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "update.json")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        tmp = Path(tmp)
        curriculum = write_curriculum(tmp / "curriculum", args.lessons)
        site = tmp / "site"
        build(curriculum, site, show_progress=False)
        server = Server(site).start()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        result: dict = {"lessons_per_language": args.lessons}
        try:
            fresh = browser.new_context()
            page = open_home(fresh, server)
            sent, requests, seconds = counted(server, lambda: download(
                page, "[data-satchel-offline-all]", "[data-satchel-offline][data-state=ready]"))
            result["whole_language"] = {"bytes": sent, "requests": requests, "seconds": round(seconds, 2)}
            fresh.close()
            print("whole_language", result["whole_language"], flush=True)

            context = browser.new_context()
            page = open_home(context, server)
            sent, requests, seconds = counted(server, lambda: download(
                page, f"[data-satchel-parts] li[data-part={SUBJECT}] button", f"[data-satchel-parts] li[data-part={SUBJECT}][data-state=installed]"))
            result["install_subject"] = {"bytes": sent, "requests": requests, "seconds": round(seconds, 2),
                                         "share_of_language": round(sent / result["whole_language"]["bytes"], 3)}
            print("install_subject", result["install_subject"], flush=True)

            lessons = sorted((curriculum / "en" / SUBJECT).glob("unit-*/lesson-*.md"))
            for edits in (1, 10, 100):
                before = installed_hashes(site)
                for n, lesson in enumerate(lessons[:edits]):
                    lesson.write_text(lesson.read_text(encoding="utf-8") + f"\nEdited for the {edits} benchmark ({n}).\n", encoding="utf-8")
                build(curriculum, site, show_progress=False)
                after = installed_hashes(site)
                changed = sum(size for url, (sha, size) in after.items() if before.get(url, (None,))[0] != sha)

                def update():
                    page.reload()
                    page.wait_for_function("['updated', 'failed'].includes(document.documentElement.dataset.satchelPacks)", timeout=600000)
                    assert page.evaluate("document.documentElement.dataset.satchelPacks") == "updated"
                    wait_for_new_service_worker(page)  # the new version's service worker counts too

                start = len(server.sent)
                sent, requests, seconds = counted(server, update)
                if "--verbose" in sys.argv:
                    print(server.sent[start:])
                result[f"update_{edits}"] = {"lessons_edited": edits, "changed_bytes": changed, "bytes": sent, "requests": requests,
                                             "seconds": round(seconds, 2), "ratio": round(sent / changed, 3),
                                             "share_of_language": round(sent / result["whole_language"]["bytes"], 3)}
                print(f"update_{edits}", result[f"update_{edits}"], flush=True)
        finally:
            browser.close()
            server.stop()
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
