"""Nothing from another origin: the check finds every remote reference a page would load, with file
and line, and `satchel build --fetch-remote` keeps bounded local copies against a loopback server."""

from __future__ import annotations

import http.server
import json
import re
import threading
from pathlib import Path

import pytest
from satchel.builder import remote
from satchel.builder.build import build
from satchel.builder.cli import main
from satchel.builder.curriculum import load_curriculum

CURRICULUM_YML = """\
id: far
version: "1"
title: {en: Far school}
languages:
  - {code: en, name: English, default: true}
"""
LESSON = "en/maths/shapes/circles.md"
BODY_LINE = 5  # front matter "---", "title: Circles", "---", blank line; the body starts on line 5
# Anything a built page could fetch from another origin (as tests/test_bundle.py scans the bundle).
FOREIGN_RE = re.compile(r"""(?:src|srcset|href|poster|data)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//""")


def write_curriculum(root: Path, body: str, french: bool = False) -> Path:
    files = {
        "curriculum.yml": CURRICULUM_YML + ("  - {code: fr, name: Français}\n" if french else ""),
        **({"fr/maths/index.md": "---\ntitle: Maths\n---\n"} if french else {}),
        "en/maths/index.md": "---\ntitle: Maths\n---\n",
        "en/maths/shapes/index.md": "---\ntitle: Shapes\n---\n",
        LESSON: f"---\ntitle: Circles\n---\n\n{body}",
        "en/maths/shapes/pie.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def problems_of(root: Path) -> list[str]:
    _, problems = load_curriculum(root)
    return [p.format(root) for p in sorted(problems)]


# (what the author wrote, the body line it loads from, what the problem names)
REFERENCES = [
    ("![Pie](https://example.org/pie.png)\n", 1, "image 'https://example.org/pie.png'"),
    ("[![Video](https://img.example.org/vi/x/0.jpg)](https://video.example.org/watch?v=x)\n", 1,
     "image 'https://img.example.org/vi/x/0.jpg'"),
    ("Text.\n\n![A pie][pie]\n\n[pie]: https://example.org/ref.png\n", 3, "image 'https://example.org/ref.png'"),
    ('<img alt="pie" src="//cdn.example.org/pie.png">\n', 1, "<img src> '//cdn.example.org/pie.png'"),
    ('<img alt="pie" src="pie.svg"\n     srcset="pie.svg 1x, https://example.org/pie@2x.png 2x">\n', 2,
     "<img srcset> 'https://example.org/pie@2x.png'"),
    ('<video controls poster="https://example.org/poster.jpg"></video>\n', 1, "<video poster> 'https://example.org/poster.jpg'"),
    ('<video controls src="https://example.org/clip.mp4"></video>\n', 1, "<video src> 'https://example.org/clip.mp4'"),
    ('<audio controls src="http://example.org/song.mp3"></audio>\n', 1, "<audio src> 'http://example.org/song.mp3'"),
    ('<video controls>\n<source src="https://example.org/clip.webm" type="video/webm">\n</video>\n', 2,
     "<source src> 'https://example.org/clip.webm'"),
    ('<video controls src="pie.svg">\n<track src="https://example.org/subs.vtt">\n</video>\n', 2,
     "<track src> 'https://example.org/subs.vtt'"),
    ('<iframe title="Map" src="https://maps.example.org/embed?x=1"></iframe>\n', 1, "<iframe src> 'https://maps.example.org/embed?x=1'"),
    ('<object data="https://example.org/app.swf"></object>\n', 1, "<object data> 'https://example.org/app.swf'"),
    ('<embed src="https://example.org/doc.pdf">\n', 1, "<embed src> 'https://example.org/doc.pdf'"),
    ('<link rel="stylesheet" href="https://fonts.example.org/css">\n', 1, "<link href> 'https://fonts.example.org/css'"),
    ('<div style="background: url(\'https://example.org/bg.png\')">Sky</div>\n', 1,
     "<div style> url() 'https://example.org/bg.png'"),
    ("<style>\n.sky { background: url(https://example.org/sky.png); }\n</style>\n", 2, "<style> url() 'https://example.org/sky.png'"),
    ('<script src="https://cdn.example.org/lib.js"></script>\n', 1, "<script src> 'https://cdn.example.org/lib.js'"),
]


@pytest.mark.parametrize("body, line, named", REFERENCES, ids=[named.split(" '")[0] for _, _, named in REFERENCES])
def test_the_check_reports_each_kind_of_remote_reference_with_file_and_line(tmp_path, body, line, named):
    root = write_curriculum(tmp_path / "far", body)
    [problem] = problems_of(root)
    assert problem.startswith(f"far/{LESSON}:{BODY_LINE + line - 1}: {named} loads from another site")
    assert "satchel build --fetch-remote" in problem or "link to it locally" in problem  # says how to fix it


def test_the_check_reports_every_remote_reference_at_once(tmp_path):
    root = write_curriculum(tmp_path / "far", "".join(body + "\n" for body, _, _ in REFERENCES))
    assert len(problems_of(root)) == len(REFERENCES)


def test_a_fetchable_image_names_fetch_remote_as_a_fix(tmp_path):
    root = write_curriculum(tmp_path / "far", "![Pie](https://example.org/pie.png)\n")
    [problem] = problems_of(root)
    assert "satchel build --fetch-remote" in problem and "beside the lesson" in problem


def test_links_to_other_sites_are_navigation_and_allowed(tmp_path):
    body = ("[A site](https://example.org/page)\n\n<a href=\"https://example.org/other\">other</a>\n\n"
            "[ref link][site]\n\n[site]: https://example.org/ref\n\n![Local](pie.svg)\n\n"
            "[![Video](https://img.example.org/vi/x/0.jpg)](https://video.example.org/watch?v=x)\n")
    root = write_curriculum(tmp_path / "far", body)
    # Only the image inside the last link is loaded by the page; the links are navigation.
    [problem] = problems_of(root)
    assert problem.startswith(f"far/{LESSON}:{BODY_LINE + 10}: image 'https://img.example.org/vi/x/0.jpg' loads from another site")


def test_code_is_ignored(tmp_path):
    body = ("Write `![Pie](https://example.org/pie.png)` or `<img src=\"https://example.org/a.png\">`.\n\n"
            "```html\n<script src=\"https://cdn.example.org/lib.js\"></script>\n<img src=\"//example.org/b.png\">\n```\n\n"
            "<script src=\"https://cdn.example.org/real.js\"></script>\n")
    root = write_curriculum(tmp_path / "far", body)
    [problem] = problems_of(root)  # only the script outside the code
    assert problem.startswith(f"far/{LESSON}:{BODY_LINE + 7}: <script src> 'https://cdn.example.org/real.js'")


# --fetch-remote against a real HTTP server on 127.0.0.1

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


class Files(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []
    routes = {
        "/pie.png": ("image/png", PNG),
        "/thumb/abc.jpg": ("image/jpeg", b"\xff\xd8\xff" + b"0" * 50),
        "/page.html": ("text/html", b"<html></html>"),
        "/big.png": ("image/png", b"0" * 5000),
    }

    def do_GET(self):
        Files.requests.append(self.path)
        content_type, data = self.routes.get(self.path, ("text/plain", None))
        self.send_response(200 if data is not None else 404)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data or b"")))
        self.end_headers()
        self.wfile.write(data or b"")

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Files.requests = []
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    # Video thumbnails come from the loopback server too (no internet here).
    monkeypatch.setattr(remote, "VIDEO_EMBEDS", [(remote.VIDEO_EMBEDS[0][0], "https://www.youtube.com/watch?v={}",
                                                  base + "/thumb/{}.jpg")])
    yield base
    httpd.shutdown()
    httpd.server_close()


def test_build_refuses_remote_images_without_fetch_remote(tmp_path, server, capsys):
    root = write_curriculum(tmp_path / "far", f"[![Pie]({server}/pie.png)](https://example.org/pies)\n")
    assert main(["build", str(root), "-o", str(tmp_path / "site")]) == 1
    err = capsys.readouterr().err
    assert f"far/{LESSON}:5: image '{server}/pie.png' loads from another site" in err and "Nothing was built" in err
    assert Files.requests == []


def test_fetch_remote_builds_pages_that_use_only_their_own_origin(tmp_path, server):
    body = (f"[![Pie]({server}/pie.png)](https://example.org/pies)\n\n"
            f'<img alt="pie" src="{server}/pie.png" srcset="{server}/pie.png 2x">\n\n'
            '<iframe title="Halves explained" src="https://www.youtube.com/embed/abc"></iframe>\n')
    root = write_curriculum(tmp_path / "far", body, french=True)  # the French page falls back to the English lesson
    site = tmp_path / "site"
    assert main(["build", str(root), "-o", str(site), "--fetch-remote"]) == 0
    assert sorted(Files.requests) == ["/pie.png", "/thumb/abc.jpg"]  # each file once

    sources = json.loads((root / remote.CACHE_DIR / remote.SOURCES_FILE).read_text(encoding="utf-8"))
    entry = sources[f"{server}/pie.png"]
    assert entry["bytes"] == len(PNG) and entry["content_type"] == "image/png" and entry["fetched"]
    assert (root / remote.CACHE_DIR / entry["file"]).read_bytes() == PNG

    for page_dir in (site / "maths/shapes/circles", site / "fr/maths/shapes/circles"):
        page = (page_dir / "index.html").read_text(encoding="utf-8")
        assert not FOREIGN_RE.search(page.replace('href="https://example.org/pies"', "")
                                     .replace('href="https://www.youtube.com/watch?v=abc"', ""))
        assert "<iframe" not in page and 'class="satchel-video"' in page and "Halves explained" in page
        sources_in_page = re.findall(r'(?:src|srcset)="([^"\s]+)', page)
        assert len([src for src in sources_in_page if ".satchel-cache/remote/" in src]) == 4  # image, src, srcset, thumbnail
        for src in sources_in_page:
            assert (page_dir / src).resolve().is_file(), src
    assert (site / remote.CACHE_DIR / entry["file"]).read_bytes() == PNG
    assert not (site / remote.CACHE_DIR / remote.SOURCES_FILE).exists()
    pack = json.loads((site / "satchel/packs/en/_shared.json").read_text(encoding="utf-8"))
    assert f"{remote.CACHE_DIR}/{entry['file']}" in [f["url"] for f in pack["files"]]  # downloaded for offline use

    Files.requests.clear()
    assert main(["build", str(root), "-o", str(tmp_path / "again"), "--fetch-remote"]) == 0
    assert Files.requests == []  # cached: the second build makes no request
    build(root, tmp_path / "offline", show_progress=False)  # and a build without the option uses the copies
    assert Files.requests == []


def test_fetch_remote_refuses_a_file_that_is_not_an_image_or_media(tmp_path, server, capsys):
    root = write_curriculum(tmp_path / "far", f"![Page]({server}/page.html)\n\n![Again]({server}/page.html)\n")
    assert main(["build", str(root), "-o", str(tmp_path / "site"), "--fetch-remote"]) == 1
    assert (f"far/{LESSON}:5: --fetch-remote refused '{server}/page.html': the server sent 'text/html', "
            "not an image, audio or video file. Download it yourself into the curriculum and link it locally") in capsys.readouterr().err
    assert not (tmp_path / "site").exists()
    assert Files.requests == ["/page.html"]  # asked once, though used twice
    assert not (root / remote.CACHE_DIR / remote.SOURCES_FILE).exists()


def test_fetch_remote_refuses_a_file_that_is_too_big(tmp_path, server):
    root = write_curriculum(tmp_path / "far", f"![Big]({server}/big.png)\n")
    [problem] = [p.format(root) for p in remote.fetch_remote(root, max_bytes=1000)]
    assert problem.startswith(f"far/{LESSON}:5: --fetch-remote refused '{server}/big.png': "
                              "the file is 5 kB, more than the 1 kB a copy may be.")
    assert main(["build", str(root), "-o", str(tmp_path / "site"), "--fetch-remote"]) == 0  # 5 kB is under 10 MB


def test_a_video_player_without_a_thumbnail_becomes_a_card_with_a_placeholder(tmp_path):
    root = tmp_path / "far"
    body = '<iframe title="Halves" src="https://www.youtube-nocookie.com/embed/xyz" allowfullscreen></iframe>\n'
    sources = {"https://www.youtube-nocookie.com/embed/xyz": {"file": None, "video": "https://www.youtube.com/watch?v=xyz",
                                                               "thumbnail": None}}
    card = remote.localize(body, root / "en/maths/shapes/circles.md", "maths/shapes/circles/", root, sources)
    assert card == ('<a class="satchel-video" href="https://www.youtube.com/watch?v=xyz">'
                    '<span class="satchel-video-placeholder" aria-hidden="true">&#9654;</span>'
                    '<span class="satchel-video-title">Halves</span></a>\n')
