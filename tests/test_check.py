"""`satchel check` and `satchel build` report each kind of problem with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from satchel.builder.cli import main
from satchel.builder.curriculum import load_curriculum

CURRICULUM_YML = """\
id: tiny
version: "1"
title: {en: Tiny school, fr: Petite école}
languages:
  - {code: en, name: English, default: true}
  - {code: fr, name: Français}
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def lesson(title: str = "Halves", extra: str = "", body: str = "Cut the bread in two.\n") -> str:
    return f"---\ntitle: {title}\n{extra}---\n\n{body}"


def valid_files() -> dict[str, str]:
    return {
        "curriculum.yml": CURRICULUM_YML,
        "en/maths/index.md": "---\ntitle: Maths\n---\n",
        "en/maths/fractions/index.md": "---\ntitle: Fractions\nillustration: pie.svg\n---\n",
        "en/maths/fractions/pie.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
        "en/maths/fractions/halves.md": lesson(extra="minutes: 10\norder: 1\n"),
        "en/maths/fractions/quarters.md": lesson("Quarters", "prerequisites:\n  - maths/fractions/halves\n", "See [halves](halves.md).\n"),
        "fr/maths/index.md": "---\ntitle: Maths\n---\n",
        "fr/maths/fractions/halves.md": lesson("Les moitiés"),
    }


def problems_of(root: Path) -> list[str]:
    _, problems = load_curriculum(root)
    return [p.format(root) for p in problems]


def test_a_valid_curriculum_has_no_problems(tmp_path):
    root = write(tmp_path / "tiny", valid_files())
    curriculum, problems = load_curriculum(root)
    assert problems == []
    assert [lesson.id for lesson in curriculum.lessons] == ["maths/fractions/halves", "maths/fractions/quarters"]
    assert curriculum.lessons[0].has("fr") and not curriculum.lessons[1].has("fr")


@pytest.mark.parametrize("name, text, expected", [
    ("en/maths/fractions/halves.md", "---\ntitle: Halves\nminutes: [10\n---\nText\n",
     "tiny/en/maths/fractions/halves.md:3: front matter is not valid YAML"),
    ("en/maths/fractions/halves.md", lesson(extra="tilte: Oops\n"),
     "tiny/en/maths/fractions/halves.md:3: unknown key 'tilte' in lesson front matter (allowed: minutes, objectives, order, prerequisites, title)"),
    ("en/maths/fractions/halves.md", "---\nminutes: 5\n---\nText\n",
     "tiny/en/maths/fractions/halves.md:1: lesson has no 'title': add 'title: ...' to its front matter"),
    ("en/maths/fractions/halves.md", "Just text, no front matter\n",
     "tiny/en/maths/fractions/halves.md:1: has no front matter: start the file with a '---' line"),
    ("en/maths/fractions/halves.md", lesson(extra="minutes: ten\n"),
     "tiny/en/maths/fractions/halves.md:3: 'minutes' must be a whole number, such as 3"),
    ("es/maths/fractions/halves.md", lesson("Mitades"),
     "tiny/es: folder 'es' is not a declared language: add it to 'languages' in curriculum.yml"),
    ("en/maths/fractions/halves.md", lesson(body="Line one.\n\nSee [quarters](quater.md).\n"),
     "tiny/en/maths/fractions/halves.md:7: link 'quater.md' points to a file that does not exist (looked for en/maths/fractions/quater.md)"),
    ("en/maths/fractions/halves.md", lesson(body="![Half a pie](half.svg)\n"),
     "tiny/en/maths/fractions/halves.md:5: image 'half.svg' points to a file that does not exist"),
    ("en/maths/fractions/halves.md", lesson(body="![Pie](https://example.org/pie.png)\n"),
     "tiny/en/maths/fractions/halves.md:5: image 'https://example.org/pie.png' loads from another site"),
    ("en/maths/fractions/halves.md", lesson(body="[Home](/maths/)\n"),
     "tiny/en/maths/fractions/halves.md:5: link '/maths/' starts with '/': use a path relative to this file"),
    ("en/maths/fractions/Halves.md", lesson("Halves again"),
     "duplicate id 'maths/fractions/halves'"),
    ("en/maths/fractions/quarters.md", lesson("Quarters", "prerequisites:\n  - maths/fractions/thirds\n"),
     "tiny/en/maths/fractions/quarters.md:3: prerequisite 'maths/fractions/thirds' is not a lesson id"),
    ("fr/maths/fractions/thirds.md", lesson("Les tiers"),
     "tiny/fr/maths/fractions/thirds.md: lesson 'maths/fractions/thirds' exists in 'fr' but not in the default language 'en'"),
    ("en/maths/fractions/index.md", "---\ntitle: Fractions\nillustration: cake.svg\n---\n",
     "tiny/en/maths/fractions/index.md:3: illustration 'cake.svg' does not exist beside this index.md"),
    ("en/maths/stray.md", lesson("Stray"),
     "tiny/en/maths/stray.md: a lesson must sit in a unit folder inside a subject folder"),
    ("curriculum.yml", CURRICULUM_YML + "colour: red\n",
     "tiny/curriculum.yml:7: unknown key 'colour' (allowed: colours, description, icon, id, languages, media, title, version)"),
    ("curriculum.yml", CURRICULUM_YML.replace("default: true", "default: false"),
     "tiny/curriculum.yml:4: exactly one language must have 'default: true' (found: none)"),
    ("curriculum.yml", CURRICULUM_YML.replace("version: \"1\"\n", "version: [1\n"),
     "tiny/curriculum.yml:2: is not valid YAML"),
    ("curriculum.yml", CURRICULUM_YML.replace("code: fr", "code: french"),
     "language code 'french' is not a BCP 47 language tag"),
])
def test_each_problem_is_reported_with_file_and_line(tmp_path, name, text, expected):
    root = write(tmp_path / "tiny", {**valid_files(), name: text})
    found = problems_of(root)
    assert any(expected in problem for problem in found), found


def test_every_problem_is_reported_at_once(tmp_path):
    root = write(tmp_path / "tiny", {
        **valid_files(),
        "en/maths/fractions/halves.md": lesson(extra="tilte: x\n", body="![x](missing.png)\n"),
        "en/maths/fractions/quarters.md": "---\nminutes: 2\n---\n",
        "de/maths/index.md": "---\ntitle: Mathe\n---\n",
    })
    found = problems_of(root)
    assert len(found) == 4, found


def test_a_bad_language_code_hides_no_other_problem(tmp_path):
    files = valid_files()
    files["curriculum.yml"] = CURRICULUM_YML.replace("code: fr", "code: french")
    files["en/maths/fractions/halves.md"] = lesson(body="See [this](#) and [that](nowhere.md).\n")
    found = problems_of(write(tmp_path / "tiny", files))
    assert any("language code 'french' is not a BCP 47 language tag" in f for f in found), found
    assert any(f.startswith("tiny/en/maths/fractions/halves.md:5: link 'nowhere.md' points to a file that does not exist") for f in found), found
    assert not any("'#'" in f for f in found), "a link to the page itself is no problem"


def test_check_command_exits_1_and_prints_problems(tmp_path, capsys):
    root = write(tmp_path / "tiny", {**valid_files(), "en/maths/fractions/halves.md": lesson(extra="tilte: x\n")})
    assert main(["check", str(root)]) == 1
    err = capsys.readouterr().err
    assert "halves.md:3: unknown key 'tilte'" in err
    assert "1 problem found" in err


def test_check_command_passes_the_demo(capsys):
    assert main(["check"]) == 0
    assert "no problems" in capsys.readouterr().out


def test_check_reports_translation_coverage_per_language(tmp_path, capsys):
    root = write(tmp_path / "tiny", valid_files())  # French has halves, not quarters
    assert main(["check", str(root)]) == 0
    out = capsys.readouterr().out
    assert "  en    2 of 2 lessons (100 %)\n" in out
    assert "  fr    1 of 2 lessons (50 %), missing: maths/fractions/quarters\n" in out


def test_coverage_names_five_missing_lessons_and_counts_the_rest(tmp_path):
    from satchel.builder.coverage import report
    files = valid_files()
    for n in range(7):
        files[f"en/maths/fractions/extra-{n}.md"] = lesson(f"Extra {n}", f"order: {n + 3}\n")
    curriculum, problems = load_curriculum(write(tmp_path / "tiny", files))
    assert problems == []
    line = report(curriculum).splitlines()[2]
    assert line.startswith("  fr    1 of 9 lessons (11 %), missing: maths/fractions/")
    assert line.count("maths/fractions/") == 5 and line.endswith("and 3 more")


def test_build_refuses_an_invalid_curriculum_with_the_same_messages(tmp_path, capsys):
    root = write(tmp_path / "tiny", {**valid_files(), "en/maths/fractions/halves.md": lesson(body="[x](nowhere.md)\n")})
    site = tmp_path / "site"
    assert main(["build", str(root), "-o", str(site)]) == 1
    err = capsys.readouterr().err
    assert "halves.md:5: link 'nowhere.md' points to a file that does not exist" in err
    assert "Nothing was built" in err
    assert not site.exists()


@pytest.mark.parametrize("name", ["api", "assets", "fr", "workbox-v7", "tv"])
def test_a_subject_cannot_take_a_name_the_bundle_or_hub_uses(tmp_path, name):
    files = valid_files()
    files[f"en/{name}/index.md"] = "---\ntitle: Taken\n---\n"
    found = problems_of(write(tmp_path, files))
    assert len(found) == 1 and f"a subject cannot be called '{name}'" in found[0] and "rename the folder" in found[0], found
