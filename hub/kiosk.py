"""`satchel hub kiosk`: set a Raspberry Pi (or any Linux box) plugged into a classroom TV to open
the hub's TV page full screen at login: a systemd user service that starts Chromium in kiosk mode,
and the same as an XDG autostart entry for desktops without a user systemd session. The URL is
checked: a character that a unit file or a desktop entry gives a meaning to is refused, so an input
cannot write configuration of its own."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

SERVICE_FILE = "satchel-kiosk.service"
AUTOSTART_FILE = "satchel-kiosk.desktop"
MAX_URL = 2000
# What a URL may hold, written in double quotes in a unit file and a desktop entry: no space, quote,
# backslash, backtick, '$' or control character (each would be read by the format); '%', the
# specifier of both, is written '%%'.
SAFE_URL = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!&()*+,;=%]+")
BROWSER_RE = re.compile(r"/?[A-Za-z0-9_./-]{1,200}")
CHROMIUM_FLAGS = ["--kiosk", "--noerrdialogs", "--disable-translate", "--disable-infobars", "--disable-session-crashed-bubble",
                  "--no-first-run", "--check-for-update-interval=31536000", "--autoplay-policy=no-user-gesture-required",
                  "--overscroll-history-navigation=0"]


class KioskError(ValueError):
    """An input refused, saying which and how to fix it."""


def check_url(url: str) -> str:
    if len(url) > MAX_URL:
        raise KioskError(f"--url is at most {MAX_URL} characters")
    if not SAFE_URL.fullmatch(url):
        bad = next((c for c in url if not SAFE_URL.fullmatch(c)), "")
        raise KioskError(f"--url has {bad!r}, which a service file would read as its own: write it percent-encoded, "
                         "such as http://10.42.0.1:8000/tv/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KioskError("--url must be an http:// or https:// address with a host, such as http://10.42.0.1:8000/tv/")
    return url


def check_browser(browser: str) -> str:
    if not BROWSER_RE.fullmatch(browser) or ".." in browser:
        raise KioskError("--browser is a program's name or absolute path, such as chromium or /usr/bin/chromium-browser")
    return browser


def command(url: str, browser: str) -> str:
    """The command line, as both formats read it: the URL in double quotes, '%' doubled."""
    return " ".join([browser, *CHROMIUM_FLAGS, '"' + url.replace("%", "%%") + '"'])


def service_unit(url: str, browser: str = "chromium") -> str:
    """A systemd user service (~/.config/systemd/user/): Chromium full screen on the TV, restarted if it stops."""
    return ("[Unit]\nDescription=Satchel classroom TV (Chromium kiosk)\nAfter=graphical-session.target\n"
            "PartOf=graphical-session.target\n\n[Service]\n"
            f"ExecStart={command(check_url(url), check_browser(browser))}\nRestart=on-failure\nRestartSec=5\n\n"
            "[Install]\nWantedBy=graphical-session.target\n")


def autostart_entry(url: str, browser: str = "chromium") -> str:
    """An XDG autostart entry (~/.config/autostart/): the same, for a desktop without user services."""
    return ("[Desktop Entry]\nType=Application\nName=Satchel classroom TV\n"
            f"Exec={command(check_url(url), check_browser(browser))}\nX-GNOME-Autostart-enabled=true\n")


def next_steps(service: str, autostart: str) -> str:
    return (f"On the Pi, as the user that logs in to the desktop:\n"
            f"  mkdir -p ~/.config/systemd/user && cp {service} ~/.config/systemd/user/\n"
            f"  systemctl --user daemon-reload && systemctl --user enable --now {SERVICE_FILE}\n"
            f"or, without a user systemd session: mkdir -p ~/.config/autostart && cp {autostart} ~/.config/autostart/\n"
            "To follow the TV from the teacher's phone, sign in to the hub once in the kiosk's browser (docs/hub.md, Classroom TV).")


def write(url: str, browser: str, folder: Path) -> tuple[Path, Path]:
    service, autostart = service_unit(url, browser), autostart_entry(url, browser)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SERVICE_FILE).write_text(service, encoding="utf-8")
    (folder / AUTOSTART_FILE).write_text(autostart, encoding="utf-8")
    return folder / SERVICE_FILE, folder / AUTOSTART_FILE


def main(argv: list[str]) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="satchel hub kiosk", description="Print or write a kiosk set-up for a Raspberry Pi "
                                     "plugged into a classroom TV: Chromium full screen on the hub's TV page at login.")
    parser.add_argument("--url", required=True, help="the TV page to open, such as http://10.42.0.1:8000/tv/ (or /fr/tv/)")
    parser.add_argument("--browser", default="chromium", help="the browser's program (default chromium; Raspberry Pi OS: chromium-browser)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--print", action="store_true", help="print both files (the default)")
    output.add_argument("--write", metavar="DIR", help=f"write {SERVICE_FILE} and {AUTOSTART_FILE} into DIR")
    args = parser.parse_args(argv)
    try:
        service, autostart = service_unit(args.url, args.browser), autostart_entry(args.url, args.browser)
        if args.write:
            written = write(args.url, args.browser, Path(args.write))
            print(f"Wrote {written[0]} and {written[1]}.\n" + next_steps(*map(str, written)))
            return 0
    except KioskError as error:
        print(f"satchel hub kiosk: {error}; nothing was written", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"satchel hub kiosk: cannot write into {args.write}: {error}", file=sys.stderr)
        return 2
    print(f"# --- {SERVICE_FILE} (for ~/.config/systemd/user/)\n{service}\n# --- {AUTOSTART_FILE} (for ~/.config/autostart/)\n{autostart}\n"
          + "\n".join("# " + line for line in next_steps(SERVICE_FILE, AUTOSTART_FILE).splitlines()))
    return 0
