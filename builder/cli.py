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
    print(report(curriculum))
    return 0


def cmd_build(args) -> int:
    from mkdocs.exceptions import MkDocsException

    from .build import build
    from .nodejs import NodeError
    try:
        build(Path(args.curriculum), Path(args.output), fetch_remote=args.fetch_remote, precompress=args.precompress)
    except CurriculumError as err:
        print(str(err), file=sys.stderr)
        print("Nothing was built: fix the problems above, then build again.", file=sys.stderr)
        return 1
    except (MkDocsException, NodeError) as err:
        print(f"The build failed: {err}", file=sys.stderr)
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
    from .archive import SUFFIX, ArchiveError, pack
    output = Path(args.output or Path(args.site).resolve().name + SUFFIX)
    try:
        manifest = pack(Path(args.site), output)
    except (ArchiveError, OSError) as error:
        print(f"satchel pack: {error}", file=sys.stderr)
        return 1
    size = output.stat().st_size
    print(f"Wrote {output}: {manifest['curriculum']} {manifest['version']}, {len(manifest['files'])} files, "
          f"{size / 1e6:.1f} MB. Import it on a hub with `satchel hub import {output.name} --data DIR`.")
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["hub"]:  # its own commands: hub/cli.py
        from hub.cli import main as hub_main
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
    pack.set_defaults(run=cmd_pack)

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
