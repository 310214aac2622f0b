"""`satchel import`: each course layout becomes a curriculum that `satchel check` accepts and `satchel build`
builds; real courses (tests/fixtures/courses/) also work offline in Chromium, asking nothing of another site."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from satchel.builder.build import build
from satchel.builder.cli import main
from satchel.builder.curriculum import load_curriculum
from satchel.builder.frontmatter import read_document
from satchel.builder.importer import CourseImportError, import_course

COURSES = Path(__file__).parent / "fixtures" / "courses"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082")


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content, encoding="utf-8")
    return root


def lesson(curriculum: Path, path: str):
    doc = read_document(curriculum / path, [])
    return doc.meta, doc.body


def checked_and_built(curriculum: Path, tmp_path: Path) -> Path:
    _, problems = load_curriculum(curriculum)
    assert problems == [], problems
    site = tmp_path / "site"
    build(curriculum, site, show_progress=False)
    return site


# The layouts, each in a tiny course written here

def test_lesson_folders_with_translations(tmp_path):
    source = write(tmp_path / "Water-Course", {
        "README.md": "# Water for beginners\n\nA course.\n",
        "CONTRIBUTING.md": "# How to help\n",
        "1-water/README.md": "# All about water\n",
        "1-water/1-rain/README.md": "# Rain\n\nSee ![a cloud](images/cloud.png) and [the rivers](../2-rivers/README.md#top).\n\n"
                                    "[Homework](assignment.md), [the course](../../README.md).\n",
        "1-water/1-rain/images/cloud.png": PNG,
        "1-water/1-rain/assignment.md": "# Homework\n\nCount drops.\n",
        "1-water/1-rain/translations/README.zh-cn.md": "# 雨\n\n见 ![云](../images/cloud.png)，[河流](../../2-rivers/README.md)。\n",
        "1-water/1-rain/translations/README.ja.md": "# 雨\n\n[宿題](assignment.ja.md)\n",
        "1-water/1-rain/translations/assignment.zh-cn.md": "# 作业\n",
        "1-water/2-rivers/translations/README.zh-cn.md": "# 河流\n",
        "1-water/1-rain/translations/assignment.ja.md": "# 宿題\n",
        "1-water/2-rivers/README.md": "# Rivers\n\n<iframe src=\"https://www.youtube.com/embed/x\"></iframe>\n\n[gone](../../missing.md)\n",
    })
    dest = tmp_path / "curriculum"
    result = import_course(source, dest, show_progress=False)

    config = yaml.safe_load((dest / "curriculum.yml").read_text(encoding="utf-8"))
    assert config["id"] == "water-course"
    assert [lang["code"] for lang in config["languages"]] == ["en", "ja", "zh-CN"]
    assert config["languages"][0]["default"] is True and config["title"] == {"en": "Water for beginners"}
    unit = "en/water-course/1-water"
    assert lesson(dest, f"{unit}/index.md")[0] == {"title": "All about water", "order": 1}
    meta, body = lesson(dest, f"{unit}/1-rain.md")
    assert meta == {"title": "Rain", "order": 1}
    assert "# Rain" not in body, "the H1 became the title, not shown twice"
    assert "![a cloud](cloud.png)" in body and "(2-rivers.md#top)" in body
    assert "[Homework](1-rain-assignment.md)" in body and "[the course](../index.md)" in body
    assert (dest / unit / "cloud.png").read_bytes() == PNG
    assert not list(dest.rglob("how-to-help*")), "the repository's own pages are not lessons"
    zh = lesson(dest, "zh-CN/water-course/1-water/1-rain.md")[1]
    assert "![云](cloud.png)" in zh and "(2-rivers.md)" in zh
    assert (dest / "zh-CN/water-course/1-water/cloud.png").is_file()
    assert "[宿題](1-rain-assignment.md)" in lesson(dest, "ja/water-course/1-water/1-rain.md")[1]

    reported = [(p.path.relative_to(source).as_posix(), p.line, p.message.split(":")[0]) for p in result.problems]
    assert reported == [("1-water/2-rivers/README.md", 3, "<iframe src> 'https"),
                        ("1-water/2-rivers/README.md", 3, "raw HTML <iframe> is kept as it is"),
                        ("1-water/2-rivers/README.md", 5, "link '../../missing.md' points to a file that is not in the course")]
    assert "gone" in lesson(dest, f"{unit}/2-rivers.md")[1] and "missing.md" not in lesson(dest, f"{unit}/2-rivers.md")[1]
    # The one thing the check refuses is what the import reported: the remote frame, at its line.
    _, problems = load_curriculum(dest)
    assert [(p.path.name, "iframe" in p.message) for p in problems] == [("2-rivers.md", True)]
    assert "<iframe" in problems[0].path.read_text(encoding="utf-8").splitlines()[problems[0].line - 1]
    (dest / unit / "2-rivers.md").write_text("---\ntitle: Rivers\n---\n\nNo frame.\n", encoding="utf-8")
    checked_and_built(dest, tmp_path)


def test_mkdocs_static_i18n_suffix_layout(tmp_path):
    source = write(tmp_path / "garden", {
        "mkdocs.yml": "site_name: Garden school\nmarkdown_extensions:\n  - pymdownx.emoji:\n"
                      "      emoji_index: !!python/name:material.extensions.emoji.twemoji\n"
                      "plugins:\n  - i18n:\n      docs_structure: suffix\n      languages:\n        - locale: en\n          default: true\n"
                      "          name: English\n        - locale: fr\n          name: Français\n        - locale: zh_Hant\n          name: 繁體中文\n",
        "docs/index.md": "# Garden school\n\nWelcome. Start with [seeds](plants/seeds.md).\n",
        "docs/index.fr.md": "# École du jardin\n\nBienvenue.\n",
        "docs/plants/seeds.md": "---\ntags: [a]\n---\n\n# Seeds\n\n![A seed](seed.png)\n\nThen [water](../water.md).\n",
        "docs/plants/seeds.fr.md": "# Graines\n\n![Une graine](seed.png)\n",
        "docs/plants/seeds.zh_Hant.md": "# 種子\n\n![種子](seed.png)\n",
        "docs/plants/seed.png": PNG,
        "docs/water.md": "# Water\n\n![remote](https://example.org/w.png)\n",
        "docs/water.zh_Hant.md": "# 水\n",
    })
    dest = tmp_path / "curriculum"
    result = import_course(source, dest, show_progress=False, remote_images="link")
    config = yaml.safe_load((dest / "curriculum.yml").read_text(encoding="utf-8"))
    assert [(lang["code"], lang["name"]) for lang in config["languages"]] == [("en", "English"), ("fr", "Français"), ("zh-Hant", "繁體中文")]
    assert lesson(dest, "fr/garden/index.md")[0]["title"] == "École du jardin"
    assert "[seeds](plants/seeds.md)" in lesson(dest, "en/garden/index.md")[1]
    assert "[water](../lessons/water.md)" in lesson(dest, "en/garden/plants/seeds.md")[1]
    assert lesson(dest, "zh-Hant/garden/plants/seeds.md")[0] == {"title": "種子"}
    assert "[remote](https://example.org/w.png)" in lesson(dest, "en/garden/lessons/water.md")[1]
    assert [(p.path.name, p.line, p.message.split(" '")[0]) for p in result.problems] == [
        ("seeds.md", 1, "front matter tags not brought: Satchel has no such key"), ("water.md", 3, "remote image")]
    checked_and_built(dest, tmp_path)


def test_mkdocs_static_i18n_folder_layout(tmp_path):
    source = write(tmp_path / "maths", {
        "mkdocs.yml": "site_name: Maths\nplugins:\n  - i18n:\n      docs_structure: folder\n      languages:\n"
                      "        - {locale: en, default: true, name: English}\n        - {locale: pt-br, name: Português}\n",
        "docs/assets/half.png": PNG,
        "docs/en/fractions/halves.md": "# Halves {#halves}\n\n![Half](../assets/half.png)\n",
        "docs/pt-BR/fractions/halves.md": "# Metades\n\n![Metade](../assets/half.png)\n",
    })
    dest = tmp_path / "curriculum"
    result = import_course(source, dest, show_progress=False)
    assert result.problems == [] and result.languages == ["en", "pt-BR"]
    assert lesson(dest, "en/maths/fractions/halves.md")[0] == {"title": "Halves"}
    assert "![Metade](half.png)" in lesson(dest, "pt-BR/maths/fractions/halves.md")[1]
    assert (dest / "pt-BR/maths/fractions/half.png").is_file()
    checked_and_built(dest, tmp_path)


def test_docusaurus_with_i18n(tmp_path):
    source = write(tmp_path / "my-site", {
        "docusaurus.config.js": "module.exports = {\n  title: 'Solar school',\n  i18n: {defaultLocale: 'en', locales: ['en', 'ja']},\n};\n",
        "docs/intro.md": "---\nsidebar_position: 1\n---\n\n# Welcome\n\n:::tip Remember\n\nThe sun is a star.\n\n:::\n\n[Planets](tutorial/planets.mdx)\n",
        "docs/tutorial/_category_.json": '{"label": "The planets", "position": 2}',
        "docs/tutorial/planets.mdx": "---\ntitle: Planets\n---\n\nimport Tabs from '@theme/Tabs';\n\n![Sun](/img/sun.png)\n\n<Tabs>x</Tabs>\n",
        "static/img/sun.png": PNG,
        "i18n/ja/docusaurus-plugin-content-docs/current/intro.md": "# ようこそ\n\n[惑星](tutorial/planets.mdx)\n",
        "i18n/ja/docusaurus-plugin-content-docs/current/tutorial/planets.mdx": "# 惑星\n\n![太陽](/img/sun.png)\n",
    })
    dest = tmp_path / "curriculum"
    result = import_course(source, dest, show_progress=False)
    assert result.languages == ["en", "ja"]
    assert yaml.safe_load((dest / "curriculum.yml").read_text(encoding="utf-8"))["title"] == {"en": "Solar school"}
    meta, body = lesson(dest, "en/my-site/lessons/intro.md")
    assert meta == {"title": "Welcome", "order": 1}
    assert '!!! tip "Remember"\n    \n' in body or '!!! tip "Remember"\n\n    The sun is a star.' in body
    assert "[Planets](../tutorial/planets.md)" in body
    assert lesson(dest, "en/my-site/tutorial/index.md")[0] == {"title": "The planets", "order": 2}
    assert "![太陽](sun.png)" in lesson(dest, "ja/my-site/tutorial/planets.md")[1]
    assert [(p.path.name, p.line, p.message.split(" ")[0]) for p in result.problems] == [
        ("planets.mdx", 5, "MDX"), ("planets.mdx", 9, "<Tabs>")]
    checked_and_built(dest, tmp_path)


def test_a_folder_in_no_known_layout_and_a_non_empty_destination_are_refused(tmp_path, capsys):
    write(tmp_path / "plain", {"notes.txt": "hello"})
    assert main(["import", str(tmp_path / "plain"), str(tmp_path / "out")]) == 1
    assert "is not a course layout" in capsys.readouterr().err
    source = write(tmp_path / "course", {"docs/a.md": "# A\n", "docs/a.fr.md": "# A fr\n", "mkdocs.yml": "site_name: C\n"})
    write(tmp_path / "out", {"keep.txt": "mine"})
    assert main(["import", str(source), str(tmp_path / "out")]) == 1
    assert "is not empty" in capsys.readouterr().err and (tmp_path / "out" / "keep.txt").is_file()
    assert main(["import", str(source), str(tmp_path / "out"), "--force"]) == 0
    assert not (tmp_path / "out" / "keep.txt").exists()
    first = {p.relative_to(tmp_path / "out"): p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert main(["import", str(source), str(tmp_path / "out"), "--force"]) == 0
    assert {p.relative_to(tmp_path / "out"): p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()} == first
    assert main(["check", str(tmp_path / "out")]) == 0
    with pytest.raises(CourseImportError):
        import_course(source, source.parent, force=True, show_progress=False)


# Real courses, trimmed (tests/fixtures/courses/*/SOURCE.md)

REAL = {
    # course: (languages, lessons, what the import must report, at least)
    "web-dev-for-beginners": (["en", "ja", "zh-CN"], 2, {"remote image": 2, "points to a file that is not in the course": 3}),
    "owasp-top10": (["en", "ja", "zh-TW"], 2, {"points to a file that is not in the course": 25}),
}


@pytest.mark.parametrize("course", sorted(REAL))
def test_a_real_course_the_check_refuses_only_what_the_import_reported(course, tmp_path):
    languages, _, _ = REAL[course]
    source = COURSES / course
    result = import_course(source, tmp_path / "curriculum", show_progress=False)
    _, problems = load_curriculum(tmp_path / "curriculum")
    remote = [p for p in result.problems if p.message.startswith("remote image")]
    assert len(problems) == len(remote), (problems, remote)
    for problem in remote:  # the line reported is the line of the source that holds the image
        url = problem.message.split("'")[1]
        assert url in problem.path.read_text(encoding="utf-8").splitlines()[problem.line - 1]


@pytest.mark.browser
@pytest.mark.parametrize("course", sorted(REAL))
def test_a_real_course_imports_builds_and_works_offline(course, tmp_path, serve, context):
    from test_browser import language_pages, make_language_offline, wait_for_service_worker
    languages, lessons, expected = REAL[course]
    dest = tmp_path / "curriculum"
    result = import_course(COURSES / course, dest, show_progress=False, remote_images="link")
    assert result.languages == languages and result.lessons == lessons
    for words, count in expected.items():
        assert sum(words in p.message for p in result.problems) >= count, (words, result.problems)
    started = time.perf_counter()
    site = checked_and_built(dest, tmp_path)
    print(f"\n{course}: built in {time.perf_counter() - started:.2f} s")

    server = serve(site)
    origin = urlsplit(server.url).netloc
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    for code in languages[1:]:  # a language with a script without spaces is among them
        page.goto(server.url + f"{code}/")
        wait_for_service_worker(page)
        make_language_offline(page)
        server.stop()
        context.set_offline(True)
        urls = language_pages(site, code)
        assert len(urls) >= 1 + lessons
        for url in urls:
            response = page.goto(server.url + url)
            assert response.ok, url
            assert page.evaluate("document.documentElement.lang") == code, url
            assert page.locator("h1:visible").count() == 1, url
        context.set_offline(False)
        server.start()
    foreign = [url for url in requested if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).netloc != origin]
    assert len(requested) > 2 * lessons
    assert foreign == []
