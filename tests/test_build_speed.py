"""`satchel build` on several cores (builder/parallel.py) writes what the one-process build writes."""

from __future__ import annotations

import copy
import itertools
import subprocess
import sys
from pathlib import Path, PurePath

import markdown
import pytest
from mkdocs.exceptions import Abort, PluginError
from satchel.builder import DEMO_CURRICULUM, parallel
from satchel.builder.build import build
from satchel.builder.i18n_shim import _is_relative_to
from satchel.builder.plugin import SatchelPlugin
from satchel.builder.precompress import precompress


def _tree(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


def test_parallel_build_is_byte_identical_to_the_one_process_build(tmp_path, monkeypatch):
    together = tmp_path / "parallel"
    build(DEMO_CURRICULUM, together, show_progress=False)
    monkeypatch.setattr(parallel, "can_fork", lambda: False)
    alone = tmp_path / "one-process"
    build(DEMO_CURRICULUM, alone, show_progress=False)
    parallel_files, one_process_files = _tree(together), _tree(alone)
    assert sorted(parallel_files) == sorted(one_process_files)
    assert [name for name in parallel_files if parallel_files[name] != one_process_files[name]] == []


def test_an_error_in_a_language_process_is_raised_by_the_build(tmp_path, monkeypatch):
    original = SatchelPlugin.on_page_markdown

    def fail_in_french(self, markdown, page, config, files):
        if self.language == "fr":
            raise PluginError(f"{page.file.src_uri}: broken on purpose")
        return original(self, markdown, page, config, files)

    monkeypatch.setattr(SatchelPlugin, "on_page_markdown", fail_in_french)
    with pytest.raises(Abort, match="BuildError"):  # as mkdocs does with a plugin's error: logged, then Abort
        build(DEMO_CURRICULUM, tmp_path / "site", show_progress=False)


def test_a_failed_app_bundle_stops_the_languages_processes_and_says_why(tmp_path, monkeypatch):
    """The app's scripts are bundled while the languages' processes convert their pages: when that
    fails, the build fails with its error, and no language's process is left running or waiting."""
    import multiprocessing

    from satchel.builder.nodejs import NodeError

    before = set(multiprocessing.active_children())
    started = []

    def failing_start(self, config):
        def wait():
            started.extend(set(multiprocessing.active_children()) - before)
            raise NodeError("bundle-assets.js failed (exit 1): broken on purpose")
        return wait

    monkeypatch.setattr(SatchelPlugin, "start_assets", failing_start)
    with pytest.raises(NodeError, match="broken on purpose"):
        build(DEMO_CURRICULUM, tmp_path / "site", show_progress=False)
    assert started, "the languages' processes start before the bundle is waited for"
    assert [process for process in started if process.is_alive()] == []


def test_the_progress_bar_counts_every_page_of_every_language(tmp_path):
    result = subprocess.run([sys.executable, "-m", "satchel.builder.cli", "build", str(DEMO_CURRICULUM), "-o", str(tmp_path / "site"),
                             "--no-precompress"], capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 0, result.stderr
    total = result.stderr.split("Building pages: 100%|")[-1].split("[")[0].split()[-1]
    done, of = total.split("/")
    assert done == of


def test_precompress_leaves_files_already_compressed_and_unchanged(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    same, changed = site / "same.html", site / "changed.html"
    same.write_text("a" * 1000)
    changed.write_text("b" * 1000)
    precompress(site)
    digests = {"same.html": parallel.compress_file(site, same), "changed.html": parallel.compress_file(site, changed),
               "removed.html": "0"}
    (site / "removed.html.br").write_bytes(b"stale")
    changed.write_text("c" * 1000)
    (site / "same.html.br").write_bytes(b"kept")  # not rewritten: its source did not change
    assert precompress(site, digests) == 2
    assert (site / "same.html.br").read_bytes() == b"kept"
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "changed.html").write_text("c" * 1000)
    precompress(fresh)
    assert (site / "changed.html.br").read_bytes() == (fresh / "changed.html.br").read_bytes()
    assert not (site / "removed.html.br").exists()


def test_is_relative_to_answers_as_purepath_does():
    paths = ["en", "en/a.md", "en/", "./en/a", "/abs/en/x", "/abs/en", "/abs", "/", ".", "enx/a", "en/./a", "a//b",
             "zh-Hant/a", "/abs/en/", "a/..", "../en", "en/.", "tet"]
    for path, other in itertools.product(paths, paths):
        assert _is_relative_to(path, other) == PurePath(path).is_relative_to(other), (path, other)
    assert _is_relative_to(PurePath("en/a"), "en")


DOCUMENTS = [
    "# One\n\nText[^a] and more[^b].\n\n[^a]: First.\n[^b]: Second.\n\n## Same\n\nTerm\n:   Its definition.\n",
    "# Two\n\nAgain[^a].\n\n[^a]: Another first.\n\n## Same\n\n## Same\n\n!!! note \"Look\"\n    Inside.\n\n??? tip\n    Hidden.\n",
    "# Three\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nprint(1)\n```\n\n{: #kept .class }\nA paragraph.\n{: .para }\n\n"
    "<div markdown=\"1\">\n*inside*[^x]\n</div>\n\n[^x]: In html.\n\n[ref]: https://example.org\n",
    "# Four\n\nA [ref] link that the third page defined, and [^a] never defined here.\n\n## Same\n",
]


def test_a_reused_converter_writes_what_a_new_one_writes():
    from mkdocs.config.config_options import MarkdownExtensions
    from satchel.builder.markdown_reuse import _MarkdownModule
    from satchel.builder.site_config import MARKDOWN_EXTENSIONS

    option = MarkdownExtensions(builtins=["toc", "tables", "fenced_code"], configkey="mdx_configs")
    names = option.validate(copy.deepcopy(MARKDOWN_EXTENSIONS))  # mkdocs' validation empties the dicts it reads
    configs = {**option.configdata}
    reused, fresh = [], []
    for text in DOCUMENTS * 2:
        for out, make in ((reused, _MarkdownModule.Markdown), (fresh, markdown.Markdown)):
            md = make(extensions=names, extension_configs=configs)
            out.append((md.convert(text), md.toc_tokens))
    assert reused == fresh
