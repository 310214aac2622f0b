"""`satchel hub install`: the systemd unit (a pure function, checked by systemd-analyze), what
--print shows, and, as root, the real system user and data directory."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from satchel.hub.install import InstallError, Settings, satchel_command, unit_file

COMMAND = [sys.executable, "-m", "satchel.builder.cli", "hub", "install"]


def service(unit: str) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for line in unit.split("[Service]\n", 1)[1].split("\n[", 1)[0].splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            keys.setdefault(key, []).append(value)
    return keys


def test_the_unit_runs_this_satchel_as_its_user_hardened_and_restarted(tmp_path):
    unit = unit_file(Settings(tmp_path / "data", "satchel", "0.0.0.0", 443, Path("/etc/satchel/c.pem"), Path("/etc/satchel/k.pem")),
                     satchel_command())
    keys = service(unit)
    executable = keys["ExecStart"][0].split()[0]
    assert Path(executable).is_absolute() and os.access(executable, os.X_OK) and executable == satchel_command()[0]
    assert keys["ExecStart"][0].endswith(f"hub --data {tmp_path / 'data'} --host 0.0.0.0 --port 443 "
                                         "--tls-cert /etc/satchel/c.pem --tls-key /etc/satchel/k.pem")
    assert keys["User"] == ["satchel"] and keys["Restart"] == ["on-failure"] and int(keys["RestartSec"][0]) > 0
    assert keys["NoNewPrivileges"] == ["yes"] and keys["ProtectSystem"] == ["strict"] and keys["PrivateTmp"] == ["yes"]
    assert keys["ReadWritePaths"] == [str(tmp_path / "data")]
    assert keys["AmbientCapabilities"] == ["CAP_NET_BIND_SERVICE"]  # port 443
    assert "AmbientCapabilities" not in service(unit_file(Settings(tmp_path / "data", port=8080), satchel_command()))
    assert "WantedBy=multi-user.target" in unit
    if shutil.which("systemd-analyze"):  # systemd's own parser (it runs without a running systemd)
        (tmp_path / "satchel-hub.service").write_text(unit.replace("User=satchel", "User=root").replace("Group=satchel", "Group=root"))
        checked = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "satchel-hub.service")],
                                 capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0 and "Unknown" not in checked.stderr and "rror" not in checked.stderr, checked.stderr


def test_odd_paths_are_quoted_and_newlines_refused(tmp_path):
    odd = tmp_path / "school data 100%"
    keys = service(unit_file(Settings(odd, port=8080), satchel_command()))
    assert f'"{str(odd).replace("%", "%%")}"' in keys["ExecStart"][0]
    with pytest.raises(InstallError, match="newline"):
        unit_file(Settings(tmp_path / "x\nExecStartPre=/bin/sh -c evil", port=8080), satchel_command())
    with pytest.raises(InstallError, match="not a user name"):
        unit_file(Settings(tmp_path, user="root\nUser=root"), satchel_command())


def test_print_shows_every_file_and_command_and_does_nothing(tmp_path):
    done = subprocess.run([*COMMAND, "--data", str(tmp_path / "data"), "--user", "satchel", "--print"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "# --- /etc/systemd/system/satchel-hub.service\n[Unit]" in done.stdout
    assert f"ReadWritePaths={tmp_path / 'data'}" in done.stdout and "--port 80" in done.stdout
    assert f"install -d -m 0700 -o satchel -g satchel {tmp_path / 'data'}" in done.stdout
    assert "systemctl daemon-reload\nsystemctl enable --now satchel-hub.service" in done.stdout
    assert not (tmp_path / "data").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can make a system user (the test runs as root in CI)")
def test_as_root_it_makes_the_user_and_a_data_directory_only_it_reads(tmp_path):
    user = f"satchel-t{uuid.uuid4().hex[:8]}"
    data, unit = tmp_path / "srv" / "data", tmp_path / "unit" / "satchel-hub.service"
    tmp_path.chmod(0o755)
    try:
        done = subprocess.run([*COMMAND, "--data", str(data), "--user", user, "--port", "8080", "--unit", str(unit)],
                              capture_output=True, text=True)
        entry = pwd.getpwnam(user)
        assert entry.pw_shell in ("/usr/sbin/nologin", "/sbin/nologin") and entry.pw_uid < 1000
        assert data.stat().st_uid == entry.pw_uid and stat.S_IMODE(data.stat().st_mode) == 0o700
        database = data / "hub.sqlite3"
        assert database.stat().st_uid == entry.pw_uid and stat.S_IMODE(database.stat().st_mode) == 0o600
        assert f"User={user}" in unit.read_text()
        inode = database.stat().st_ino
        if not Path("/run/systemd/system").is_dir():  # here: a container without systemd, which it says
            assert done.returncode == 1 and "systemd is not running on this machine" in done.stderr, done.stderr
            assert "Start the hub yourself: runuser -u" in done.stderr
        else:
            assert done.returncode == 0, done.stderr
        again = subprocess.run([*COMMAND, "--data", str(data), "--user", user, "--port", "8080", "--unit", str(unit)],
                               capture_output=True, text=True)  # run twice: the user and database are kept
        assert f"The user {user} exists: kept." in again.stdout and database.stat().st_ino == inode
    finally:
        subprocess.run(["userdel", user], capture_output=True)


def test_without_root_it_says_what_to_run_with_sudo(tmp_path, monkeypatch, capsys):
    from satchel.hub import install
    monkeypatch.setattr(install.os, "geteuid", lambda: 1000)
    assert install.main(["--data", str(tmp_path / "data")]) == 2
    said = capsys.readouterr().err
    assert f"needs root. Run it with sudo:\n  sudo {satchel_command()[0]}" in said and f"install --data {tmp_path / 'data'}" in said
    assert not (tmp_path / "data").exists()
