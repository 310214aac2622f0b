"""The interface in every language Satchel ships: each file of builder/strings and hub/strings has
English's keys, placeholders and the plural forms of its language; the lookup of a language's files
by BCP 47 tag (sr-Latn-RS, zh-CN, TET, declared fallbacks); and the strings a language leaves to English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from satchel.builder.strings import PLURAL_CATEGORIES, STRINGS_DIR, _locale, lookup_chain, missing_strings, render, ui_strings

HUB_STRINGS_DIR = Path(__file__).parent.parent / "hub" / "strings"
SIDES = {"app": STRINGS_DIR, "hub": HUB_STRINGS_DIR}
NEW_LANGUAGES = ("pt", "es", "tet", "sq", "sr-Latn", "sr-Cyrl", "sn", "sw", "hi", "lo", "zh-Hans")
COUNTS = (0, 1, 2, 5, 11, 100)
PLACEHOLDER = re.compile(r"\{(\w+)\}")
LISTS = ("progress_picture_names", "progress_colour_names")  # "|"-separated, one name per picture or colour

FILES = [(side, path.stem) for side, folder in SIDES.items() for path in sorted(folder.glob("*.yml")) if path.stem != "en"]


def raw(side: str, language: str) -> dict:
    return yaml.safe_load((SIDES[side] / f"{language}.yml").read_text(encoding="utf-8"))


def texts(side: str, language: str) -> dict:
    """A file's strings, its meta keys (`_review`) left out."""
    return {k: v for k, v in raw(side, language).items() if not k.startswith("_")}


def categories(language: str) -> set[str]:
    """The CLDR plural categories of a language as the build resolves it; `other` only where Babel has none (Tetum)."""
    locale = _locale(language)
    return ({"other"} | set(locale.plural_form.tags)) if locale is not None else {"other"}


def forms(text) -> list[str]:
    return [t for f, t in text.items() if f != "plural"] if isinstance(text, dict) else [text]


# The files

def test_satchel_ships_every_new_language_on_both_sides():
    for side in SIDES:
        assert {language for s, language in FILES if s == side} >= set(NEW_LANGUAGES), side


@pytest.mark.parametrize(("side", "language"), FILES)
def test_a_language_file_has_exactly_the_keys_of_english(side, language):
    english, own = texts(side, "en"), texts(side, language)
    assert set(own) == set(english), f"missing {sorted(set(english) - set(own))}, extra {sorted(set(own) - set(english))}"


@pytest.mark.parametrize(("side", "language"), FILES)
def test_every_string_keeps_the_placeholders_of_english(side, language):
    """A plain string has exactly English's placeholders; in a plural mapping `other` has them all and
    a narrower form may leave the count out (Arabic writes "one lesson" in words). A string that English
    writes once may be a plural mapping in a language that needs it ("{n} min", Arabic's minutes), and
    the reverse where a phrasing needs no agreement (Arabic's upload_stored)."""
    english = texts(side, "en")
    for key, text in texts(side, language).items():
        wanted = set(PLACEHOLDER.findall(" ".join(forms(english[key]))))
        if isinstance(english[key], dict) and language in NEW_LANGUAGES:
            assert isinstance(text, dict), (key, "a count in English is a mapping here, its forms in view of a translator")
        if isinstance(text, dict):  # any of the values may choose the form (French counts the lessons done)
            assert text.get("plural", "n") in wanted, (key, "the form is chosen by one of the values")
            assert set(PLACEHOLDER.findall(text["other"])) == wanted, (key, "other")
            assert all(set(PLACEHOLDER.findall(t)) <= wanted for t in forms(text)), key
        else:
            assert set(PLACEHOLDER.findall(text)) == wanted, key
        if key in LISTS:
            assert text.count("|") == english[key].count("|"), (key, "one name for each picture or colour")


@pytest.mark.parametrize(("side", "language"), FILES)
def test_plural_mappings_have_the_categories_of_their_language(side, language):
    """New languages: exactly Babel's categories (Serbian one/few/other, Portuguese one/many/other,
    Lao and Chinese other, Tetum `other` as the root rules). fr and ar keep their own test's rule."""
    wanted = categories(language)
    for key, text in texts(side, language).items():
        if not isinstance(text, dict):
            continue
        given = set(text) - {"plural"}
        assert "other" in given and given <= set(PLURAL_CATEGORIES), key
        if language in NEW_LANGUAGES:
            assert given == wanted, (key, f"has {sorted(given)}, {language} uses {sorted(wanted)}")


@pytest.mark.parametrize(("side", "language"), [(s, lang) for s in SIDES for lang in NEW_LANGUAGES])
def test_machine_made_files_say_so_where_a_tool_can_read_it(side, language):
    """`_review: machine` (nothing checked yet) or `_review: [keys still to check]`; absent once reviewed."""
    review = raw(side, language).get("_review")
    english = texts(side, "en")
    assert review == "machine" or (isinstance(review, list) and set(review) <= set(english)), review
    assert "_review" not in ui_strings(language), "meta keys are not strings"


@pytest.mark.parametrize(("side", "language"), [(s, lang) for s in SIDES for lang in NEW_LANGUAGES])
def test_every_count_renders_for_every_number(side, language):
    for key, text in texts(side, language).items():
        if not isinstance(text, dict):
            continue
        counted = text.get("plural", "n")
        names = set(PLACEHOLDER.findall(text["other"]))
        for n in COUNTS:
            shown = render(text, language, **{name: n if name == counted else 3 if name in {"known", "total", "tried"} else "Amina"
                                               for name in names})
            assert shown and "{" not in shown, (key, n, shown)


RENDERED = {  # lessons, n in COUNTS
    "pt": ["0 lição", "1 lição", "2 lições", "5 lições", "11 lições", "100 lições"],
    "es": ["0 lecciones", "1 lección", "2 lecciones", "5 lecciones", "11 lecciones", "100 lecciones"],
    "sr-Latn": ["0 lekcija", "1 lekcija", "2 lekcije", "5 lekcija", "11 lekcija", "100 lekcija"],
    "sr-Cyrl": ["0 лекција", "1 лекција", "2 лекције", "5 лекција", "11 лекција", "100 лекција"],
    "sw": ["masomo 0", "somo 1", "masomo 2", "masomo 5", "masomo 11", "masomo 100"],
    "tet": ["lisaun 0", "lisaun 1", "lisaun 2", "lisaun 5", "lisaun 11", "lisaun 100"],
    "zh-Hans": ["0 节课", "1 节课", "2 节课", "5 节课", "11 节课", "100 节课"],
}


@pytest.mark.parametrize("language", RENDERED)
def test_counts_take_the_form_their_language_gives_them(language):
    strings = ui_strings(language)
    assert [render(strings["lessons"], language, n=n) for n in COUNTS] == RENDERED[language]


def test_serbian_says_21_like_1_and_22_like_2_and_a_million_in_portuguese_takes_de():
    assert render(ui_strings("sr-Latn")["lessons"], "sr-Latn", n=21) == "21 lekcija"
    assert render(ui_strings("sr-Latn")["lessons"], "sr-Latn", n=22) == "22 lekcije"
    assert render(ui_strings("pt")["lessons"], "pt", n=1_000_000) == "1.000.000 de lições"


# Finding a language's files

def test_a_tag_is_looked_up_by_bcp47_truncation_with_the_script_it_implies():
    assert lookup_chain("sr-Latn-RS") == ("sr-Latn-RS", "sr-Latn", "sr")
    assert lookup_chain("zh-CN") == ("zh-CN", "zh-Hans-CN", "zh-Hans", "zh")
    assert lookup_chain("zh-TW")[:3] == ("zh-TW", "zh-Hant-TW", "zh-Hant")
    assert lookup_chain("sr") == ("sr-Cyrl", "sr"), "CLDR: Serbian alone is written in Cyrillic"
    assert lookup_chain("SR_latn") == ("sr-Latn", "sr")


def test_a_regional_or_script_tag_reads_the_file_it_means():
    latin, cyrillic = ui_strings("sr-Latn")["menu"], ui_strings("sr-Cyrl")["menu"]
    assert (latin, cyrillic) == ("Meni", "Мени")
    assert ui_strings("sr-Latn-RS")["menu"] == latin
    assert ui_strings("sr-ME")["menu"] == latin, "Montenegro writes Serbian in Latin script"
    assert ui_strings("sr")["menu"] == cyrillic
    assert ui_strings("zh-CN")["menu"] == ui_strings("zh")["menu"] == ui_strings("zh-Hans")["menu"] == "菜单"
    assert ui_strings("zh-TW")["menu"] == "Menu", "Traditional Chinese is not Simplified: English until a file exists"
    assert ui_strings("pt-BR")["home"] == ui_strings("pt")["home"] == "Início"


def test_tags_and_file_names_match_whatever_their_case(tmp_path):
    assert ui_strings("TET")["home"] == ui_strings("tet")["home"] == "Uma"
    (tmp_path / "strings").mkdir()
    (tmp_path / "strings" / "TET.yml").write_text("home: Uma ida\n", encoding="utf-8")
    (tmp_path / "strings" / "sr_latn.yml").write_text("home: Naslovna\n", encoding="utf-8")
    assert ui_strings("tet", tmp_path)["home"] == "Uma ida"
    assert ui_strings("sr-Latn-RS", tmp_path)["home"] == "Naslovna"


def test_the_more_specific_tag_wins_whoever_ships_it(tmp_path):
    """A curriculum's bare sr.yml (Cyrillic, as CLDR reads sr) does not cover our Latin file for sr-Latn."""
    (tmp_path / "strings").mkdir()
    (tmp_path / "strings" / "sr.yml").write_text("menu: Мени (наш)\nskip: Прескочи\n", encoding="utf-8")
    latin = ui_strings("sr-Latn", tmp_path)
    assert latin["menu"] == "Meni" and latin["skip"] == "Pređi na lekciju"
    assert ui_strings("sr-Cyrl", tmp_path)["menu"] == "Мени", "our sr-Cyrl is more specific than their sr"
    (tmp_path / "strings" / "sr-Latn.yml").write_text("menu: Naš meni\n", encoding="utf-8")
    assert ui_strings("sr-Latn", tmp_path)["menu"] == "Naš meni", "at the same tag the curriculum's file wins"


def test_declared_fallbacks_come_after_the_language_and_before_english(tmp_path):
    (tmp_path / "strings").mkdir()
    (tmp_path / "strings" / "mgp.yml").write_text("home: Ghar\n", encoding="utf-8")  # a language Satchel lacks
    strings = ui_strings("mgp", tmp_path, fallbacks=["pt"])
    assert strings["home"] == "Ghar", "the language's own string first"
    assert strings["menu"] == ui_strings("pt")["menu"] and strings["start"] == "Começar", "then the fallback's"
    assert ui_strings("mgp", tmp_path, fallbacks=["xx", "es"])["start"] == "Empezar", "an unknown fallback is passed over"
    assert ui_strings("mgp", tmp_path)["start"] == "Start", "no fallback declared: English"
    assert ui_strings("tet", fallbacks=("pt",))["home"] == "Uma", "Tetum's own before Portuguese"
    assert ui_strings("fr") == ui_strings("fr", None, ()), "the old signature still works"


# What a language leaves to English

def test_missing_strings_are_the_english_keys_no_file_of_the_language_gives(tmp_path):
    english = list(texts("app", "en"))
    assert missing_strings("en") == missing_strings("en-GB") == []
    for language in (*NEW_LANGUAGES, "fr", "ar", "sr-Latn-RS", "zh-CN", "TET"):
        assert missing_strings(language) == [], language
    assert missing_strings("mgp") == english, "a language with no file misses everything, in en.yml's order"
    assert missing_strings("zh-TW") == english
    (tmp_path / "strings").mkdir()
    (tmp_path / "strings" / "mgp.yml").write_text("_review: machine\nhome: Ghar\nmenu: Menu\n", encoding="utf-8")
    missing = missing_strings("mgp", tmp_path)
    assert len(missing) == len(english) - 2 and "home" not in missing and "menu" not in missing and "_review" not in missing
    assert missing_strings("mgp", tmp_path, fallbacks=["pt"]) == [], "a declared fallback gives the rest"
    (tmp_path / "strings" / "pt-TL.yml").write_text("home: Início\n", encoding="utf-8")
    assert missing_strings("pt-TL", tmp_path) == [], "pt-TL has Satchel's pt under its own file"
