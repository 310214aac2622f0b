"""Interface text of the learner app, per language, with English as the fallback."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

STRINGS_DIR = Path(__file__).parent / "strings"


@cache
def _load(path: Path) -> dict[str, str | dict]:
    if not path.is_file():
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): {str(f): str(t) for f, t in v.items()} if isinstance(v, dict) else str(v) for k, v in loaded.items()}


def ui_strings(language: str, curriculum_root: Path | None = None) -> dict[str, str | dict]:
    """English, overlaid by our translation, overlaid by the curriculum's own strings/<language>.yml."""
    strings = dict(_load(STRINGS_DIR / "en.yml"))
    strings.update(_load(STRINGS_DIR / f"{language.split('-')[0]}.yml"))
    strings.update(_load(STRINGS_DIR / f"{language}.yml"))
    if curriculum_root is not None:
        strings.update(_load(Path(curriculum_root) / "strings" / f"{language}.yml"))
    return strings


# Plurals and numbers. A string may be one text, or a mapping of CLDR plural categories
# (zero, one, two, few, many, other; `other` is required) with an optional `plural` naming the
# value that chooses the form (default `n`):
#     lessons: {one: "{n} lesson", other: "{n} lessons"}
#     progress_count: {plural: total, one: "{done} of {total} lesson done", other: "{done} of {total} lessons done"}
# The browser does the same with Intl.PluralRules and Intl.NumberFormat (theme/assets/satchel/common.js).

PLURAL_CATEGORIES = ("zero", "one", "two", "few", "many", "other")
# The zero of each decimal numbering system a CLDR locale may use by default; Babel formats the
# separators of the locale's numbering system but keeps ASCII digits.
_DIGIT_ZERO = {"arab": 0x0660, "arabext": 0x06F0, "beng": 0x09E6, "deva": 0x0966, "gujr": 0x0AE6, "guru": 0x0A66,
               "khmr": 0x17E0, "knda": 0x0CE6, "laoo": 0x0ED0, "mlym": 0x0D66, "mymr": 0x1040, "orya": 0x0B66,
               "taml": 0x0BE6, "telu": 0x0C66, "thai": 0x0E50, "tibt": 0x0F20}


@cache
def _locale(language: str):
    """Babel's locale for a BCP 47 tag, else for its language, else None (root rules: 'other' only)."""
    from babel import Locale, UnknownLocaleError
    for tag in (language, language.split("-")[0]):
        try:
            return Locale.parse(tag, sep="-")
        except (UnknownLocaleError, ValueError):
            continue
    return None


def plural_category(language: str, n: int | float) -> str:
    locale = _locale(language)
    return locale.plural_form(n) if locale is not None else "other"


def format_number(language: str, n: int | float) -> str:
    """`n` as the locale writes it: separators and, where the locale's default says so, digits."""
    from babel.numbers import format_decimal
    locale = _locale(language)
    if locale is None:
        return format_decimal(n, locale="en")
    text = format_decimal(n, locale=locale, numbering_system="default")
    zero = _DIGIT_ZERO.get(locale.default_numbering_system)
    return text.translate({ord("0") + d: zero + d for d in range(10)}) if zero else text


def render(text: str | dict, language: str, /, **values) -> str:
    """A string filled in: the plural form chosen by the counted value, numbers as the locale writes them."""
    if isinstance(text, dict):
        counted = values.get(str(text.get("plural", "n")))
        form = plural_category(language, counted) if isinstance(counted, (int, float)) else "other"
        text = text.get(form) or text["other"]
    if not values:
        return text
    shown = {k: format_number(language, v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for k, v in values.items()}
    return text.format(**shown)
