"""`satchel build` on several cores: each language is built by its own mkdocs build, in a forked
process, one more at once than there are cores. Each sends its search documents once its pages are
converted (the parent indexes them while the pages are written), then its pages' pack entries. The
parent makes the bundled scripts and writes the shared files meanwhile, then finishes the bundle once.

mkdocs-static-i18n builds its languages one after another inside one mkdocs build; a language's
pages do not depend on another language's build, so the output is the same, byte for byte.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import wait
from pathlib import Path

from mkdocs import utils as mkdocs_utils
from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config.defaults import MkDocsConfig

from . import bundle, i18n_shim
from .precompress import compress_file, wanted
from .search import start_index, text_files

PROGRESS_EVERY = 20  # a child reports its steps in batches: one message per page would cost more than the bar


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


class RemoteTraceback(Exception):
    """The traceback of an error raised in a language's process, shown as the cause of the error."""

    def __str__(self) -> str:
        return self.args[0]


def build_languages(config: MkDocsConfig, codes: list[str], progress=None, precompress: bool = False) -> dict[str, str]:
    """Build every language of `codes` (the default first) in its own process, then finish the bundle.
    `config` is loaded and its satchel plugin holds the curriculum; `progress(n)` counts steps. With
    `precompress`, each process then compresses its language's pages while the bundle is finished:
    returns what precompress.precompress needs to know of them."""
    plugin = config.plugins["satchel"]
    # The bundled scripts and stylesheet are made (in Node) while the first languages' Markdown is
    # converted; their URLs, which every page names, reach each language's process before it writes one.
    bundled = plugin.start_assets(config)
    mkdocs_utils.clean_directory(config.site_dir)  # what the first mkdocs build would do
    context = multiprocessing.get_context("fork")
    children = {}
    pending = list(codes)
    url_senders = []  # to the processes started before the bundled files were made

    def start_next() -> None:
        code = pending.pop(0)
        receiver, sender = context.Pipe(duplex=False)
        urls_in, urls_out = context.Pipe(duplex=False)
        process = context.Process(target=_build_one, args=(config, code, sender, urls_in, precompress), name=f"satchel-build-{code}")
        process.start()
        sender.close()
        urls_in.close()
        children[code] = (receiver, process)
        url_senders.append(urls_out)
        if plugin.assets is not None:
            _send_urls(url_senders, plugin.assets.urls)

    # One language more than there are cores (each process holds a language's pages: a curriculum in
    # twenty languages does not take twenty processes' memory at once). Three languages on two cores
    # all at once: 12.3-13.0 s against 15.2-15.3 s one after another, at 1,000 lessons (the last
    # language no longer builds alone on one core).
    for _ in range(min(len(codes), (os.cpu_count() or 1) + 1)):
        start_next()
    site = Path(config.site_dir)
    results, documents, compressed, succeeded = {}, {}, {}, False
    texts = ThreadPoolExecutor(max_workers=1)  # the search texts, compressed while the languages build
    compressing = []
    try:
        plugin.assets = bundled()
        _send_urls(url_senders, plugin.assets.urls)
        bundle.write_shared(plugin.curriculum, site)  # while the languages build
        while len(results) < len(codes):
            waiting = {receiver: code for code, (receiver, _) in children.items() if code not in results}
            for receiver in wait(list(waiting)):
                code = waiting[receiver]
                kind, value = _receive(code, children[code])
                if kind == "progress":
                    if progress is not None:
                        progress(value)
                elif kind == "documents":  # indexed while the language's pages are written and the others build
                    documents[code] = value
                    plugin.search_jobs[code] = start_index(code, value, site)
                    if precompress:
                        compressing += [(path, texts.submit(compress_file, site, path)) for path in text_files(code, site) if wanted(path)]
                else:
                    results[code] = value
                    if pending:
                        start_next()
        pages = {}
        for code in codes:  # in the order the one-process build fills them
            pages[code] = results[code]["pages"]
            plugin.search_documents[code] = documents[code]
            plugin.language_scripts[code] = results[code]["script"]
        bundle.finish(plugin.curriculum, site, pages, plugin.search_jobs, plugin.search_documents, plugin.assets, plugin.language_scripts)
        if precompress:
            for code in codes:
                compressed.update(_receive(code, children[code])[1])
            compressed.update((path.relative_to(site).as_posix(), digest.result()) for path, digest in compressing)
        succeeded = True
    finally:
        texts.shutdown(cancel_futures=not succeeded)
        for receiver, process in children.values():
            if not succeeded and process.is_alive():
                process.terminate()  # the build failed: the other languages' pages are not wanted
            process.join()
            receiver.close()
    return compressed


def _send_urls(senders: list, urls: dict) -> None:
    while senders:
        out = senders.pop()
        try:
            out.send(urls)
        except OSError:
            pass  # that language's process has stopped already: its own message says why
        finally:
            out.close()


def _receive(code: str, child) -> tuple[str, object]:
    """The next message from a language's process; its error is raised here."""
    receiver, process = child
    try:
        kind, value = receiver.recv()
    except EOFError:
        process.join()
        raise RuntimeError(f"Building language '{code}' stopped (exit code {process.exitcode}).") from None
    if kind == "error":
        error, remote_traceback = value
        raise error from RemoteTraceback(remote_traceback)
    return kind, value


def _build_one(config: MkDocsConfig, code: str, sender, urls_in, precompress: bool) -> None:
    """In the forked process: build `code` alone into the (already cleaned) site folder, send back what
    the parent needs for the bundle, then (while the parent finishes it) compress the language's pages.
    The bundled files' URLs come from `urls_in` once they are made: awaited before the first page is written."""
    steps = 0

    def count() -> None:
        nonlocal steps
        steps += 1
        if steps == PROGRESS_EVERY:
            sender.send(("progress", steps))
            steps = 0

    try:
        plugin = config.plugins["satchel"]
        plugin.progress = count
        plugin.finish_in_parent = True
        urls = plugin.asset_urls = {}  # what the pages' templates read, filled in before they run

        def before_writing() -> None:  # every page converted, none written: the parent indexes them meanwhile
            sender.send(("documents", plugin.search_documents.get(code, [])))
            urls.update(urls_in.recv())

        plugin.before_writing = before_writing
        i18n_shim.build_only(config.plugins["i18n"], code)
        _keep_site_dir()
        mkdocs_build(config)
        if steps:
            sender.send(("progress", steps))
        sender.send(("done", {
            "pages": bundle.page_entries(plugin.curriculum, plugin.pack_files[code], Path(config.site_dir)),  # hashed here, in parallel
            "script": plugin.language_scripts[code],
        }))
        if precompress:
            sender.send(("compressed", _compress_pages(Path(config.site_dir), plugin.pack_files[code])))
    except BaseException as error:  # noqa: BLE001 (sent to the parent, which raises it)
        remote = traceback.format_exc()
        try:
            pickle.dumps(error)
        except Exception:  # noqa: BLE001 (an error that cannot travel: its message does)
            error = RuntimeError(f"{type(error).__name__}: {error}")
        sender.send(("error", (error, remote)))
    finally:
        sender.close()
        sys.stdout.flush()
        sys.stderr.flush()


def _compress_pages(site: Path, files) -> dict[str, str]:
    """Compress this language's pages: only this process writes them (the files several languages
    share are left to the last pass, in the parent)."""
    pages = [Path(f.abs_dest_path) for f in files if f.is_documentation_page()]
    pages = [page for page in pages if page.is_relative_to(site) and wanted(page)]
    with ThreadPoolExecutor() as pool:
        digests = list(pool.map(lambda page: compress_file(site, page), pages))
    return {page.relative_to(site).as_posix(): digest for page, digest in zip(pages, digests, strict=True)}


def _keep_site_dir() -> None:
    """mkdocs empties the site folder at the start of every build: the parent has, once, and the other
    languages' processes are writing into it. mkdocs-static-i18n does the same around its own later
    builds (its on_post_build). Only this process, which builds one language and exits, sees it."""
    if not callable(getattr(mkdocs_utils, "clean_directory", None)):
        raise RuntimeError("mkdocs.utils.clean_directory is gone: builder/parallel.py needs updating for this mkdocs")
    mkdocs_utils.clean_directory = lambda directory: None
