"""The build's Node environment when several builds set it up at once on one machine (an author's two
terminals, parallel CI jobs): each waits for the first set-up and finds a working environment, none
removes the folder another is filling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SET_UP = """
import sys
from pathlib import Path
from satchel.builder.nodejs import ensure_node_env
home = ensure_node_env(log=lambda message: None, package_dir=Path(sys.argv[1]))
print(home)
"""


def test_builds_setting_up_node_at_once_all_get_a_working_environment(tmp_path):
    package = tmp_path / "package"
    package.mkdir()
    (package / "package.json").write_text(json.dumps({"name": "satchel-test-empty", "version": "1.0.0", "private": True}))
    (package / "package-lock.json").write_text(json.dumps({"name": "satchel-test-empty", "version": "1.0.0", "lockfileVersion": 3,
                                                           "requires": True, "packages": {"": {"name": "satchel-test-empty",
                                                                                                "version": "1.0.0"}}}))
    env = dict(os.environ, SATCHEL_CACHE=str(tmp_path / "cache"))
    runs = [subprocess.Popen([sys.executable, "-c", SET_UP, str(package)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(4)]
    results = [(run.wait(timeout=300), *run.communicate()) for run in runs]
    assert [code for code, _, _ in results] == [0, 0, 0, 0], results
    (home,) = {Path(out.strip()) for _, out, _ in results}
    node = home / "env" / "bin" / "node"
    assert subprocess.run([str(node), "-e", "process.exit(0)"]).returncode == 0
    assert (home / ".installed").is_file()
