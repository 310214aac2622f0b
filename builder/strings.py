"""Interface text of the learner app, per language, with English as the fallback."""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path

import yaml

from .frontmatter import SafeLoader

STRINGS_DIR = Path(__file__).parent / "strings"


@cache
def _load(path: Path) -> dict[str, str | dict]:
    """A strings file as {key: text or plural mapping}; meta keys (`_review`, any key starting with `_`) left out."""
    if not path.is_file():
        return {}
    loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=SafeLoader) or {}  # libyaml's: 10x faster
    return {str(k): {str(f): str(t) for f, t in v.items()} if isinstance(v, dict) else str(v)
            for k, v in loaded.items() if not str(k).startswith("_")}


def _normal_tag(tag: str) -> str:
    """A BCP 47 tag written one way: `sr_latn_rs` and `SR-LATN-RS` are `sr-Latn-RS`."""
    parts = [p for p in tag.replace("_", "-").split("-") if p]
    if not parts:
        return ""
    out = [parts[0].lower()]
    for part in parts[1:]:
        out.append(part.title() if len(part) == 4 and part.isalpha() else part.upper() if len(part) == 2 and part.isalpha() else part.lower())
    return "-".join(out)


def _script(tag: str) -> str | None:
    """The script a tag means when it does not say (zh-CN is zh-Hans, sr is sr-Cyrl): Babel, then CLDR likely subtags."""
    from babel import Locale, UnknownLocaleError
    from babel.core import get_global
    try:
        script = Locale.parse(tag, sep="-").script
    except (UnknownLocaleError, ValueError, TypeError):
        script = None
    if script:
        return script
    likely = get_global("likely_subtags")
    parts = tag.split("-")
    for key in ("_".join(parts[:2]), parts[0]):
        expanded = likely.get(key, "").split("_")
        if len(expanded) > 1 and len(expanded[1]) == 4:
            return expanded[1]
    return None


@cache
def lookup_chain(language: str) -> tuple[str, ...]:
    """The tags whose files make up a language, most specific first, by BCP 47 truncation:
    sr-Latn-RS, sr-Latn, sr. A tag without a script gets the one it implies before its bare
    language: zh-CN, zh-Hans-CN, zh-Hans, zh (so zh-TW never reads Simplified Chinese)."""
    tag = _normal_tag(language)
    if not tag:
        return ()
    parts = tag.split("-")
    chain = ["-".join(parts[:i]) for i in range(len(parts), 0, -1)]
    has_script = len(parts) > 1 and len(parts[1]) == 4 and parts[1].isalpha()
    script = None if has_script else _script(tag)
    if script:
        implied = [f"{parts[0]}-{script}-{parts[1]}"] if len(parts) > 1 else []
        chain[-1:-1] = [t for t in [*implied, f"{parts[0]}-{script}"] if t not in chain]
    return tuple(dict.fromkeys(chain))


def _files(folder: Path) -> dict[str, Path]:
    """The strings files of a folder by their tag in lower case, so `TET.yml` and `sr_latn.yml` are found."""
    if not folder.is_dir():
        return {}
    return {_normal_tag(p.stem).lower(): p for p in folder.glob("*.yml")}


def _layers(language: str, curriculum_root: Path | None, fallbacks) -> list[Path]:
    """The files that give a language its strings, most important first: for each tag of the
    language's chain, then of each declared fallback's, the curriculum's file before ours."""
    ours = _files(STRINGS_DIR)
    theirs = _files(Path(curriculum_root) / "strings") if curriculum_root is not None else {}
    layers = []
    for wanted in (language, *fallbacks):
        for tag in lookup_chain(wanted):
            layers += [files[tag.lower()] for files in (theirs, ours) if tag.lower() in files]
    return list(dict.fromkeys(layers))


def ui_strings(language: str, curriculum_root: Path | None = None, fallbacks=()) -> dict[str, str | dict]:
    """English, overlaid by each declared fallback language (tet -> pt), overlaid by the language's
    own files: ours and the curriculum's strings/<tag>.yml, the more specific tag on top."""
    strings = dict(_load(STRINGS_DIR / "en.yml"))
    for path in reversed(_layers(language, curriculum_root, tuple(fallbacks))):
        strings.update(_load(path))
    return strings


def missing_strings(language: str, curriculum_root: Path | None = None, fallbacks=()) -> list[str]:
    """The keys of en.yml that a learner in `language` would read in English: neither the language's
    own files (ours, the curriculum's) nor its declared fallbacks translate them. English has none."""
    english = _load(STRINGS_DIR / "en.yml")
    layers = _layers(language, curriculum_root, tuple(fallbacks))
    if any(_normal_tag(p.stem).lower().split("-")[0] == "en" for p in layers) or not lookup_chain(language):
        return []
    given = set().union(*(_load(p) for p in layers))
    return [key for key in english if key not in given]


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
    """`n` as the locale writes it: separators and, where the locale's default says so, digits.
    Pure, so cached: a dashboard page writes a few thousand numbers, mostly the same few."""
    if isinstance(n, bool) or not isinstance(n, (int, float)):  # uncached: keep whatever Babel does with these
        return _format_number(language, n)
    return _format_number_cached(language, type(n), n)


@lru_cache(maxsize=4096)
def _format_number_cached(language: str, kind: type, n: int | float) -> str:  # kind: 1 and 1.0 are equal keys, not equal output
    return _format_number(language, n)


def _format_number(language: str, n) -> str:
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
