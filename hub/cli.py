"""`satchel hub`: run a hub, and set up its data directory.

    satchel hub init --data DIR [--db postgresql://...]   create the data directory (and the tables)
    satchel hub set-password --data DIR                   the teacher dashboard's password (/_hub/)
    satchel hub sync --data DIR --upstream URL [--user U] [--every S]   forward statements upstream
    satchel hub import FILE.satchel --data DIR             check an archive (a USB stick's) and switch to it
    satchel hub push-keys --data DIR --contact mailto:...  VAPID keys, for notifications
    satchel hub notify [SITE ...] --data DIR               tell subscribed devices that new lessons are here
    satchel hub [SITE ...] --data DIR [--host H] [--port P] [--tls-cert C --tls-key K] [--max-upload BYTES]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from builder.archive import SUFFIX, ArchiveError

from . import push
from .app import DEFAULT_MAX_UPLOAD, create_app
from .archives import import_archive, imported
from .auth import hash_password
from .dashboard import PASSWORD_KEY
from .store import DATABASE, Store

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def cmd_init(args) -> int:
    data = Path(args.data)
    try:
        Store.init(data, args.db).close()
    except Exception as error:  # a database that cannot be reached: say which and why
        print(f"satchel hub init: cannot use the database {args.db or data / DATABASE}: {error}", file=sys.stderr)
        return 2
    print(f"Hub data directory ready: {data.resolve()} (database: {'PostgreSQL' if args.db else DATABASE})")
    return 0


def open_store(args, command: str) -> Store | None:
    """The store of --data, or None after saying why not (the command then exits 2)."""
    try:
        return Store.in_data_dir(Path(args.data))
    except FileNotFoundError as error:
        print(f"satchel hub {command}: {error}", file=sys.stderr)
        return None


def cmd_import(args) -> int:
    data = Path(args.data)
    if open_store(args, "import") is None:
        return 2
    try:
        archive, replaced = import_archive(data, Path(args.archive), allow_older=args.allow_older)
    except ArchiveError as error:
        print(f"satchel hub import: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a stick pulled out, a full disk: the hub still serves what it served
        print(f"satchel hub import: could not copy {args.archive} ({error}); the hub still serves what it served before",
              file=sys.stderr)
        return 2
    what = f"{archive.curriculum_id} {archive.version}"
    print(f"Imported {what} (replacing {replaced}): a running hub serves it within a second." if replaced else
          f"Imported {what}. Start the hub with `satchel hub --data {data}` (a running hub serves it after a restart).")
    if replaced and not args.no_notify and push.settings(data) is not None:
        curriculum = json.loads(archive.read("satchel/curriculum.json"))
        return report_notified(push.notify(Store.in_data_dir(data), data, {curriculum["id"]: curriculum}, only=curriculum["id"]))
    return 0


def report_notified(report) -> int:
    print(f"Notified {report.sent} devices of the new lessons"
          + (f"; {report.removed} subscriptions had ended and were removed" if report.removed else "")
          + (f"; {report.retried} sends were retried" if report.retried else "") + ".")
    for endpoint, why in report.failed:
        print(f"  not delivered ({why}): {endpoint[:80]}", file=sys.stderr)
    if report.failed:
        print(f"{len(report.failed)} devices were not reached: run `satchel hub notify` again later.", file=sys.stderr)
    return 1 if report.failed else 0


def cmd_push_keys(args) -> int:
    data = Path(args.data)
    if open_store(args, "push-keys") is None:
        return 2
    try:
        public = push.create_keys(data, args.contact)
    except ValueError as error:
        print(f"satchel hub push-keys: {error}", file=sys.stderr)
        return 2
    print(f"Push keys ready in {data} (the private key, {push.KEY_FILE}, stays there and is never served).\n"
          f"Public key (devices get it from /api/push/key): {public}")
    return 0


def cmd_notify(args) -> int:
    from .app import open_bundle
    data = Path(args.data)
    store = open_store(args, "notify")
    if store is None:
        return 2
    try:
        curricula = {c["id"]: c for c, _ in (open_bundle(site) for site in [Path(s) for s in args.sites] + imported(data))}
        return report_notified(push.notify(store, data, curricula, only=args.curriculum))
    except (FileNotFoundError, ArchiveError) as error:
        print(f"satchel hub notify: {error}", file=sys.stderr)
        return 2


def cmd_set_password(args) -> int:
    import getpass
    store = open_store(args, "set-password")
    if store is None:
        return 2
    if sys.stdin.isatty():
        password = getpass.getpass("Teacher password: ")
        if getpass.getpass("Again: ") != password:
            print("satchel hub set-password: the two passwords differ; nothing changed", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        print("satchel hub set-password: use at least 8 characters; nothing changed", file=sys.stderr)
        return 2
    store.set_meta(PASSWORD_KEY, hash_password(password))
    print("Teacher password set. Sign in at /_hub/ on the hub.")
    return 0


def cmd_sync(args) -> int:
    import os

    from .upstream import UpstreamError, forward, forward_forever
    store = open_store(args, "sync")
    if store is None:
        return 2
    password = os.environ.get("SATCHEL_UPSTREAM_PASSWORD")
    if args.password_file:
        password = Path(args.password_file).read_text(encoding="utf-8").strip()
    if args.every:
        forward_forever(store, args.upstream, args.every, args.user, password)
        return 0
    try:
        sent = forward(store, args.upstream, args.user, password)
    except UpstreamError as error:
        print(f"satchel hub sync: not everything was forwarded: {error}. Run it again: it goes on where it stopped.", file=sys.stderr)
        return 1
    print(f"Forwarded {sent} statements to {args.upstream}." if sent else "Nothing new to forward.")
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    if bool(args.tls_cert) != bool(args.tls_key):
        print("satchel hub: give both --tls-cert and --tls-key, or neither", file=sys.stderr)
        return 2
    sites = [Path(s) for s in args.sites] + imported(Path(args.data))
    if not sites:
        print(f"satchel hub: nothing to serve: give a bundle (a folder from `satchel build`, or a {SUFFIX} file from "
              f"`satchel pack`), or import one with `satchel hub import FILE --data {args.data}`", file=sys.stderr)
        return 2
    try:
        store = Store.in_data_dir(Path(args.data))
        app = create_app(sites, store, args.max_upload, secure=bool(args.tls_cert), data_dir=Path(args.data))  # opens and checks every bundle
    except (FileNotFoundError, ArchiveError) as error:
        print(f"satchel hub: {error}", file=sys.stderr)
        return 2
    scheme = "https" if args.tls_cert else "http"
    print(f"Satchel hub: serving {', '.join(str(s) for s in sites)} on {scheme}://{args.host}:{args.port}/", flush=True)
    if not args.tls_cert and args.host not in LOCAL_HOSTS:
        print("Without a certificate, devices on the network get the lessons as a website only: browsers allow offline use, "
              "installing and notifications only over https (or on localhost). See the 'Secure contexts' part of "
              "docs/hub.md; give --tls-cert and --tls-key for the name devices use.", flush=True)
    options = dict(host=args.host, port=args.port, ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key,
                   log_level=args.log_level, timeout_graceful_shutdown=5)
    if args.workers > 1:
        # Several processes, each with its own copy of the app: uvicorn imports it by name.
        store.close()
        os.environ[WORKER_SETTINGS] = json.dumps({"sites": [str(s) for s in sites], "data": args.data,
                                                  "max_upload": args.max_upload, "secure": bool(args.tls_cert)})
        uvicorn.run("hub.cli:worker_app", factory=True, workers=args.workers, **options)
    else:
        tune_gc()
        uvicorn.run(app, **options)
    return 0


WORKER_SETTINGS = "SATCHEL_HUB_WORKER"


def tune_gc() -> None:
    """Fewer garbage collections: an upload parses into some 2,000 objects, so the default
    threshold (700) ran a collection for every upload, and every few dozen a full one over all
    the hub's objects. Objects made at start-up are frozen out of collections; requests make no
    reference cycles worth chasing often. (benchmarks/hub.py: about 10 % more uploads/s.)"""
    import gc
    gc.freeze()
    gc.set_threshold(50_000, 20, 1000)


def worker_app():
    """The app of one worker process of `satchel hub --workers N`."""
    settings = json.loads(os.environ[WORKER_SETTINGS])
    app = create_app([Path(s) for s in settings["sites"]], Store.in_data_dir(Path(settings["data"])),
                     settings["max_upload"], secure=settings["secure"], data_dir=Path(settings["data"]))
    tune_gc()
    return app


def main(argv: list[str]) -> int:
    if argv[:1] == ["init"]:
        parser = argparse.ArgumentParser(prog="satchel hub init", description="Create a hub's data directory.")
        parser.add_argument("--data", required=True, help="the folder that holds the hub's state (and its SQLite database)")
        parser.add_argument("--db", help="a PostgreSQL URL (postgresql://user:password@host/name) instead of SQLite")
        return cmd_init(parser.parse_args(argv[1:]))
    if argv[:1] == ["sync"]:
        parser = argparse.ArgumentParser(
            prog="satchel hub sync", description="Forward the statements not yet forwarded to a central hub or an xAPI LRS.",
            epilog="Examples: --upstream https://central.example.org/api/progress (a Satchel hub) or "
                   "--upstream https://lrs.example.org/xAPI/statements --user hub-12 (an LRS, basic auth).")
        parser.add_argument("--data", required=True, help="the hub's data directory")
        parser.add_argument("--upstream", required=True, help="a hub's .../api/progress, or an LRS's .../statements")
        parser.add_argument("--user", help="basic auth user of the upstream")
        parser.add_argument("--password-file", help="a file holding its password (or set SATCHEL_UPSTREAM_PASSWORD)")
        parser.add_argument("--every", type=float, help="keep running: forward again every this many seconds")
        return cmd_sync(parser.parse_args(argv[1:]))
    if argv[:1] == ["import"]:
        parser = argparse.ArgumentParser(prog="satchel hub import", description=f"Check a bundle archive ({SUFFIX}, made by "
                                         "`satchel pack`), for example from a USB stick, and switch the hub to it.")
        parser.add_argument("archive", help=f"the {SUFFIX} file")
        parser.add_argument("--data", required=True, help="the hub's data directory")
        parser.add_argument("--allow-older", action="store_true", help="accept a version older than the one served (to go back)")
        parser.add_argument("--no-notify", action="store_true", help="do not notify subscribed devices of the new version")
        return cmd_import(parser.parse_args(argv[1:]))
    if argv[:1] == ["push-keys"]:
        parser = argparse.ArgumentParser(prog="satchel hub push-keys", description="Make the hub's VAPID keys, for notifications "
                                         "(once; run again to change the contact, the keys stay).")
        parser.add_argument("--data", required=True, help="the hub's data directory")
        parser.add_argument("--contact", required=True, help="mailto:you@example.org or https://...: push services contact whoever runs the hub")
        return cmd_push_keys(parser.parse_args(argv[1:]))
    if argv[:1] == ["notify"]:
        parser = argparse.ArgumentParser(prog="satchel hub notify", description="Tell every subscribed device, in its language, "
                                         "that new lessons are here (satchel hub import does it after a new version).")
        parser.add_argument("sites", nargs="*", help="bundles served besides those imported (for the titles and versions)")
        parser.add_argument("--data", required=True, help="the hub's data directory")
        parser.add_argument("--curriculum", help="only the devices of this curriculum")
        return cmd_notify(parser.parse_args(argv[1:]))
    if argv[:1] == ["set-password"]:
        parser = argparse.ArgumentParser(prog="satchel hub set-password",
                                         description="Set the teacher dashboard's password (asked twice; or one line on standard input).")
        parser.add_argument("--data", required=True, help="the hub's data directory")
        return cmd_set_password(parser.parse_args(argv[1:]))
    parser = argparse.ArgumentParser(prog="satchel hub", description="Serve built bundles to a school's devices and receive their progress.",
                                     epilog="First run `satchel hub init --data DIR`.")
    parser.add_argument("sites", nargs="*", help=f"bundles: folders built by `satchel build` or {SUFFIX} archives from `satchel pack` "
                        "(one is served at /, several at /<curriculum id>/), besides those imported into --data")
    parser.add_argument("--data", required=True, help="the hub's data directory (made by `satchel hub init`)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every network)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--tls-cert", help="certificate (PEM) for https")
    parser.add_argument("--tls-key", help="its private key (PEM)")
    parser.add_argument("--max-upload", type=int, default=DEFAULT_MAX_UPLOAD, help=f"largest progress file accepted, in bytes (default {DEFAULT_MAX_UPLOAD:,})")
    parser.add_argument("--workers", type=int, default=1, help="processes serving requests (a Raspberry Pi 4 has 4 cores; default 1)")
    parser.add_argument("--log-level", default="warning")
    return cmd_serve(parser.parse_args(argv))
