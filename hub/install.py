"""`satchel hub install`: a hub as a system service in one command: a system user with no login
shell, a data directory only it can read, and a systemd unit that restarts it on failure. The
unit is made by a pure function (`unit_file`); `--print` shows every file and command instead."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

UNIT_PATH = Path("/etc/systemd/system/satchel-hub.service")
USER = re.compile(r"^[a-z_][a-z0-9_-]{0,30}$")


class InstallError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    data: Path
    user: str = "satchel"
    host: str = "0.0.0.0"
    port: int = 443
    tls_cert: Path | None = None
    tls_key: Path | None = None
    sites: tuple[Path, ...] = field(default_factory=tuple)


def satchel_command() -> list[str]:
    """The absolute command of this Python's `satchel` (the one next to it, in a venv), not resolved:
    a venv's python is a link whose target is the system's."""
    beside = Path(sys.executable).parent / "satchel"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(Path(os.path.abspath(beside)))]
    return [os.path.abspath(sys.executable), "-m", "satchel.builder.cli"]


def systemd_quote(word: str) -> str:
    """One word of a unit's command line: % and $ doubled (specifiers, variables), quoted if needed."""
    if any(ord(c) < 32 or ord(c) == 127 for c in word):
        raise InstallError(f"{word!r} holds a newline or a control character: it cannot go into a systemd unit")
    word = word.replace("%", "%%").replace("$", "$$")
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check(settings: Settings) -> Settings:
    if not USER.match(settings.user):
        raise InstallError(f"--user {settings.user!r} is not a user name (lower-case letters, digits, - and _, at most 31)")
    if not 1 <= settings.port <= 65535:
        raise InstallError(f"--port {settings.port} is not a port (1 to 65535)")
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise InstallError("give both --tls-cert and --tls-key, or neither")
    for path in (settings.data, *settings.sites, *(p for p in (settings.tls_cert, settings.tls_key) if p)):
        systemd_quote(str(path))  # refuses newlines
        if "\n" in str(path) or not Path(os.path.abspath(path)).is_absolute():
            raise InstallError(f"{path!r}: not a path a unit can hold")
    return Settings(Path(os.path.abspath(settings.data)), settings.user, settings.host, settings.port,
                    Path(os.path.abspath(settings.tls_cert)) if settings.tls_cert else None,
                    Path(os.path.abspath(settings.tls_key)) if settings.tls_key else None,
                    tuple(Path(os.path.abspath(s)) for s in settings.sites))


def unit_file(settings: Settings, command: list[str]) -> str:
    """The systemd unit that runs this hub (pure: the same settings give the same text)."""
    settings = check(settings)
    argv = [*command, "hub", *map(str, settings.sites), "--data", str(settings.data), "--host", settings.host,
            "--port", str(settings.port)]
    if settings.tls_cert:
        argv += ["--tls-cert", str(settings.tls_cert), "--tls-key", str(settings.tls_key)]
    capabilities = ("# a port below 1024 without running as root\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n"
                    "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n" if settings.port < 1024 else "CapabilityBoundingSet=\n")
    return ("[Unit]\nDescription=Satchel hub: lessons and progress for the devices around it\n"
            "After=network-online.target time-sync.target\nWants=network-online.target\n\n"
            "[Service]\nType=simple\n"
            f"User={settings.user}\nGroup={settings.user}\n"
            f"ExecStart={' '.join(systemd_quote(word) for word in argv)}\n"
            "Restart=on-failure\nRestartSec=5\n"
            "UMask=0077\n"
            f"{capabilities}"
            "NoNewPrivileges=yes\nProtectSystem=strict\n"
            f"ReadWritePaths={systemd_quote(str(settings.data))}\n"
            "ProtectHome=read-only\nPrivateTmp=yes\nPrivateDevices=yes\nProtectKernelTunables=yes\n"
            "ProtectKernelModules=yes\nProtectControlGroups=yes\nRestrictSUIDSGID=yes\nLockPersonality=yes\n\n"
            "[Install]\nWantedBy=multi-user.target\n")


def commands(settings: Settings, unit_path: Path) -> list[list[str]]:
    """What `install` runs, in order (after writing the unit)."""
    return [["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", unit_path.name]]


def user_command(user: str, data: Path) -> list[str]:
    return ["useradd", "--system", "--user-group", "--home-dir", str(data), "--no-create-home",
            "--shell", "/usr/sbin/nologin", user]


def user_exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
        return True
    except KeyError:
        return False


def database_files(data: Path) -> list[Path]:
    from .store import DATABASE
    return [p for p in (data / (DATABASE + suffix) for suffix in ("", "-wal", "-shm", "-journal")) if p.is_file()]


def make_user_and_data(settings: Settings, say) -> None:
    """The system user (if missing), the data directory (initialised if new), owned by it, 0700;
    the database files 0600. Raises OSError or subprocess.CalledProcessError."""
    from .store import DATABASE, DB_FILE, Store
    if user_exists(settings.user):
        say(f"The user {settings.user} exists: kept.")
    else:
        subprocess.run(user_command(settings.user, settings.data), check=True, capture_output=True, text=True)
        say(f"Made the system user {settings.user} (no login shell).")
    settings.data.mkdir(parents=True, exist_ok=True)
    if not (settings.data / DATABASE).exists() and not (settings.data / DB_FILE).exists():
        Store.init(settings.data).close()
        say(f"Made the hub's database in {settings.data}.")
    entry = pwd.getpwnam(settings.user)
    for path in [settings.data, *settings.data.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    settings.data.chmod(0o700)
    for path in database_files(settings.data):
        path.chmod(0o600)
    say(f"{settings.data} belongs to {settings.user}, mode 0700 (its database files 0600).")


def systemd_running() -> str | None:
    """Why units cannot be started here, or None."""
    if shutil.which("systemctl") is None:
        return "this machine has no systemctl (not a systemd system)"
    if not Path("/run/systemd/system").is_dir():
        return "systemd is not running on this machine (no /run/systemd/system: a container?)"
    return None


def shown_command(argv: list[str]) -> str:
    import shlex
    return " ".join(shlex.quote(a) for a in argv)


def main(argv: list[str]) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="satchel hub install", description="Run this hub as a system service: a system user, "
                                     "a data directory only it can read, and a systemd unit that restarts it on failure.")
    parser.add_argument("sites", nargs="*", help="bundle folders or archives to serve besides those imported into --data")
    parser.add_argument("--data", required=True, help="the hub's data directory (made if missing), such as /var/lib/satchel")
    parser.add_argument("--user", default="satchel", help="the system user the hub runs as (made if missing; default satchel)")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0: every network)")
    parser.add_argument("--port", type=int, help="port (default 443 with a certificate, 80 without)")
    parser.add_argument("--tls-cert", help="certificate (PEM) for https")
    parser.add_argument("--tls-key", help="its private key (PEM)")
    parser.add_argument("--unit", default=str(UNIT_PATH), help=f"where to write the unit (default {UNIT_PATH})")
    parser.add_argument("--print", action="store_true", help="print every file and command instead of doing them")
    args = parser.parse_args(argv)
    port = args.port or (443 if args.tls_cert else 80)
    try:
        settings = check(Settings(Path(args.data), args.user, args.host, port,
                                  Path(args.tls_cert) if args.tls_cert else None, Path(args.tls_key) if args.tls_key else None,
                                  tuple(Path(s) for s in args.sites)))
        unit = unit_file(settings, satchel_command())
    except InstallError as error:
        print(f"satchel hub install: {error}; nothing was done", file=sys.stderr)
        return 2
    unit_path = Path(args.unit)
    steps = [] if user_exists(settings.user) else [user_command(settings.user, settings.data)]
    steps += [["install", "-d", "-m", "0700", "-o", settings.user, "-g", settings.user, str(settings.data)],
              [*satchel_command(), "hub", "init", "--data", str(settings.data)],
              ["chown", "-R", f"{settings.user}:{settings.user}", str(settings.data)]]
    if args.print:
        print(f"# --- {unit_path}\n{unit}# --- commands (as root)")
        for step in [*steps, *commands(settings, unit_path)]:
            print(shown_command(step))
        print(f"# database files in {settings.data}: mode 0600")
        return 0
    if os.geteuid() != 0:
        print("satchel hub install: making a system user and a systemd unit needs root. Run it with sudo:\n  sudo "
              + shown_command([*satchel_command(), "hub", "install", *argv]),
              file=sys.stderr)
        print("(or add --print to see every file and command first)", file=sys.stderr)
        return 2
    try:
        make_user_and_data(settings, print)
        unit_path.parent.mkdir(parents=True, exist_ok=True)
        unit_path.write_text(unit, encoding="utf-8")
        unit_path.chmod(0o644)
        print(f"Wrote {unit_path}.")
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", "") or error
        print(f"satchel hub install: {detail}".rstrip(), file=sys.stderr)
        return 1
    if why := systemd_running():
        print(f"satchel hub install: the unit was written, but {why}, so it was not started. Start the hub yourself: "
              f"runuser -u {settings.user} -- {unit.split('ExecStart=')[1].splitlines()[0]}", file=sys.stderr)
        return 1
    for step in commands(settings, unit_path):
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode:
            print(f"satchel hub install: `{shown_command(step)}` failed: {done.stderr.strip()}", file=sys.stderr)
            return 1
    print(f"The hub runs as a service now, and after every reboot ({unit_path.name}): "
          f"its log: journalctl -u {unit_path.stem}; its state: systemctl status {unit_path.stem}.")
    return 0
