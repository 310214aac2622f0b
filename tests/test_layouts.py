"""Existing courses come in as they are (issue 14): a title from the first heading, shown once;
lessons as folders with README.md or index.md; media in any folder, and from the curriculum's root
with '/'; Markdown that is not a lesson as a page of its unit. Each layout is checked, then built."""

from __future__ import annotations

import json
import re
import shutil
import urllib.request
from pathlib import Path
from urllib.parse import urljoin

import pytest
from satchel.builder import DEMO_CURRICULUM
from satchel.builder.build import build
from satchel.builder.curriculum import load_curriculum

UNIT = "en/mathematics/fractions"
PICTURE = (DEMO_CURRICULUM / UNIT / "fractions.svg").read_bytes()


def course(folder: Path, files: dict[str, str | bytes]) -> Path:
    """The demo, with `files` (paths from the curriculum's root) written or replaced."""
    shutil.copytree(DEMO_CURRICULUM, folder)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


def problems_of(root: Path) -> list[str]:
    _, problems = load_curriculum(root)
    return [p.format(root) for p in problems]


def checked_and_built(tmp_path: Path, files: dict) -> Path:
    root = course(tmp_path / "course", files)
    assert problems_of(root) == []
    site = tmp_path / "site"
    build(root, site, show_progress=False)
    return site


def html(site: Path, url: str) -> str:
    return (site / url / "index.html").read_text(encoding="utf-8")


def headings(page: str) -> list[str]:
    return re.findall(r"<h1[^>]*>(.*?)</h1>", page, re.S)


def pack(site: Path, code: str, part: str) -> list[str]:
    return [f["url"] for f in json.loads((site / "satchel" / "packs" / code / f"{part}.json").read_text(encoding="utf-8"))["files"]]


# Titles

def test_a_lesson_without_front_matter_takes_its_first_heading_as_title_shown_once(tmp_path):
    site = checked_and_built(tmp_path, {
        f"{UNIT}/halves-and-quarters.md": "# Halves, the old way\n\nCut the bread in two.\n",
        f"{UNIT}/comparing-fractions.md": "---\ntitle: Comparing\nminutes: 5\n---\n\n# Comparing\n\nWhich is bigger?\n",
        f"{UNIT}/index.md": "---\ndescription: Parts of a whole\n---\n\nFractions\n=========\n\nThe unit.\n",
        f"{UNIT}/what-is-a-fraction.md": "---\ntitle: Parts\n---\n\n# Which is bigger?\n\nText.\n",  # not the title: kept
    })
    assert headings(html(site, "mathematics/fractions/halves-and-quarters")) == ["Halves, the old way"]
    assert headings(html(site, "mathematics/fractions/comparing-fractions")) == ["Comparing"]
    assert headings(html(site, "mathematics/fractions")) == ["Fractions"]
    assert headings(html(site, "mathematics/fractions/what-is-a-fraction")) == ["Parts", "Which is bigger?"]
    assert "Halves, the old way" in html(site, "mathematics/fractions")  # the unit's list of lessons


def test_without_title_or_heading_each_file_is_named_with_line_and_fix(tmp_path):
    root = course(tmp_path / "course", {
        f"{UNIT}/halves-and-quarters.md": "Just text, and ## a smaller heading\n",
        f"{UNIT}/comparing-fractions.md": "---\nminutes: 5\n---\n\n## Not a title\n",
    })
    found = problems_of(root)
    assert "course/en/mathematics/fractions/halves-and-quarters.md:1: has no front matter: start the file with a '---' line, then " \
           "'title: ...', then '---'; or start it with its title as a heading, '# ...'" in found, found
    assert "course/en/mathematics/fractions/comparing-fractions.md:1: lesson has no 'title': add 'title: ...' to its front matter, " \
           "or start its text with a heading, '# ...'" in found, found


# Lesson folders, media folders, pages

FOLDER_LESSONS = {
    f"{UNIT}/cutting-bread/README.md": "# Cutting bread\n\n![Bread](bread.svg) ![Pie](../images/pie.svg)\n\nDo [the assignment](assignment.md).\n",
    f"{UNIT}/cutting-bread/bread.svg": PICTURE,
    f"{UNIT}/cutting-bread/assignment.md": "# Assignment\n\nCut a loaf in [quarters](../halves-and-quarters.md).\n",
    f"{UNIT}/sharing-cake/index.md": "---\ntitle: Sharing cake\norder: 99\n---\n\nBack to [bread](../cutting-bread/).\n",
    f"{UNIT}/images/pie.svg": PICTURE,
    f"{UNIT}/assets/notes.txt": "media, not lessons",
}


def test_a_folder_with_readme_or_index_is_a_lesson_its_files_are_media_and_pages(tmp_path):
    root = course(tmp_path / "course", FOLDER_LESSONS)
    assert problems_of(root) == []
    curriculum, _ = load_curriculum(root)
    unit = curriculum.node("mathematics/fractions")
    ids = [lesson.id.rsplit("/", 1)[1] for lesson in unit.lessons]
    assert ids[-2:] == ["sharing-cake", "cutting-bread"]  # 'order: 99', then no order (last, by name)
    assert "assignment" not in " ".join(ids) and "images" not in ids and "assets" not in ids
    assert [page.id for page in unit.pages] == ["mathematics/fractions/cutting-bread/assignment"]

    site = tmp_path / "site"
    build(root, site, show_progress=False)
    lesson = html(site, "mathematics/fractions/cutting-bread")
    assert headings(lesson) == ["Cutting bread"]
    assert 'src="bread.svg"' in lesson and 'src="../images/pie.svg"' in lesson and 'href="assignment/"' in lesson
    assert (site / "mathematics/fractions/cutting-bread/bread.svg").read_bytes() == PICTURE
    assert (site / "mathematics/fractions/images/pie.svg").read_bytes() == PICTURE
    assignment = html(site, "mathematics/fractions/cutting-bread/assignment")
    assert headings(assignment) == ["Assignment"] and 'href="../../halves-and-quarters/"' in assignment
    assert 'href="../cutting-bread/"' in html(site, "mathematics/fractions/sharing-cake")
    # Packed with its subject; a page is no lesson: not counted, not in the pager, not in curriculum.json.
    files = pack(site, "en", "mathematics")
    for url in ("mathematics/fractions/cutting-bread/", "mathematics/fractions/cutting-bread/bread.svg",
                "mathematics/fractions/images/pie.svg", "mathematics/fractions/cutting-bread/assignment/"):
        assert url in files
    assert "fr/mathematics/fractions/cutting-bread/assignment/" in pack(site, "fr", "mathematics")
    described = json.loads((site / "satchel" / "curriculum.json").read_text(encoding="utf-8"))
    assert not any("assignment" in lesson["id"] for s in described["subjects"] for u in s["units"] for lesson in u["lessons"])
    assert not any("assignment/" in page for page in re.findall(r'rel="(?:prev|next)" href="([^"]*)"', lesson + assignment))
    assert "satchel-pager" not in assignment and "satchel-finish" not in assignment


def test_a_folder_in_a_unit_that_is_neither_lesson_nor_media_is_named_with_its_fix(tmp_path):
    root = course(tmp_path / "course", {
        f"{UNIT}/drafts/old.md": "# Old\n",
        f"{UNIT}/both/README.md": "# Both\n",
        f"{UNIT}/both/index.md": "# Both\n",
    })
    found = problems_of(root)
    assert "course/en/mathematics/fractions/drafts/old.md:1: is in 'drafts/', which is a folder of media, not read as Markdown: " \
           "a folder inside a unit is a lesson when it holds README.md or index.md: add one, or move this file into the unit " \
           "as a lesson of its own" in found, found
    assert any(p.startswith("course/en/mathematics/fractions/both/README.md: sits beside index.md") for p in found), found


# Media from the curriculum's root

ROOT_MEDIA = {
    "shared/map.svg": PICTURE,
    f"{UNIT}/halves-and-quarters.md": "# Halves\n\n![Map](/shared/map.svg)\n\n<img src=\"/shared/map.svg\" alt=\"Map\">\n",
    "fr/mathematics/fractions/halves-and-quarters.md": "# Moitiés\n\n![Carte](/shared/map.svg)\n",
}


def test_a_path_from_the_root_reaches_a_shared_folder_and_is_made_relative(tmp_path):
    site = checked_and_built(tmp_path, ROOT_MEDIA)
    page = html(site, "mathematics/fractions/halves-and-quarters")
    assert page.count('src="../../../shared/map.svg"') == 2, page
    assert 'src="../../../../shared/map.svg"' in html(site, "fr/mathematics/fractions/halves-and-quarters")
    assert (site / "shared/map.svg").read_bytes() == PICTURE
    assert "shared/map.svg" in pack(site, "en", "_shared") and "shared/map.svg" in pack(site, "fr", "_shared")


def test_a_path_from_the_root_to_nothing_and_markdown_in_a_shared_folder_are_reported(tmp_path):
    root = course(tmp_path / "course", {
        f"{UNIT}/halves-and-quarters.md": "# Halves\n\nText.\n\n![Map](/shared/nowhere.svg)\n",
        "shared/map.svg": PICTURE,
        "notes/readme.md": "# Notes\n",
    })
    found = problems_of(root)
    assert any(p.startswith("course/en/mathematics/fractions/halves-and-quarters.md:5: link '/shared/nowhere.svg' starts with '/'")
               and "(looked for course/shared/nowhere.svg)" in p for p in found), found
    assert any(p.startswith("course/notes: folder 'notes' is not a declared language") for p in found), found
    assert not any("shared" in p and "map.svg" in p for p in found), found


@pytest.mark.parametrize("prefix", ["", "school/"], ids=["at-root", "under-a-path"])
def test_media_and_pages_load_at_the_root_and_under_a_path(tmp_path, serve, prefix):
    site = checked_and_built(tmp_path, {**ROOT_MEDIA, **FOLDER_LESSONS})
    server = serve(site, prefix)
    for page in ("mathematics/fractions/halves-and-quarters/", "fr/mathematics/fractions/halves-and-quarters/",
                 "mathematics/fractions/cutting-bread/", "fr/mathematics/fractions/cutting-bread/"):
        url = server.url + page
        text = urllib.request.urlopen(url).read().decode()
        targets = re.findall(r'<img[^>]*\bsrc="([^"]+)"', text) + re.findall(r'<article.*?href="([^"#]+)"', text, re.S)
        assert any(t.endswith((".svg",)) for t in targets), page
        for target in targets:
            absolute = urljoin(url, target)
            assert absolute.startswith(server.url), (page, target)
            assert urllib.request.urlopen(absolute).status == 200, (page, target)


def test_a_folder_of_media_in_a_language_is_shared_by_its_lessons(tmp_path):
    """`en/shared/` with no Markdown is media, not a subject: `../../shared/x.svg` from a lesson works
    and the file travels in the language's shared pack."""
    svg = "<svg xmlns='http://www.w3.org/2000/svg' width='4' height='4'/>"
    site = checked_and_built(tmp_path, {
        "en/shared/map.svg": svg,
        "en/mathematics/fractions/a-map.md": "# A map\n\n![The map](../../shared/map.svg)\n"})
    page = html(site, "mathematics/fractions/a-map")
    assert 'src="../../../shared/map.svg"' in page and (site / "shared" / "map.svg").is_file()
    assert "shared/map.svg" in pack(site, "en", "_shared")
