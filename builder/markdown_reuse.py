"""One Markdown converter per build process, reset between pages, instead of a new one per page.

mkdocs' Page.render makes a `markdown.Markdown` for every page: loading and registering the
extensions costs about half a millisecond a page, a quarter of the pages' Markdown time. mkdocs
has no hook for it, so this is a patch, the only one of mkdocs Satchel makes, guarded: it checks
that Page.render still builds its converter as mkdocs 1.6 does and fails loudly otherwise.

Why the output is the same: `Markdown.reset()` is what python-markdown asks for between documents
(it resets the stash, the references and every extension that keeps state), and the processors
Page.render registers on the converter for each page replace, by name, those of the page before.
"""

from __future__ import annotations

import inspect

import markdown
import mkdocs
from mkdocs.structure import pages

_converters: dict[tuple, markdown.Markdown] = {}


class _MarkdownModule:
    """What mkdocs.structure.pages sees as `markdown`: the module, with a Markdown that reuses."""

    def __getattr__(self, name: str):
        return getattr(markdown, name)

    @staticmethod
    def Markdown(extensions=(), extension_configs=None, **options) -> markdown.Markdown:  # noqa: N802 (markdown's name)
        configs = extension_configs or {}
        if options or not all(isinstance(e, str) for e in extensions):
            return markdown.Markdown(extensions=extensions, extension_configs=configs, **options)
        key = (tuple(extensions), repr(configs))
        converter = _converters.get(key)
        if converter is None:
            converter = _converters[key] = markdown.Markdown(extensions=list(extensions), extension_configs=configs)
            return converter  # new: reset already
        return converter.reset()


def install() -> None:
    """Make Page.render reuse converters (idempotent)."""
    if isinstance(pages.markdown, _MarkdownModule):
        return
    source = inspect.getsource(pages.Page.render)
    if (not mkdocs.__version__.startswith("1.6.") or pages.markdown is not markdown or "md = markdown.Markdown(" not in source
            or "._register(md)" not in source):
        raise RuntimeError(f"mkdocs {mkdocs.__version__} renders pages differently from 1.6: builder/markdown_reuse.py "
                           "needs checking against its Page.render")
    pages.markdown = _MarkdownModule()
