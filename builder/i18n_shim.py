"""What Satchel must know of mkdocs-static-i18n's internals, in one place.

mkdocs-static-i18n 1.3 takes only two-letter languages (`RE_LOCALE`: 'en', 'pt-BR', 'zh-Hant'):
Tetum ('tet'), Filipino ('fil'), Central Kurdish ('ckb') and every other three-letter language are
refused, and so are tags such as 'sr-Latn-RS'. Satchel checks language tags itself (any well-formed
BCP 47 tag, builder/curriculum.py LANGUAGE_CODE_RE, in its canonical case), so the plugin's pattern is
replaced by ours before any build. The plugin reads the pattern at call time from the three modules
that hold it. Remove this when the plugin takes BCP 47 tags (or when Satchel stops using it).
"""

from __future__ import annotations

from mkdocs_static_i18n import config, folder, suffix

from .curriculum import LANGUAGE_CODE_RE


def install() -> None:
    for module in (config, folder, suffix):
        module.RE_LOCALE = LANGUAGE_CODE_RE


install()
