"""`satchel hub`: run a hub, and set up its data directory.

    satchel hub init --data DIR [--db postgresql://...] [--trust-key KEY.pub]   create the data directory (and the tables)
    satchel hub set-password --data DIR                   the teacher dashboard's password (/_hub/)
    satchel hub sync --data DIR --upstream URL [--user U] [--every S]   forward statements upstream
    satchel hub sync --data DIR --status | --upstream URL --retry-quarantined   what upstream refused
    satchel hub schools add NAME [--region R] | set ID --region R | list | revoke ID --data DIR   a central's school hub credentials
    satchel hub import FILE.satchel --data DIR             check an archive (a USB stick's) and switch to it
    satchel hub keys add KEY.pub | remove KEY-ID | list --data DIR   the keys whose signed archives it imports
    satchel hub push-keys --data DIR --contact mailto:...  VAPID keys, for notifications
    satchel hub notify [SITE ...] --data DIR               tell subscribed devices that new lessons are here
    satchel hub cert --data DIR --domain NAME --directory URL (--http-01 | --dns-01-hook CMD) [--renew]   HTTPS (DIR/tls/)
    satchel hub install --data DIR [--user U] [--port P --tls-cert C --tls-key K] [--print]   a systemd service
    satchel hub hotspot --name NAME --address 10.42.0.1 (--passphrase P | --open) [--write DIR]   dnsmasq, hostapd
    satchel hub doctor --data DIR [--url https://NAME/] [--json]   what to fix for phones to use the hub
    satchel hub kiosk --url URL [--browser B] [--print | --write DIR]   a Pi's Chromium kiosk on the classroom TV
    satchel hub [SITE ...] --data DIR [--host H] [--port P] [--tls-cert C --tls-key K] [--max-upload BYTES]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from satchel.builder.archive import SUFFIX, ArchiveError, load_public_key

from . import push
from .app import DEFAULT_MAX_UPLOAD, create_app
from .archives import TrustedKeys, import_archive, imported
from .auth import hash_password
from .dashboard import PASSWORD_KEY
from .store import DATABASE, Store


def cmd_init(args) -> int:
    data = Path(args.data)
    try:  # the keys first: a wrong file given stops init before it makes anything
        keys = [(Path(path), Path(path).read_bytes()) for path in args.trust_key]
        for path, pem in keys:
            load_public_key(pem, str(path))
    except (OSError, ArchiveError) as error:
        print(f"satchel hub init: {error}; nothing was made", file=sys.stderr)
        return 2
    try:
        store = Store.init(data, args.db)
    except Exception as error:  # a database that cannot be reached: say which and why
        print(f"satchel hub init: cannot use the database {args.db or data / DATABASE}: {error}", file=sys.stderr)
        return 2
    hub_id = store.hub_id()  # forwarded statements carry it (hub/upstream.py)
    trusted = TrustedKeys(store)
    added = [trusted.add(pem, str(path))[0] for path, pem in keys]
    store.close()
    print(f"Hub data directory ready: {data.resolve()} (database: {'PostgreSQL' if args.db else DATABASE}; hub id: {hub_id})")
    if added:
        print(f"It imports only archives signed by the key{'s' if len(added) > 1 else ''} {', '.join(added)}.")
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
    store = open_store(args, "import")
    if store is None:
        return 2
    use_push_keys(data, store, "import")
    keys = TrustedKeys(store)
    try:
        archive, replaced = import_archive(data, Path(args.archive), allow_older=args.allow_older, keys=keys)
    except ArchiveError as error:
        print(f"satchel hub import: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a stick pulled out, a full disk: the hub still serves what it served
        print(f"satchel hub import: could not copy {args.archive} ({error}); the hub still serves what it served before",
              file=sys.stderr)
        return 2
    what = f"{archive.curriculum_id} {archive.version}"
    if (certificate := getattr(archive, "certificate", None)) and certificate.get("kept"):
        print(f"Kept this hub's certificate for {', '.join(certificate['names'])} ({certificate['days_left']} days left): the one "
              "the archive carries is not newer.")
    elif certificate:
        print(f"Installed its certificate for {', '.join(certificate['names'])} ({certificate['days_left']} days left) in "
              f"{data / 'tls'}: a hub serving it loads it within a second; a hub serving http only needs a restart for https.")
    if keys.trusted:
        signer = json.loads(archive.signature)["key"]  # check_origin passed: it is there, and trusted
        print(f"Signed by the key {signer} ({keys.trusted[signer]['name']}), which this hub trusts.")
    else:
        print("This hub trusts no signing key, so it does not check who made an archive: anyone can make one it imports. "
              f"Trust your ministry's key with `satchel hub keys add KEY.pub --data {data}`.", file=sys.stderr)
    print(f"Imported {what} (replacing {replaced}): a running hub serves it within a second." if replaced else
          f"Imported {what}. Start the hub with `satchel hub --data {data}` (a running hub serves it after a restart).")
    if replaced and not args.no_notify and push.settings(data) is not None:
        # In a process of its own, which outlives this one: an import (a teacher with a USB stick)
        # never waits on push services, however slow or silent their endpoints are.
        import subprocess
        import time
        curriculum = json.loads(archive.read("satchel/curriculum.json"))["id"]
        log = data.resolve() / push.NOTIFY_LOG
        with open(log, "a", encoding="utf-8") as output:
            output.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} after importing {what}: satchel hub notify --curriculum {curriculum}\n")
            output.flush()
            notifying = subprocess.Popen([sys.executable, "-m", "satchel.builder.cli", "hub", "notify", "--data", str(data.resolve()),
                                          "--curriculum", curriculum], stdin=subprocess.DEVNULL, stdout=output,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        print(f"Notifying the devices subscribed to {curriculum} in the background (process {notifying.pid}); "
              f"its report goes to {log}.")
    return 0


def cmd_keys(args) -> int:
    store = open_store(args, "keys")
    if store is None:
        return 2
    keys = TrustedKeys(store)
    if args.action == "add":
        try:
            key, new = keys.add(Path(args.key).read_bytes(), args.key, args.name or "")
        except (OSError, ArchiveError) as error:
            print(f"satchel hub keys add: {error}; nothing changed", file=sys.stderr)
            return 2
        print(f"Trusted the key {key}: this hub imports archives signed by it"
              + (f" (and by {', '.join(k for k in keys.trusted if k != key)})." if len(keys.trusted) > 1 else
                 ", and only them: unsigned archives are refused from now on.") if new else f"The key {key} was trusted already.")
        return 0
    if args.action == "remove":
        if args.key not in keys.trusted:
            print(f"satchel hub keys remove: this hub does not trust a key {args.key} (satchel hub keys list)", file=sys.stderr)
            return 2
        if len(keys.trusted) == 1 and not args.allow_unsigned:
            print(f"satchel hub keys remove: {args.key} is the only key this hub trusts: without it the hub would import "
                  "unsigned archives again. Add the new key first (`satchel hub keys add NEW.pub`), or give --allow-unsigned.",
                  file=sys.stderr)
            return 2
        keys.remove(args.key)
        print(f"Removed the key {args.key}: archives signed by it are refused from now on (what was imported stays served)."
              + ("" if keys.trusted else " This hub trusts no key now: it imports unsigned archives."))
        return 0
    if not keys.trusted:
        print("This hub trusts no signing key: it imports any archive, unsigned too (satchel hub keys add KEY.pub).")
    for key, entry in sorted(keys.trusted.items()):
        print(f"{key}\t{entry['name']}\tadded {entry['added']}")
    for key, when in sorted(keys.removed.items()):
        print(f"{key}\tremoved {when}")
    return 0


def report_notified(report) -> int:
    print(f"Notified {report.sent} devices of the new lessons"
          + (f"; {report.removed} subscriptions had ended and were removed" if report.removed else "")
          + (f"; {report.retried} sends were retried" if report.retried else "") + ".")
    for endpoint, why in report.failed:
        print(f"  not delivered ({why}): {endpoint[:80]}", file=sys.stderr)
    if report.failed:
        print(f"{len(report.failed)} devices were not reached: run `satchel hub notify` again later.", file=sys.stderr)
    for endpoint, why in report.refused:
        print(f"  not sent ({why}): {endpoint[:80]}", file=sys.stderr)
    if report.refused:
        # Kept, not removed: a network whose DNS answers every name with its own address (a captive
        # portal) would otherwise cost the hub every subscription.
        print(f"{len(report.refused)} subscriptions point where this hub does not send (its network, or this machine): "
              "they were not sent to, and are kept; if it is this network's DNS, run `satchel hub notify` again later.",
              file=sys.stderr)
    return 1 if report.failed or report.refused else 0


def cmd_push_keys(args) -> int:
    data = Path(args.data)
    store = open_store(args, "push-keys")
    if store is None:
        return 2
    use_push_keys(data, store, "push-keys")
    try:
        public = push.create_keys(data, args.contact, args.allow_test_endpoint, args.max_subscriptions)
    except ValueError as error:
        print(f"satchel hub push-keys: {error}", file=sys.stderr)
        return 2
    print("Push keys ready in the hub's database: every hub on it uses them (the private key is never served).\n"
          f"Public key (devices get it from /api/push/key): {public}")
    for endpoint in args.allow_test_endpoint:
        print(f"FOR TESTS ONLY: this hub now posts to {endpoint} although it is not a public push service. "
              "Run push-keys again without --allow-test-endpoint on a real hub.", file=sys.stderr)
    return 0


def cmd_notify(args) -> int:
    from .app import open_bundle
    data = Path(args.data)
    store = open_store(args, "notify")
    if store is None:
        return 2
    use_push_keys(data, store, "notify")
    try:
        sites = [Path(s) for s in args.sites] + imported(data)
        if twice := same_curriculum_twice(sites, data):
            print(f"satchel hub notify: {twice}", file=sys.stderr)
            return 2
        curricula = {c["id"]: c for c, _ in (open_bundle(site) for site in sites)}
        return report_notified(push.notify(store, data, curricula, only=args.curriculum, deadline=args.deadline))
    except (FileNotFoundError, ArchiveError) as error:
        print(f"satchel hub notify: {error}", file=sys.stderr)
        return 2


def use_push_keys(data: Path, store: Store, command: str) -> None:
    """Push keys from the database from now on (an older hub's key files moved in), saying what went wrong."""
    if warning := push.use_store(data, store):
        print(f"satchel hub{' ' + command if command else ''}: {warning}", file=sys.stderr)


def describe_bundle(site: Path) -> tuple[str, str | None]:
    """(curriculum id, version) of a bundle to serve, read without checking it (create_app does)."""
    from .archives import POINTER
    if site.is_dir() and (site / POINTER).is_file():
        from satchel.builder.archive import Archive
        archive = Archive.open(site / (site / POINTER).read_text(encoding="utf-8").strip(), verify=False)
        return archive.curriculum_id, archive.version
    if site.is_file():
        from satchel.builder.archive import Archive
        archive = Archive.open(site, verify=False)
        return archive.curriculum_id, archive.version
    from .app import curriculum_of
    curriculum = curriculum_of(site)
    return curriculum["id"], curriculum.get("version")


def same_curriculum_twice(sites: list[Path], data: Path) -> str | None:
    """Why these bundles cannot be served together (two with one curriculum id), or None."""
    ours = set(imported(data))
    seen: dict[str, tuple[Path, str | None]] = {}
    for site in sites:
        curriculum, version = describe_bundle(site)
        if curriculum not in seen:
            seen[curriculum] = (site, version)
            continue
        first, first_version = seen[curriculum]
        named = [f"{path}{f' (version {v})' if v else ''}" for path, v in ((first, first_version), (site, version))]
        if ours & {first, site}:
            given = first if site in ours else site
            fix = f"serve only the imported one (leave {given} out of the command)"
        else:
            fix = "give only one of them"
        return (f"two bundles of the curriculum {curriculum!r}: {named[0]} and {named[1]}. A hub serves one bundle per "
                f"curriculum: {fix}, or remove one (an imported one lives in its folder under DATA/bundles/).")
    return None


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
    ended = store.set_teacher_password(PASSWORD_KEY, hash_password(password))
    print("Teacher password set. Sign in at /_hub/ on the hub."
          + (f" {ended} dashboard sessions were signed out." if ended else ""))
    return 0


def print_sync_status(store: Store, data: str) -> None:
    forwarded, waiting, quarantined = store.sync_counts()
    print(f"Forwarded: {forwarded:,}\nWaiting: {waiting:,}\nQuarantined (refused by the upstream, set aside): {quarantined:,}")
    for reason, count in store.quarantine_summary():
        ids = store.quarantined_ids(reason)
        print(f"  {count:,} x {reason}\n    for example: {', '.join(ids)}{', ...' if count > len(ids) else ''}")
    if quarantined:
        print(f"Once the cause is fixed: satchel hub sync --data {data} --upstream URL --retry-quarantined")


def cmd_sync(args) -> int:
    import os

    from .upstream import UpstreamError, forward, forward_forever
    store = open_store(args, "sync")
    if store is None:
        return 2
    if args.status:
        print_sync_status(store, args.data)
        return 0
    if not args.upstream:
        print("satchel hub sync: give --upstream URL (or --status)", file=sys.stderr)
        return 2
    password = os.environ.get("SATCHEL_UPSTREAM_PASSWORD")
    if args.password_file:
        password = Path(args.password_file).read_text(encoding="utf-8").strip()
    if args.retry_quarantined:
        print(f"{store.release_quarantined():,} quarantined statements are back in line.")
    if args.every:
        forward_forever(store, args.upstream, args.every, args.user, password)
        return 0
    try:
        done = forward(store, args.upstream, args.user, password)
    except UpstreamError as error:
        print(f"satchel hub sync: not everything was forwarded: {error}. Run it again: it goes on where it stopped.", file=sys.stderr)
        return 1
    print(f"Forwarded {done.sent} statements to {args.upstream}." if done.sent else "Nothing new to forward.")
    if done.quarantined:
        print(f"{done.quarantined} {'statement was' if done.quarantined == 1 else 'statements were'} refused by the upstream "
              "and set aside; the others went on. "
              f"See why: satchel hub sync --data {args.data} --status")
    return 0


def cmd_schools(args) -> int:
    from .schools import new_school, token_hash
    from .store import MAX_REGION
    store = open_store(args, "schools")
    if store is None:
        return 2
    region = (getattr(args, "region", None) or "").strip()
    if len(region) > MAX_REGION:
        print(f"satchel hub schools: a region's name is at most {MAX_REGION} characters", file=sys.stderr)
        return 2
    if args.action == "add":
        school, token = new_school(args.name)
        store.add_school(school, args.name, token_hash(token), region)
        print(f"School hub: {school}\nToken: {token}\n"
              "The token is shown this once (only its hash is kept). On the school hub, put it in a file only its owner reads, and:\n"
              f"  satchel hub sync --data DIR --upstream https://THIS-HUB/api/progress --user {school} --password-file FILE\n"
              "From now on this hub is a central: it takes uploads only with a school hub's credentials.")
        return 0
    if args.action == "revoke":
        if not store.revoke_school(args.id):
            print(f"satchel hub schools revoke: no school hub {args.id} with credentials in force (satchel hub schools list)",
                  file=sys.stderr)
            return 2
        print(f"Revoked {args.id}: a running central refuses its uploads within 30 seconds.")
        return 0
    if args.action == "set":
        if not store.set_school_region(args.id, region):
            print(f"satchel hub schools set: no school hub {args.id} (satchel hub schools list)", file=sys.stderr)
            return 2
        print(f"{args.id}: region {region or '(none)'}")
        return 0
    regions = store.school_regions()
    schools = store.schools()
    if not schools:
        print("No school hub credentials: this hub is no central (satchel hub schools add NAME).")
    for school, name, created, revoked in schools:
        region = regions.get(school, ("", ""))[1]
        print(f"{school}\t{name}\tadded {created}\t{'revoked ' + revoked if revoked else 'in force'}"
              + (f"\tregion {region}" if region else ""))
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    from . import connections

    if bool(args.tls_cert) != bool(args.tls_key):
        print("satchel hub: give both --tls-cert and --tls-key, or neither", file=sys.stderr)
        return 2
    from .cert import reloading_context, served_files
    if not args.tls_cert and (tls := served_files(Path(args.data))):  # from `satchel hub cert`, or an archive
        args.tls_cert, args.tls_key = (str(path) for path in tls)
    if min(args.header_timeout, args.body_timeout) <= 0 or (args.max_connections or 1) < 1:
        print("satchel hub: --header-timeout, --body-timeout and --max-connections are above 0", file=sys.stderr)
        return 2
    file_limit = connections.raise_file_limit()  # before --workers start: they inherit it
    max_connections = args.max_connections or connections.default_max_connections(file_limit)
    if max_connections >= file_limit:
        print(f"satchel hub: --max-connections {max_connections} must be below the limit of open files ({file_limit}); "
              f"the default is {connections.default_max_connections(file_limit)}", file=sys.stderr)
        return 2
    limits = connections.Limits(max_connections, header_timeout=args.header_timeout, body_timeout=args.body_timeout)
    sites = [Path(s) for s in args.sites] + imported(Path(args.data))
    if not sites:
        print(f"satchel hub: nothing to serve: give a bundle (a folder from `satchel build`, or a {SUFFIX} file from "
              f"`satchel pack`), or import one with `satchel hub import FILE --data {args.data}`", file=sys.stderr)
        return 2
    try:
        if twice := same_curriculum_twice(sites, Path(args.data)):
            print(f"satchel hub: {twice}", file=sys.stderr)
            return 2
        store = Store.in_data_dir(Path(args.data))
        use_push_keys(Path(args.data), store, "")
        app = create_app(sites, store, args.max_upload, secure=bool(args.tls_cert), data_dir=Path(args.data),
                         tls_cert=Path(args.tls_cert) if args.tls_cert else None)  # opens and checks every bundle
    except (FileNotFoundError, ArchiveError) as error:
        print(f"satchel hub: {error}", file=sys.stderr)
        return 2
    scheme = "https" if args.tls_cert else "http"
    print(f"Satchel hub: serving {', '.join(str(s) for s in sites)} on {scheme}://{args.host}:{args.port}/", flush=True)
    from .doctor import what_works
    for line in what_works(args.host, args.port, Path(args.tls_cert) if args.tls_cert else None, args.public_name):
        print(line, flush=True)
    options = dict(host=args.host, port=args.port, ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key,
                   ssl_context_factory=reloading_context if args.tls_cert else None,  # a new cert.pem loads without a restart
                   log_level=args.log_level, timeout_graceful_shutdown=5,
                   # X-Forwarded-For and -Proto are believed only from the proxies named
                   proxy_headers=bool(args.trusted_proxy), forwarded_allow_ips=args.trusted_proxy or None,
                   **connections.uvicorn_options(limits))
    if args.workers > 1:
        # Several processes, each with its own copy of the app: uvicorn imports it by name.
        store.close()
        os.environ[WORKER_SETTINGS] = json.dumps({"sites": [str(s) for s in sites], "data": args.data,
                                                  "max_upload": args.max_upload, "secure": bool(args.tls_cert),
                                                  "tls_cert": args.tls_cert})
        uvicorn.run("satchel.hub.cli:worker_app", factory=True, workers=args.workers, **options)
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
    store = Store.in_data_dir(Path(settings["data"]))
    push.use_store(Path(settings["data"]), store)  # the files, if any, were moved in by `satchel hub` before
    app = create_app([Path(s) for s in settings["sites"]], store,
                     settings["max_upload"], secure=settings["secure"], data_dir=Path(settings["data"]),
                     tls_cert=Path(settings["tls_cert"]) if settings.get("tls_cert") else None)
    tune_gc()
    return app


def main(argv: list[str]) -> int:
    if argv[:1] in (["install"], ["hotspot"], ["doctor"], ["kiosk"]):  # each in a module of its own
        import importlib
        return importlib.import_module(f".{argv[0]}", __package__).main(argv[1:])
    if argv[:1] == ["cert"]:
        from .cert import add_arguments, cmd_cert
        parser = argparse.ArgumentParser(prog="satchel hub cert", description="Get (or renew) the hub's certificate with "
                                         "ACME (Let's Encrypt or another), into DATA/tls/, which `satchel hub` serves.")
        add_arguments(parser)
        return cmd_cert(parser.parse_args(argv[1:]))
    if argv[:1] == ["init"]:
        parser = argparse.ArgumentParser(prog="satchel hub init", description="Create a hub's data directory.")
        parser.add_argument("--data", required=True, help="the folder that holds the hub's state (and its SQLite database)")
        parser.add_argument("--db", help="a PostgreSQL URL (postgresql://user:password@host/name) instead of SQLite")
        parser.add_argument("--trust-key", action="append", default=[], metavar="KEY.pub",
                            help="import only archives signed by this public key (from `satchel keys new`; repeatable)")
        return cmd_init(parser.parse_args(argv[1:]))
    if argv[:1] == ["keys"]:
        parser = argparse.ArgumentParser(prog="satchel hub keys", description="The public keys whose signed archives this "
                                         "hub imports: a hub that trusts any imports only archives signed by one of them.")
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="trust a public key (a .pub file from `satchel keys new`)")
        add.add_argument("key", help="the .pub file")
        add.add_argument("--name", help="what to call it in messages (default: the file's name)")
        remove = actions.add_parser("remove", help="stop trusting a key: archives signed by it are refused")
        remove.add_argument("key", help="the key's id (satchel hub keys list)")
        remove.add_argument("--allow-unsigned", action="store_true", help="remove the last key: the hub imports unsigned archives again")
        listing = actions.add_parser("list", help="the keys trusted, and those removed")
        for action in (add, remove, listing):
            action.add_argument("--data", required=True, help="the hub's data directory")
        return cmd_keys(parser.parse_args(argv[1:]))
    if argv[:1] == ["sync"]:
        parser = argparse.ArgumentParser(
            prog="satchel hub sync", description="Forward the statements not yet forwarded to a central hub or an xAPI LRS.",
            epilog="Examples: --upstream https://central.example.org/api/progress (a Satchel hub) or "
                   "--upstream https://lrs.example.org/xAPI/statements --user hub-12 (an LRS, basic auth).")
        parser.add_argument("--data", required=True, help="the hub's data directory")
        parser.add_argument("--upstream", help="a hub's .../api/progress, or an LRS's .../statements")
        parser.add_argument("--user", help="basic auth user of the upstream (towards a central: the school hub's id)")
        parser.add_argument("--password-file", help="a file holding its password (or set SATCHEL_UPSTREAM_PASSWORD)")
        parser.add_argument("--every", type=float, help="keep running: forward again every this many seconds")
        parser.add_argument("--status", action="store_true", help="only say how many statements were forwarded, wait, "
                            "and were refused by the upstream and set aside (quarantined), with the reasons")
        parser.add_argument("--retry-quarantined", action="store_true", help="put the quarantined statements back in line, "
                            "then forward (after the cause of the refusal is fixed)")
        return cmd_sync(parser.parse_args(argv[1:]))
    if argv[:1] == ["schools"]:
        parser = argparse.ArgumentParser(prog="satchel hub schools", description="A central hub's school hub credentials: "
                                         "a hub that has issued any takes uploads only with them.")
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="issue credentials to a school hub: prints its id and token (once)")
        add.add_argument("name", help="the school's name")
        add.add_argument("--region", help="the school's region: the central's dashboard groups schools by it (at most 100 characters)")
        change = actions.add_parser("set", help="change a school hub's region")
        change.add_argument("id", help="the school hub's id (satchel hub schools list)")
        change.add_argument("--region", required=True, help="its region ('' for none)")
        listing = actions.add_parser("list", help="every school hub, with its credentials in force or revoked")
        revoke = actions.add_parser("revoke", help="revoke a school hub's credentials (a running central: within 30 s)")
        revoke.add_argument("id", help="the school hub's id (satchel hub schools list)")
        for action in (add, change, listing, revoke):
            action.add_argument("--data", required=True, help="the central hub's data directory")
        return cmd_schools(parser.parse_args(argv[1:]))
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
        parser.add_argument("--max-subscriptions", type=int, help="devices kept per curriculum, at most (default "
                            f"{push.MAX_SUBSCRIPTIONS:,}; kept when run again without it)")
        parser.add_argument("--allow-test-endpoint", action="append", default=[], metavar="URL",
                            help="FOR TESTS ONLY: also post to this https://HOST:PORT/ (a push service on loopback); "
                                 "running push-keys again without it removes it")
        return cmd_push_keys(parser.parse_args(argv[1:]))
    if argv[:1] == ["notify"]:
        parser = argparse.ArgumentParser(prog="satchel hub notify", description="Tell every subscribed device, in its language, "
                                         "that new lessons are here (satchel hub import does it after a new version).")
        parser.add_argument("sites", nargs="*", help="bundles served besides those imported (for the titles and versions)")
        parser.add_argument("--data", required=True, help="the hub's data directory")
        parser.add_argument("--curriculum", help="only the devices of this curriculum")
        parser.add_argument("--deadline", type=float, help="stop after this many seconds and report what was not sent "
                            f"(default {push.RUN_SECONDS:g} s + {push.RUN_SECONDS_PER_SUBSCRIPTION:g} s a subscription; "
                            f"each attempt ends after {push.ATTEMPT_SECONDS:g} s)")
        return cmd_notify(parser.parse_args(argv[1:]))
    if argv[:1] == ["set-password"]:
        parser = argparse.ArgumentParser(prog="satchel hub set-password",
                                         description="Set the teacher dashboard's password (asked twice; or one line on standard input).")
        parser.add_argument("--data", required=True, help="the hub's data directory")
        return cmd_set_password(parser.parse_args(argv[1:]))
    from . import connections  # (it imports uvicorn: only for serving)
    parser = argparse.ArgumentParser(prog="satchel hub", description="Serve built bundles to a school's devices and receive their progress.",
                                     epilog="First run `satchel hub init --data DIR`.")
    parser.add_argument("sites", nargs="*", help=f"bundles: folders built by `satchel build` or {SUFFIX} archives from `satchel pack` "
                        "(one is served at /, several at /<curriculum id>/), besides those imported into --data")
    parser.add_argument("--data", required=True, help="the hub's data directory (made by `satchel hub init`)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every network)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--tls-cert", help="certificate (PEM) for https (default: DATA/tls/cert.pem from `satchel hub cert`, if there)")
    parser.add_argument("--tls-key", help="its private key (PEM)")
    parser.add_argument("--public-name", help="the name phones open: warns at start if the certificate is not for it")
    parser.add_argument("--max-upload", type=int, default=DEFAULT_MAX_UPLOAD, help=f"largest progress file accepted, in bytes (default {DEFAULT_MAX_UPLOAD:,})")
    parser.add_argument("--workers", type=int, default=1, help="processes serving requests (a Raspberry Pi 4 has 4 cores; default 1)")
    parser.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDR",
                        help="a reverse proxy in front of the hub (an address or a network such as 10.0.0.0/8; repeatable): "
                             "only its X-Forwarded-For header is believed, for the sign-in limits. Default: none, every "
                             "request's own address counts")
    parser.add_argument("--max-connections", type=int, metavar="N",
                        help="open connections per process; at the cap, the one idle longest is closed for a new one "
                             "(default: 80 %% of the limit of open files, at most that limit - 100 and 10,000; the limit "
                             "is first raised to the hard one, up to 16,384)")
    parser.add_argument("--header-timeout", type=float, default=connections.HEADER_TIMEOUT, metavar="S",
                        help="seconds a request's headers may take, from the connection or the previous answer "
                             f"(default {connections.HEADER_TIMEOUT:g})")
    parser.add_argument("--body-timeout", type=float, default=connections.BODY_TIMEOUT, metavar="S",
                        help=f"seconds a request's body may take, plus 1 s per {connections.BODY_MIN_RATE // 1024} KB "
                             f"received; also how long an answer the device stops reading is kept (default {connections.BODY_TIMEOUT:g})")
    parser.add_argument("--log-level", default="warning")
    return cmd_serve(parser.parse_args(argv))
