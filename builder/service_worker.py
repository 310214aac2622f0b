"""Build the service worker with workbox-cli: copy the workbox runtime into the bundle, then inject
the precache manifest of the app shell into service_worker/sw.js."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from . import ROOT
from .nodejs import ensure_node_env, run_node

SW_SOURCE = ROOT / "service_worker" / "sw.js"

# The app shell: what every learner needs, whatever language and subjects they use. Lessons are
# not here: a learner makes a language available offline from the app (satchel/packs/<code>.json).
SHELL_PATTERNS = [
    "assets/stylesheets/*.css",
    "assets/satchel/*.{css,js}",
    "icons/*.png",
    "manifest.webmanifest",
    "*/manifest.webmanifest",
    "_offline/index.html",
    "*/_offline/index.html",
    "satchel/version.json",
]


# The workbox runtime sw.js loads; the rest of what `workbox copyLibraries` copies is left out.
WORKBOX_FILES = {"workbox-sw.js"} | {f"workbox-{name}.prod.js" for name in ("core", "precaching", "routing", "strategies")}


def build(site_dir: Path) -> None:
    home = ensure_node_env()
    cli = home / "node_modules" / "workbox-cli" / "build" / "bin.js"
    for old in site_dir.glob("workbox-v*"):
        shutil.rmtree(old)
    run_node(cli, ["copyLibraries", str(site_dir)])
    workbox_dir = next(site_dir.glob("workbox-v*"))
    for extra in workbox_dir.iterdir():
        if extra.name not in WORKBOX_FILES:
            extra.unlink()  # debug builds, source maps, modules sw.js does not load: 1.3 MB saved
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "sw.js"
        source.write_text(SW_SOURCE.read_text(encoding="utf-8").replace("__WORKBOX_DIR__", workbox_dir.name), encoding="utf-8")
        config = Path(tmp) / "workbox-config.cjs"
        config.write_text("module.exports = " + json.dumps({
            "globDirectory": str(site_dir),
            "globPatterns": SHELL_PATTERNS,
            "swSrc": str(source),
            "swDest": str(site_dir / "sw.js"),
            "maximumFileSizeToCacheInBytes": 2 * 1024 * 1024,
        }, indent=1) + ";\n", encoding="utf-8")
        run_node(cli, ["injectManifest", str(config)], cwd=Path(tmp))
    map_file = site_dir / "sw.js.map"
    if map_file.exists():
        map_file.unlink()
