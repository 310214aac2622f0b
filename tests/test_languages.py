"""Any BCP 47 language: what `satchel check` accepts, `satchel build` builds: three-letter languages,
regions, scripts, in any case, each in its canonical form everywhere in the bundle."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import yaml
from satchel.builder import DEMO_CURRICULUM
from satchel.builder.build import build
from satchel.builder.curriculum import canonical_tag, load_curriculum

# As an author may write them in curriculum.yml -> the canonical tag, and the direction.
TAGS = {"tet": ("tet", "ltr"), "fil": ("fil", "ltr"), "ckb": ("ckb", "rtl"), "pt-tl": ("pt-TL", "ltr"), "zh-cn": ("zh-CN", "ltr"),
        "sr-latn": ("sr-Latn", "ltr"), "SR-Cyrl": ("sr-Cyrl", "ltr"), "zh-Hant": ("zh-Hant", "ltr")}


def curriculum_in(folder, tags: dict) -> None:
    """The demo with its French copied to a folder per tag (named canonically), declared as written."""
    shutil.copytree(DEMO_CURRICULUM, folder)
    config = yaml.safe_load((folder / "curriculum.yml").read_text(encoding="utf-8"))
    for written, (canonical, _) in tags.items():
        shutil.copytree(folder / "fr", folder / canonical)
        config["languages"].append({"code": written, "name": f"Language {canonical}"})
        config["title"][written] = f"School {canonical}"
    (folder / "curriculum.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


@pytest.mark.parametrize("written, canonical", [("zh-cn", "zh-CN"), ("ZH_hant_tw", "zh-Hant-TW"), ("TET", "tet"), ("sr-latn-rs", "sr-Latn-RS"),
                                                ("es-419", "es-419"), ("sl-rozaj", "sl-rozaj")])
def test_tags_take_their_canonical_case(written, canonical):
    assert canonical_tag(written) == canonical


def test_what_check_accepts_build_builds_in_every_language_form(tmp_path):
    folder = tmp_path / "course"
    curriculum_in(folder, TAGS)
    curriculum, problems = load_curriculum(folder)
    assert problems == [], problems
    assert [lang.code for lang in curriculum.languages][3:] == [canonical for canonical, _ in TAGS.values()]

    site = tmp_path / "site"
    build(folder, site, show_progress=False)
    for canonical, direction in TAGS.values():
        home = (site / canonical / "index.html").read_text(encoding="utf-8")
        assert re.search(rf'<html lang="{re.escape(canonical)}" dir="{direction}">', home), canonical
        manifest = json.loads((site / canonical / "manifest.webmanifest").read_text(encoding="utf-8"))
        assert (manifest["lang"], manifest["dir"]) == (canonical, direction)
        assert (site / "satchel" / "packs" / f"{canonical}.json").is_file(), canonical
        assert (site / "satchel" / "search" / canonical / "titles.json").is_file(), canonical
        assert list((site / "satchel" / "search" / canonical / "index").glob("*.json")), canonical
        assert f'hreflang="{canonical}"' in (site / "index.html").read_text(encoding="utf-8")


def test_a_folder_in_another_case_is_named_with_its_fix(tmp_path):
    folder = tmp_path / "course"
    curriculum_in(folder, {"zh-cn": ("zh-cn", "ltr")})  # the folder as written, not canonical
    _, problems = load_curriculum(folder)
    assert [(p.path.name, p.message) for p in problems] == [
        ("zh-cn", "is the folder of language 'zh-CN': rename it to 'zh-CN' (language folders are named by the tag in its canonical case, as URLs are)")]


@pytest.mark.parametrize("bad", ["english", "e", "en--GB", "x-private", "en-GB-u-ca-buddhist", "zh CN"])
def test_a_tag_that_is_not_bcp_47_is_refused_with_examples(tmp_path, bad):
    folder = tmp_path / "course"
    shutil.copytree(DEMO_CURRICULUM, folder)
    config = yaml.safe_load((folder / "curriculum.yml").read_text(encoding="utf-8"))
    config["languages"].append({"code": bad, "name": "Bad"})
    (folder / "curriculum.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    _, problems = load_curriculum(folder)
    assert any(f"language code '{bad}' is not a BCP 47 language tag" in p.message and "'tet'" in p.message for p in problems), problems


def test_a_language_without_strings_falls_back_along_its_declared_chain(tmp_path):
    """Filipino has no interface strings in Satchel: the check says so, and with `fallback: pt` its
    pages speak Portuguese (then English for what Portuguese lacks), never a silent English."""
    from satchel.builder.coverage import report
    from satchel.builder.strings import ui_strings
    folder = tmp_path / "course"
    curriculum_in(folder, {"fil": ("fil", "ltr")})
    curriculum, problems = load_curriculum(folder)
    assert problems == []
    said = report(curriculum)
    assert re.search(r"  fil +\d+ strings, such as '\w+': add strings/fil.yml", said), said

    config = yaml.safe_load((folder / "curriculum.yml").read_text(encoding="utf-8"))
    config["languages"][-1]["fallback"] = "PT"
    (folder / "curriculum.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    curriculum, problems = load_curriculum(folder)
    assert problems == [] and curriculum.language("fil").fallbacks == ("pt",)
    assert "add strings/fil.yml" not in report(curriculum), "Portuguese stands in"
    site = tmp_path / "site"
    build(folder, site, show_progress=False)
    portuguese = ui_strings("pt")["skip"]
    assert portuguese != ui_strings("en")["skip"]
    assert f'class="md-skip">{portuguese}</a>' in (site / "fil" / "index.html").read_text(encoding="utf-8")


def test_a_language_with_subtags_missing_a_lesson_still_builds(tmp_path):
    """mkdocs titles the folder 'zh-CN' as 'zh CN': a language whose build falls back to a default
    language's lesson must keep its home page (builder/i18n_shim.py)."""
    folder = tmp_path / "course"
    tags = {"zh-CN": ("zh-CN", "ltr"), "pt-TL": ("pt-TL", "ltr"), "sr-Latn": ("sr-Latn", "ltr"), "tet": ("tet", "ltr")}
    curriculum_in(folder, tags)
    lesson = "mathematics/fractions/comparing-fractions.md"
    for canonical, _ in tags.values():
        (folder / canonical / lesson).unlink()
    curriculum, problems = load_curriculum(folder)
    assert problems == []
    site = tmp_path / "site"
    build(folder, site, show_progress=False)
    for canonical, _ in tags.values():
        page = (site / canonical / lesson.removesuffix(".md") / "index.html").read_text(encoding="utf-8")
        assert 'class="satchel-fallback"' in page, canonical  # the English lesson, with its notice
