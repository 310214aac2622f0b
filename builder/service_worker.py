"""Finish the service worker: service_worker/sw.js, bundled with the workbox modules it imports by
builder/assets.py, gets its placeholders filled in, then workbox-cli injectManifest writes the
precache manifest of the app shell into it, as site/sw.js: one file, no runtime folder to load."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .nodejs import NodeJob, ensure_node_env

# The app shell: what every learner needs, whatever language and subjects they use. Lessons are
# not here: a learner makes a language available offline from the app (satchel/packs/<code>.json).
# Nor is any language's script: the pages of a language ask the worker to keep their own
# (service_worker/sw.js, keepLanguage), and the language's shared pack holds it.
SHELL_PATTERNS = [
    "assets/satchel/core.*.js",
    "assets/satchel/app.*.js",
    "assets/satchel/style.*.css",
    "icons/icon-64.png",  # the header's; the install icons are the browser's to fetch
    "_offline/index.html",  # small: no scripts (theme/base.html), one per language
    "*/_offline/index.html",
    "satchel/version.json",
]


# Files named by their content's hash (builder/assets.py, the language scripts): the name is the
# revision, so workbox asks for them without a cache-busting parameter, and the browser's HTTP cache
# answers with the copy the page has just loaded instead of downloading it again.
HASHED = r"\.[0-9a-f]{10}\.(?:js|css)$"


def start(site_dir: Path, worker: str, core_script: str, build: str, folders: list[str]) -> NodeJob:
    """Start injecting the app shell's precache manifest into `worker` (the bundled sw.js).
    `core_script` is the bundle the service worker shares with the page (builder/assets.py), `build`
    the build's content hash, `folders` those of the languages but the default one."""
    home = ensure_node_env()
    cli = home / "node_modules" / "workbox-cli" / "build" / "bin.js"
    tmp = Path(tempfile.mkdtemp(prefix="satchel-sw-"))
    source = tmp / "sw.js"
    source.write_text(worker.replace("__SATCHEL_CORE__", core_script).replace("__SATCHEL_BUILD__", build)
                      .replace("__SATCHEL_LANGUAGES__", json.dumps(sorted(folders))), encoding="utf-8")
    config = tmp / "workbox-config.cjs"
    settings = json.dumps({
        "globDirectory": str(site_dir),
        "globPatterns": SHELL_PATTERNS,
        "swSrc": str(source),
        "swDest": str(site_dir / "sw.js"),
        "maximumFileSizeToCacheInBytes": 2 * 1024 * 1024,
    }, indent=1)
    config.write_text(f"module.exports = Object.assign({settings}, {{dontCacheBustURLsMatching: /{HASHED}/}});\n", encoding="utf-8")
    return NodeJob(cli, ["injectManifest", str(config)], scratch=tmp)


def finish(job: NodeJob, site_dir: Path) -> None:
    job.wait()
    map_file = site_dir / "sw.js.map"
    if map_file.exists():
        map_file.unlink()
