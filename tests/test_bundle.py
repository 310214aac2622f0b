"""The built bundle: every page in its language and direction, manifests, icons, pack lists,
no request to another origin, and byte-identical rebuilds."""

from __future__ import annotations

import filecmp
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import brotli
from PIL import Image
from satchel.builder import ROOT
from satchel.builder.build import build
from satchel.builder.curriculum import load_curriculum
from satchel.builder.site_config import mkdocs_yml

HTML_LANG_RE = re.compile(r'<html lang="([^"]+)" dir="(ltr|rtl)">')
# Anything that could make a browser fetch from another origin: absolute URLs in src/href/url(),
# protocol-relative URLs, @import of remote CSS, importScripts of remote scripts.
FOREIGN_RE = re.compile(
    r"""(?:\bsrc|href|action|poster|\bdata)\s*=\s*["']?(?:https?:)?//|srcset\s*=\s*["'][^"']*(?:https?:)?//|url\(\s*["']?(?:https?:)?//"""
    r"""|@import\s+["']?(?:https?:)?//|importScripts\(\s*["'](?:https?:)?//""",
    re.IGNORECASE,
)


def pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_every_page_has_its_language_and_direction(demo_site):
    found = {}
    for page in pages(demo_site):
        match = HTML_LANG_RE.search(page.read_text(encoding="utf-8"))
        assert match, f"{page} has no <html lang dir>"
        relative = page.relative_to(demo_site).as_posix()
        language = relative.split("/")[0] if relative.split("/")[0] in ("fr", "ar") else "en"
        assert match.groups() == (language, "rtl" if language == "ar" else "ltr"), relative
        found[language] = found.get(language, 0) + 1
    curriculum, _ = load_curriculum(ROOT / "curricula" / "demo")
    expected = len(curriculum.lessons) + len(curriculum.units) + len(curriculum.subjects) + 3  # + home + offline page + classroom TV (builder/tv.py)
    assert found == {"en": expected, "fr": expected, "ar": expected}


def test_no_file_in_the_bundle_refers_to_another_origin(demo_site):
    offenders = []
    for path in demo_site.rglob("*"):
        if path.suffix in (".html", ".css", ".js", ".webmanifest", ".svg"):
            for match in FOREIGN_RE.finditer(path.read_text(encoding="utf-8")):
                offenders.append(f"{path.relative_to(demo_site)}: {match.group(0)}")
    assert offenders == []


def test_the_scan_catches_foreign_urls():
    assert FOREIGN_RE.search('<link rel="stylesheet" href="https://fonts.googleapis.com/css">')
    assert FOREIGN_RE.search("importScripts('https://storage.googleapis.com/workbox-cdn/workbox-sw.js')")
    assert FOREIGN_RE.search("src: url(//fonts.gstatic.com/x.woff2)")
    assert FOREIGN_RE.search('<img srcset="a.png 1x, https://img.example.org/b.png 2x">')
    assert FOREIGN_RE.search('<object data="//example.org/x.swf">')
    assert not FOREIGN_RE.search('<a href="../halves/">Halves</a>')
    assert not FOREIGN_RE.search('<div data-satchel-lessons="a b">')


def test_web_manifests_per_language(demo_site):
    for prefix, code, direction in (("", "en", "ltr"), ("fr/", "fr", "ltr"), ("ar/", "ar", "rtl")):
        manifest = json.loads((demo_site / prefix / "manifest.webmanifest").read_text(encoding="utf-8"))
        assert manifest["lang"] == code and manifest["dir"] == direction
        assert manifest["display"] == "standalone" and manifest["start_url"] == "./" and manifest["scope"] == "./"
        assert manifest["name"] and manifest["short_name"] and manifest["theme_color"] == "#1f6f5c"
        purposes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
        assert purposes == {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")}
        for icon in manifest["icons"]:
            with Image.open(demo_site / prefix / icon["src"]) as image:
                assert f"{image.size[0]}x{image.size[1]}" == icon["sizes"]
    assert "سا" in json.loads((demo_site / "ar" / "manifest.webmanifest").read_text(encoding="utf-8"))["name"]


def test_pack_lists_cover_every_page_and_image_of_a_language_once_per_subject(demo_site):
    index = json.loads((demo_site / "satchel" / "packs" / "ar.json").read_text(encoding="utf-8"))
    assert [part["id"] for part in index["parts"]] == ["_shared", "mathematics", "science"]
    assert [part["title"] for part in index["parts"]][1:] == ["الرياضيات", "العلوم"]
    by_part = {}
    for part in index["parts"]:
        raw = (demo_site / part["url"]).read_bytes()
        assert hashlib.sha256(raw).hexdigest() == part["sha256"], "the index holds each list's hash"
        listed = json.loads(raw)
        assert (listed["part"], listed["language"], listed["format"]) == (part["id"], "ar", 2)
        assert listed["bytes"] == part["bytes"] == sum(f["bytes"] for f in listed["files"])
        by_part[part["id"]] = {f["url"] for f in listed["files"]}
        for entry in listed["files"]:
            target = demo_site / entry["url"]
            target = target / "index.html" if entry["url"].endswith("/") else target
            assert target.stat().st_size == entry["bytes"], entry["url"]
            assert hashlib.sha256(target.read_bytes()).hexdigest() == entry["sha256"], entry["url"]
    urls = set().union(*by_part.values())
    assert sum(len(u) for u in by_part.values()) == len(urls), "every file is in one part"
    ar_pages = {p.parent.relative_to(demo_site).as_posix() + "/" for p in (demo_site / "ar").rglob("index.html") if "_offline" not in p.parts}
    assert ar_pages <= urls
    assert "ar/mathematics/fractions/fractions.svg" in by_part["mathematics"]
    shared = {"ar/", "satchel/search/ar/titles.json", "satchel/outline/ar.json", "assets/satchel/quiz.js",
              "assets/satchel/search.js", "assets/satchel/search-worker.js", "assets/satchel/search-language.js",
              "assets/satchel/offline.js"}
    assert shared <= by_part["_shared"], "what every subject of the language needs"
    assert any(re.fullmatch(r"assets/satchel/lang/ar\.[0-9a-f]{10}\.js", url) for url in by_part["_shared"]), "its script"
    assert "satchel/search/ar/store/science.json" in by_part["science"]
    assert all(u.startswith("ar/science/") for u in by_part["science"] if u.endswith("/"))
    assert not any(u.startswith(("fr/", "mathematics/")) for u in urls), "a language's packs hold only its own files"


def precache_of(site: Path) -> dict[str, str | None]:
    """The service worker's precache manifest: URL -> revision (None: the name is the revision)."""
    sw = (site / "sw.js").read_text(encoding="utf-8")
    manifest = re.search(r'\[\{"revision".*?\}\]', sw).group(0)
    return {entry["url"]: entry["revision"] for entry in json.loads(manifest)}


def test_service_worker_precaches_only_the_app_shell(demo_site):
    sw = (demo_site / "sw.js").read_text(encoding="utf-8")
    assert "self.__WB_MANIFEST" not in sw and "workbox-sw" not in sw, "one file: workbox is bundled in"
    precached = precache_of(demo_site)
    names = sorted(re.sub(r"\.[0-9a-f]{10}\.", ".<hash>.", url) for url in precached)
    assert names == ["_offline/index.html", "ar/_offline/index.html", "assets/satchel/app.<hash>.js", "assets/satchel/core.<hash>.js",
                     "assets/satchel/style.<hash>.css", "fr/_offline/index.html", "icons/icon-64.png", "satchel/version.json"], \
        "no lesson, no language's script, no install icons"
    for offline in ("_offline/index.html", "ar/_offline/index.html"):
        assert "<script" not in (demo_site / offline).read_text(encoding="utf-8"), "offline pages are small: no scripts"
    assert all((demo_site / url).is_file() for url in precached)
    assert {url for url, revision in precached.items() if revision is None} == {u for u in precached if u.startswith("assets/")}, \
        "files named by their hash are fetched as they are (the HTTP cache has the page's copy)"
    core = re.search(r"importScripts\(\"([^\"]+)\"\)", sw).group(1)
    assert core in precached and core.startswith("assets/satchel/core."), "the worker imports the page's own core bundle"


def test_a_first_visit_downloads_at_most_40_kb(demo_site):
    """The app shell (with every language's offline page), the home page and what it loads (its
    language's script), brotli as the hub sends them, each file once."""
    home = (demo_site / "index.html").read_text(encoding="utf-8")
    # What Chromium loads of the app: scripts, the stylesheet, the icon and the manifest (not the
    # apple-touch-icon, which only Safari asks for; not the authors' pictures, which are content).
    loaded = set(re.findall(r'src="((?:assets|icons)/[^"]+)"', home)) | set(re.findall(r'<link rel="(?:stylesheet|icon|manifest)" href="([^"]+)"', home))
    loaded |= set(precache_of(demo_site)) | {"sw.js"}
    sizes = {url: len((demo_site / f"{url}.br").read_bytes() if (demo_site / f"{url}.br").is_file() else (demo_site / url).read_bytes())
             for url in loaded}
    total = sum(sizes.values()) + len((demo_site / "index.html.br").read_bytes())
    assert total <= 40 * 1024, sorted(sizes.items(), key=lambda item: -item[1])  # the 40 KB, as benchmarks/build.py counts it


def test_a_lesson_page_is_its_content_plus_at_most_1536_bytes(demo_site):
    """Settings, words and dialogs are in the language's script: a page carries its own content,
    navigation and a few bytes of its own data."""
    for code in ("", "ar/"):
        html = (demo_site / f"{code}science/water-cycle/evaporation-and-condensation/index.html").read_text(encoding="utf-8")
        content = re.search(r'<div lang="[^"]+" dir="[^"]+">(.*)<nav class="satchel-pager"', html, re.S).group(1)
        page, own = len(brotli.compress(html.encode(), quality=11)), len(brotli.compress(content.encode(), quality=11))
        assert page <= own + 1536, (code, page, own)
        assert "<dialog" not in html and "satchel-config" not in html and "<svg" not in html


def test_the_app_is_minified_bundles_and_no_loose_source(demo_site):
    folder = demo_site / "assets" / "satchel"
    shipped = sorted(p.name for p in folder.glob("*.js"))
    assert [re.sub(r"\.[0-9a-f]{10}\.", ".<hash>.", n) for n in shipped] == [
        "app.<hash>.js", "core.<hash>.js", "media.js", "offline.js", "quiz.js", "search-language.js",
        "search-worker.js", "search.js", "tv.js"]
    for name in shipped:
        text = (folder / name).read_text(encoding="utf-8")
        assert "\n  " not in text and "/*" not in text, f"{name} is minified"
    css = next(folder.glob("style.*.css")).read_text(encoding="utf-8")
    assert ".md-search" not in css and ".md-tabs" not in css and ".md-footer" not in css, "material's unused rules are purged"
    assert ".md-typeset .admonition" in css and ".satchel-card" in css and "[dir=rtl]" in css
    assert not (demo_site / "assets" / "stylesheets").exists() and not (folder / "progress.js").exists()


def test_a_lesson_page_carries_only_its_own_subject(demo_site):
    html = (demo_site / "mathematics" / "fractions" / "halves-and-quarters" / "index.html").read_text(encoding="utf-8")
    assert "what-is-a-fraction" in html  # its unit's lessons
    assert "fractions-in-life/" in html  # its subject's other unit
    assert "fractions-and-money" not in html  # not the lessons of other units
    assert "water-cycle" not in html  # nor other subjects
    assert 'rel="next"' in html and 'rel="prev"' in html


def test_language_switcher_keeps_the_lesson(demo_site):
    html = (demo_site / "fr" / "science" / "water-cycle" / "rain-and-rivers" / "index.html").read_text(encoding="utf-8")
    assert 'href="../../../../ar/science/water-cycle/rain-and-rivers/" hreflang="ar"' in html
    assert 'href="../../../../science/water-cycle/rain-and-rivers/" hreflang="en"' in html


def test_a_missing_translation_falls_back_with_a_notice(demo_copy, tmp_path):
    (demo_copy / "fr" / "science" / "water-cycle" / "rain-and-rivers.md").unlink()
    site = tmp_path / "site"
    build(demo_copy, site, show_progress=False)
    html = (site / "fr" / "science" / "water-cycle" / "rain-and-rivers" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="fr" dir="ltr">' in html
    assert "Cette page n’existe pas encore en Français. La voici en English." in html
    assert '<div lang="en" dir="ltr">' in html and "<h1>Rain and rivers</h1>" in html
    ar = (site / "ar" / "science" / "water-cycle" / "rain-and-rivers" / "index.html").read_text(encoding="utf-8")
    assert "fallback" not in ar.split('<div class="md-content">')[1].split("<h1>")[0]


def test_rebuilding_gives_byte_identical_output(demo_site, tmp_path):
    again = tmp_path / "again"
    build(ROOT / "curricula" / "demo", again, show_progress=False)
    comparison = filecmp.dircmp(demo_site, again)

    def differences(c) -> list[str]:
        found = c.left_only + c.right_only + c.diff_files
        for sub in c.subdirs.values():
            found += differences(sub)
        return found

    assert differences(comparison) == []
    for path in demo_site.rglob("*"):  # dircmp compares shallowly: compare the bytes too
        if path.is_file():
            assert path.read_bytes() == (again / path.relative_to(demo_site)).read_bytes(), path


def test_mkdocs_yml_is_the_generated_configuration_of_the_demo():
    curriculum, _ = load_curriculum(ROOT / "curricula" / "demo")
    assert (ROOT / "mkdocs.yml").read_text(encoding="utf-8") == mkdocs_yml(curriculum, Path("site"), ROOT), \
        "mkdocs.yml is out of date: run `satchel mkdocs-yml -o mkdocs.yml`"


def test_plain_mkdocs_build_at_the_root_builds_the_demo(tmp_path):
    site = tmp_path / "mkdocs-site"
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "-d", str(site)], cwd=ROOT, check=True)
    assert (site / "ar" / "science" / "water-cycle" / "rain-and-rivers" / "index.html").is_file()
    assert (site / "sw.js").is_file() and (site / "satchel" / "packs" / "fr.json").is_file()
