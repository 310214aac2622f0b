"""Build the service worker with workbox-cli: copy the workbox runtime into the bundle, then inject
the precache manifest of the app shell into service_worker/sw.js."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

from . import ROOT
from .nodejs import NodeJob, ensure_node_env

SW_SOURCE = ROOT / "service_worker" / "sw.js"

# The app shell: what every learner needs, whatever language and subjects they use. Lessons are
# not here: a learner makes a language available offline from the app (satchel/packs/<code>.json).
SHELL_PATTERNS = [
    "assets/stylesheets/*.css",
    "assets/satchel/*.{css,js}",
    "assets/satchel/vendor/idb.umd.js",
    "assets/satchel/lang/*.js",
    "icons/*.png",
    "manifest.webmanifest",
    "*/manifest.webmanifest",
    "_offline/index.html",
    "*/_offline/index.html",
    "satchel/version.json",
]


# The workbox modules sw.js loads. `workbox copyLibraries` would copy all of them with their debug
# builds and source maps (1.5 MB); we copy these from the same pinned packages, without starting Node.
WORKBOX_MODULES = ("core", "precaching", "routing", "strategies")


def copy_workbox_runtime(node_modules: Path, site_dir: Path) -> Path:
    """Copy workbox-sw and the production builds of WORKBOX_MODULES to site/workbox-v<version>/."""
    version = json.loads((node_modules / "workbox-sw" / "package.json").read_text(encoding="utf-8"))["version"]
    for old in site_dir.glob("workbox-v*"):
        shutil.rmtree(old)
    target = site_dir / f"workbox-v{version}"
    target.mkdir(parents=True)
    shutil.copyfile(node_modules / "workbox-sw" / "build" / "workbox-sw.js", target / "workbox-sw.js")
    for name in WORKBOX_MODULES:
        module = f"workbox-{name}"
        shutil.copyfile(node_modules / module / "build" / f"{module}.prod.js", target / f"{module}.prod.js")
    return target


# Satchel's scripts that sw.js imports. They are copied into a folder named by their hash: a new
# service worker of each publication then finds them in the browser's HTTP cache (the folder is
# served as immutable) instead of downloading them again, unless they changed.
SW_IMPORTS = ("vendor/idb.umd.js", "progress-model.js", "progress-identity.js", "progress-sync.js", "packs.js")


def copy_service_worker_imports(site_dir: Path) -> str:
    """Copy SW_IMPORTS to assets/satchel/sw-<hash>/; returns that folder, relative to the site."""
    source = site_dir / "assets" / "satchel"
    digest = hashlib.sha256()
    for name in SW_IMPORTS:
        digest.update(name.encode() + b"\0" + (source / name).read_bytes())
    for old in source.glob("sw-*"):
        shutil.rmtree(old)
    target = source / f"sw-{digest.hexdigest()[:12]}"
    target.mkdir()
    for name in SW_IMPORTS:
        shutil.copyfile(source / name, target / Path(name).name)
    return target.relative_to(site_dir).as_posix()


def start(site_dir: Path) -> NodeJob:
    """Copy the workbox runtime, then start injecting the app shell's precache manifest into sw.js."""
    home = ensure_node_env()
    cli = home / "node_modules" / "workbox-cli" / "build" / "bin.js"
    workbox_dir = copy_workbox_runtime(home / "node_modules", site_dir)
    imports = copy_service_worker_imports(site_dir)
    tmp = Path(tempfile.mkdtemp(prefix="satchel-sw-"))
    source = tmp / "sw.js"
    source.write_text(SW_SOURCE.read_text(encoding="utf-8").replace("__WORKBOX_DIR__", workbox_dir.name)
                      .replace("__SATCHEL_SW_DIR__", imports), encoding="utf-8")
    config = tmp / "workbox-config.cjs"
    config.write_text("module.exports = " + json.dumps({
        "globDirectory": str(site_dir),
        "globPatterns": SHELL_PATTERNS,
        "swSrc": str(source),
        "swDest": str(site_dir / "sw.js"),
        "maximumFileSizeToCacheInBytes": 2 * 1024 * 1024,
    }, indent=1) + ";\n", encoding="utf-8")
    return NodeJob(cli, ["injectManifest", str(config)], scratch=tmp)


def finish(job: NodeJob, site_dir: Path) -> None:
    job.wait()
    map_file = site_dir / "sw.js.map"
    if map_file.exists():
        map_file.unlink()
