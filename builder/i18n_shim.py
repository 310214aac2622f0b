"""What Satchel must know of mkdocs-static-i18n's internals, in one place.

Four things, all read by the plugin at call time from its modules, so replacing them is enough:
- mkdocs-static-i18n 1.3 takes only two-letter languages (`RE_LOCALE`: 'en', 'pt-BR', 'zh-Hant'):
  Tetum ('tet'), Filipino ('fil'), Central Kurdish ('ckb') and every other three-letter language are
  refused, and so are tags such as 'sr-Latn-RS'. Satchel checks language tags itself (any BCP 47
  tag, builder/curriculum.py LANGUAGE_CODE_RE, in its canonical case): the pattern is ours.
- Its folder layout flattens the language's navigation section by comparing the section's title
  with `language.capitalize()`: mkdocs titles a folder 'zh-CN' as 'zh CN', so a 'zh-CN' build that
  falls back to a default-language page lost its home page ("Could not find a homepage for locale
  'zh-CN'", and a strict build stops). The sections are matched by mkdocs' own title of the folder.
- Its `is_relative_to` builds two PurePaths for each of the thousands of calls a build makes; plain
  relative or absolute strings are compared as strings (the same answer), anything else as before.
- It finds, for every file, the same file in every other language ("alternates"), for material's
  language selector and its sitemap: Satchel uses neither (theme/base.html links the languages from
  the curriculum; no sitemap), and the search took about 6% of a language's build. Each file keeps
  itself as its one alternate.
And one thing Satchel asks of it: `build_only` makes a mkdocs build build one language, so that
`satchel build` builds each language in its own process (builder/parallel.py).
Remove this when the plugin takes BCP 47 tags (or when Satchel stops using it).
"""

from __future__ import annotations

import inspect
from pathlib import PurePath

import mkdocs_static_i18n
from mkdocs.utils import dirname_to_title
from mkdocs_static_i18n import config, folder, reconfigure, suffix

from .curriculum import LANGUAGE_CODE_RE


def _reconfigure_navigation(i18n_plugin, nav):
    """folder.reconfigure_navigation, with language sections found by mkdocs' title of their folder."""
    titles = {dirname_to_title(i18n_plugin.current_language), dirname_to_title(i18n_plugin.default_language)}
    items = []
    for section in nav.items:
        if section.is_top_level and section.is_section and section.title in titles:
            items.extend(section.children)
    if items:
        nav.items = sorted(items, key=lambda item: item.title or "")
    return nav


def _plain(path: str) -> bool:
    """Whether PurePath would keep `path` as it is written: no '.' part, no empty part, no trailing '/'."""
    return (path not in ("", ".") and "//" not in path and "/./" not in path and not path.startswith("./")
            and not path.endswith(("/", "/.")))


def _is_relative_to(path, other) -> bool:
    """mkdocs_static_i18n.is_relative_to, `PurePath(path).is_relative_to(other)`, for strings without paths."""
    if type(path) is str and type(other) is str and _plain(path) and _plain(other):
        return path == other or path.startswith(f"{other}/")
    return PurePath(path).is_relative_to(other)


def build_only(i18n_plugin, code: str) -> None:
    """Make the next mkdocs build build `code` alone. The plugin builds its `current_language` in the
    build it runs in, then, from its on_post_build, each other language, unless `building` says that
    loop is under way already."""
    for name in ("current_language", "building"):
        if not hasattr(i18n_plugin, name):
            raise RuntimeError(f"mkdocs-static-i18n has no '{name}' any more: builder/i18n_shim.py build_only needs updating")
    if code not in i18n_plugin.build_languages:
        raise ValueError(f"'{code}' is not one of mkdocs-static-i18n's languages {i18n_plugin.build_languages}")
    i18n_plugin.current_language = code
    i18n_plugin.building = True


def install() -> None:
    for module in (config, folder, suffix):
        module.RE_LOCALE = LANGUAGE_CODE_RE
    folder.reconfigure_navigation = _reconfigure_navigation
    for module in (folder, reconfigure):
        if getattr(module, "is_relative_to", None) is not mkdocs_static_i18n.is_relative_to:
            raise RuntimeError(f"{module.__name__}.is_relative_to changed: builder/i18n_shim.py needs updating")
        module.is_relative_to = _is_relative_to
    plugin = reconfigure.ExtendedPlugin
    if plugin.reconfigure_files_alternates is not _no_alternates:
        if "reconfigure_files_alternates" not in plugin.__dict__ or "alternates" not in inspect.getsource(plugin.reconfigure_files):
            raise RuntimeError("mkdocs-static-i18n finds alternates differently: builder/i18n_shim.py needs updating")
        plugin.reconfigure_files_alternates = _no_alternates


def _no_alternates(self, *args, **kwargs) -> None:
    """ExtendedPlugin.reconfigure_files_alternates, skipped: Satchel reads no file's alternates."""


install()
