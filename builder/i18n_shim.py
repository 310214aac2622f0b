"""What Satchel must know of mkdocs-static-i18n's internals, in one place.

Two things, both read by the plugin at call time from its modules, so replacing them is enough:
- mkdocs-static-i18n 1.3 takes only two-letter languages (`RE_LOCALE`: 'en', 'pt-BR', 'zh-Hant'):
  Tetum ('tet'), Filipino ('fil'), Central Kurdish ('ckb') and every other three-letter language are
  refused, and so are tags such as 'sr-Latn-RS'. Satchel checks language tags itself (any BCP 47
  tag, builder/curriculum.py LANGUAGE_CODE_RE, in its canonical case): the pattern is ours.
- Its folder layout flattens the language's navigation section by comparing the section's title
  with `language.capitalize()`: mkdocs titles a folder 'zh-CN' as 'zh CN', so a 'zh-CN' build that
  falls back to a default-language page lost its home page ("Could not find a homepage for locale
  'zh-CN'", and a strict build stops). The sections are matched by mkdocs' own title of the folder.
Remove this when the plugin takes BCP 47 tags (or when Satchel stops using it).
"""

from __future__ import annotations

from mkdocs.utils import dirname_to_title
from mkdocs_static_i18n import config, folder, suffix

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


def install() -> None:
    for module in (config, folder, suffix):
        module.RE_LOCALE = LANGUAGE_CODE_RE
    folder.reconfigure_navigation = _reconfigure_navigation


install()
