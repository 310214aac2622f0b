"""Media on the device in Debian's Chromium (docs/bundle.md, "Media"): a subject's videos downloaded
by Range and played offline with seeking and each language's captions; a PDF opened offline; a
50 MB download interrupted and resumed, fetching only the bytes it lacked (counted at the server);
"Remove videos" keeping pages and progress; watching recorded with the xAPI Video Profile's verbs
and taken by the hub.

The site is a small synthetic curriculum built by `satchel build`, one of whose lessons has a WebM
made with Debian's ffmpeg, its captions in en, fr and ar, and a PDF worksheet."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from satchel.builder.build import build

from benchmarks.synthetic import write_curriculum
from tests.conftest import Server
from tests.test_dashboard import Browser, set_password
from tests.test_hub import Hub
from tests.test_packs import download, open_page
from tests.test_sync import wait_for_empty_outbox

pytestmark = pytest.mark.browser

FFMPEG = shutil.which("ffmpeg")
LESSON = "subject-00/unit-000/lesson-00"
LESSON_ID = LESSON
SECONDS = 8
CHUNK = 2 * 1024 * 1024  # packs.js's CHUNK
CAPTIONS = {"en": ("English", "Water rises"), "fr": ("Français", "L’eau monte"), "ar": ("العربية", "يرتفع الماء")}
VIDEO_EXT = "https://w3id.org/xapi/video/extensions/"

# A one-page PDF, written out with its cross-reference table's offsets computed.
PDF_OBJECTS = [
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
    b"<< /Length 44 >>\nstream\nBT /F1 24 Tf 40 100 Td (Worksheet) Tj ET\nendstream",
    b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
]


def pdf_bytes() -> bytes:
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(PDF_OBJECTS, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(PDF_OBJECTS) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(PDF_OBJECTS) + 1, xref)
    return bytes(out)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_entry(site: Path, url: str) -> dict:
    path = site / (url + "index.html" if url.endswith("/") else url)
    data = path.read_bytes()
    return {"url": url, "bytes": len(data), "sha256": sha256(data)}


def put_media(site: Path, data: bytes, ext: str) -> str:
    """A media file where the build puts it: assets/media/<first 20 hex of its sha256>.<ext>."""
    url = f"assets/media/{sha256(data)[:20]}.{ext}"
    (site / url).parent.mkdir(parents=True, exist_ok=True)
    (site / url).write_bytes(data)
    return url


def write_media_lesson(curriculum: Path, video: bytes) -> None:
    """A lesson with a video, its captions in each language, and a PDF worksheet, as an author
    writes them (docs/curriculum-format.md)."""
    lesson = curriculum / "en" / (LESSON + ".md")
    folder = lesson.parent
    (folder / "water-cycle.webm").write_bytes(video)
    for code, (_, words) in CAPTIONS.items():
        (folder / f"water-cycle.{code}.vtt").write_text(f"WEBVTT\n\n00:00.000 --> 00:0{SECONDS - 1}.000\n{words}\n", encoding="utf-8")
    (folder / "worksheet.pdf").write_bytes(pdf_bytes())
    lesson.write_text(lesson.read_text(encoding="utf-8") + "\n\n![The water cycle](water-cycle.webm)\n\n![Worksheet](worksheet.pdf)\n",
                      encoding="utf-8")


def load_media_script(site: Path) -> None:
    """Until theme/base.html loads media.js on pages with media and builder/bundle.py lists it
    with the shared part (the build side's part of the media contract), do both here."""
    page = site / LESSON / "index.html"
    html = page.read_text(encoding="utf-8")
    if "assets/satchel/media.js" in html:
        return
    page.write_text(html.replace("</body>", '<script src="../../../assets/satchel/media.js"></script></body>', 1), encoding="utf-8")
    for stale in (page.with_name("index.html.br"), page.with_name("index.html.gz")):
        stale.unlink(missing_ok=True)
    index_path = site / "satchel" / "packs" / "en.json"
    index = json.loads(index_path.read_text(encoding="utf-8"))
    for entry in index["parts"]:
        list_path = site / entry["url"]
        part = json.loads(list_path.read_text(encoding="utf-8"))
        if entry["id"] == "subject-00":
            part["files"] = [f if f["url"] != LESSON + "/" else file_entry(site, LESSON + "/") for f in part["files"]]
        elif entry["id"] == "_shared":
            part["files"].append(file_entry(site, "assets/satchel/media.js"))
        else:
            continue
        part["files"].sort(key=lambda f: f["url"])
        part["bytes"] = entry["bytes"] = sum(f["bytes"] for f in part["files"])
        entry["files"] = len(part["files"])
        list_path.write_text(json.dumps(part, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        entry["sha256"] = sha256(list_path.read_bytes())
    index["bytes"] = sum(p["bytes"] for p in index["parts"])
    index_path.write_text(json.dumps(index, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def media_site(tmp_path_factory) -> tuple[Path, dict]:
    """A small curriculum with one lesson's video and worksheet, built by `satchel build`."""
    if not FFMPEG:
        pytest.fail("ffmpeg is missing: install Debian's ffmpeg (apt-get install ffmpeg); scripts/dev.sh does")
    root = tmp_path_factory.mktemp("media")
    curriculum = write_curriculum(root / "curriculum", 10)
    video = root / "water-cycle.webm"
    # VP8 (every Chromium plays it), a key frame each second so that a seek lands where it is asked.
    subprocess.run([FFMPEG, "-loglevel", "error", "-f", "lavfi", "-i", f"testsrc=duration={SECONDS}:size=160x120:rate=10",
                    "-c:v", "libvpx", "-b:v", "150k", "-g", "10", "-an", str(video)], check=True)
    write_media_lesson(curriculum, video.read_bytes())
    site = root / "site"
    build(curriculum, site, show_progress=False)
    load_media_script(site)
    index = json.loads((site / "satchel" / "packs" / "en.json").read_text(encoding="utf-8"))
    listed = json.loads((site / "satchel" / "packs" / "en" / "subject-00.json").read_text(encoding="utf-8"))["media"]
    by_kind = {m["kind"]: m for m in listed}
    return site, {"video": by_kind["video"]["url"], "pdf": by_kind["pdf"]["url"], "pdf_sha256": sha256(pdf_bytes()),
                  "video_bytes": video.stat().st_size,
                  "media_bytes": next(p for p in index["parts"] if p["id"] == "subject-00")["media_bytes"]}


class RangeServer(Server):
    """conftest's Server, answering Range requests as a hub does (Starlette's FileResponse) and
    counting the body bytes of each answer: `ranges` is [(path, first byte, bytes sent)]. Its
    `before_get(path, range)` may return False to drop the connection (a network lost)."""

    def start(self) -> RangeServer:
        server = self
        server.ranges = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                wanted = self.headers.get("Range")
                if server.before_get is not None and server.before_get(self.path, wanted) is False:
                    self.close_connection = True
                    return
                server.requests.append(self.path)
                path = Path(self.translate_path(self.path.split("?")[0]))
                match = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted or "")
                if not match or not path.is_file():
                    return super().do_GET()
                size = path.stat().st_size
                first, last = int(match[1]), min(int(match[2] or size - 1), size - 1)
                self.send_response(206)
                self.send_header("Content-Type", self.guess_type(str(path)))
                self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
                self.send_header("Content-Length", str(last - first + 1))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                with path.open("rb") as f:
                    f.seek(first)
                    self.wfile.write(f.read(last - first + 1))
                server.ranges.append((self.path, first, last - first + 1))

            def guess_type(self, path):
                return "video/webm" if path.endswith(".webm") else super().guess_type(path)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), lambda *a: Handler(*a, directory=str(self.folder)))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self


@pytest.fixture
def range_server(media_site, tmp_path):
    site = tmp_path / "site"
    shutil.copytree(media_site[0], site)
    server = RangeServer(site).start()
    yield server, site, media_site[1]
    server.stop()


def download_videos(page) -> None:
    page.wait_for_selector("[data-satchel-media-bar][data-state=absent]", timeout=20000)
    page.click("[data-satchel-media-bar] button")
    page.wait_for_selector("[data-satchel-media-bar][data-state=installed]", timeout=60000)


def go_offline(context, server) -> None:
    server.stop()
    context.set_offline(True)


SEEK = """async ([target]) => {
  const v = document.querySelector('video');
  v.muted = true;
  await v.play();
  await new Promise((ok) => v.readyState >= 2 ? ok() : v.addEventListener('loadeddata', ok, { once: true }));
  v.pause();
  const seeked = new Promise((ok) => v.addEventListener('seeked', ok, { once: true }));
  v.currentTime = target;
  await seeked;
  return { time: v.currentTime, duration: v.duration, width: v.videoWidth, error: v.error && v.error.code };
}"""

CAPTIONS_LOADED = """async () => {
  const v = document.querySelector('video');
  const tracks = Array.from(v.querySelectorAll('track'));
  tracks.forEach((t) => { t.track.mode = 'hidden'; });
  await Promise.all(tracks.map((t) => t.readyState === 2 ? null : new Promise((ok, no) => {
    t.addEventListener('load', ok, { once: true });
    t.addEventListener('error', () => no(new Error(t.srclang + ' did not load')), { once: true });
  })));
  return tracks.map((t) => [t.srclang, t.readyState, t.track.cues.length, t.track.cues[0].text]);
}"""


def test_a_downloaded_video_plays_and_seeks_offline_with_each_languages_captions(range_server, context):
    server, site, media = range_server
    page = open_page(context, server.url + LESSON + "/")
    download(page, "subject-00")
    bar = page.locator("[data-satchel-media-bar]")
    page.wait_for_selector("[data-satchel-media-bar][data-state=absent]", timeout=20000)
    assert int(bar.locator("[data-satchel-media-size]").get_attribute("data-bytes")) == media["media_bytes"], "the videos' size, shown before downloading"
    assert "With videos, " in bar.locator("button").text_content()
    download_videos(page)
    assert "Remove videos (" in bar.locator("button").text_content()
    fetched = [r for r in server.ranges if r[0].endswith(".webm")]
    assert fetched and sum(n for _, _, n in fetched) == media["video_bytes"], "the video, fetched once by Range"

    go_offline(context, server)
    page.goto(server.url + LESSON + "/")
    seek = page.evaluate(SEEK, [SECONDS / 2])
    assert seek["error"] is None and seek["width"] == 160
    assert abs(seek["duration"] - SECONDS) < 0.5
    assert abs(seek["time"] - SECONDS / 2) < 0.5, seek
    assert page.evaluate(CAPTIONS_LOADED) == [[code, 2, 1, words] for code, (_, words) in CAPTIONS.items()]
    assert page.locator(".satchel-media__absent").count() == 0


def test_a_video_not_on_the_phone_says_so_offline_and_keeps_its_captions(range_server, context):
    server, site, media = range_server
    page = open_page(context, server.url + LESSON + "/")
    download(page, "subject-00")  # the lessons only
    go_offline(context, server)
    page.goto(server.url + LESSON + "/")
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; v.play().catch(() => {}); }")
    page.wait_for_selector(".satchel-media__absent")
    assert page.text_content(".satchel-media__absent") == "This video is not on this phone: download the subject's videos."
    assert [row[:3] for row in page.evaluate(CAPTIONS_LOADED)] == [[code, 2, 1] for code in CAPTIONS]


def test_a_downloaded_pdf_opens_offline(range_server, context):
    server, site, media = range_server
    page = open_page(context, server.url + LESSON + "/")
    download(page, "subject-00")
    download_videos(page)
    go_offline(context, server)
    page.goto(server.url + LESSON + "/")
    href = page.get_attribute("a.satchel-resource", "href")
    # Headless Chromium has no PDF viewer (it would download the file): what it would show is the
    # service worker's answer at the link's address, the whole file, as a PDF.
    opened = page.evaluate("""async (href) => {
      const r = await fetch(href);
      const bytes = await r.arrayBuffer();
      const hex = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
      return [r.status, r.headers.get('content-type'), hex];
    }""", href)
    assert opened == [200, "application/pdf", media["pdf_sha256"]]


def test_an_interrupted_50_mb_download_resumes_at_the_first_missing_byte(range_server, context):
    server, site, media = range_server
    data = os.urandom(50_000_000)
    url = put_media(site, data, "mp4")
    file = {"url": url, "sha256": sha256(data), "bytes": len(data), "type": "video/mp4", "kind": "video", "lessons": [LESSON_ID]}
    page = open_page(context, server.url + LESSON + "/")
    allowed = 10

    def drop_after_ten(path, wanted):
        """The network goes at the eleventh piece (asked by its first byte, whatever the retries)."""
        if path.endswith(".mp4") and wanted and int(wanted.split("=")[1].split("-")[0]) >= allowed * CHUNK:
            return False
        return None

    server.before_get = drop_after_ten
    run = """async ([file]) => {
      const packs = window.satchelMedia.packs;
      const plan = { code: 'en', parts: [{ id: 'big', media: [file] }], todo: [file], bytes: file.bytes };
      try { await packs.downloadMedia(plan); return 'done'; } catch (e) { return 'failed: ' + e.message; }
    }"""
    assert page.evaluate(run, [file]).startswith("failed")
    first = [(start, n) for path, start, n in server.ranges if path.endswith(".mp4")]
    assert first == [(k * CHUNK, CHUNK) for k in range(allowed)]
    assert page.evaluate("async () => (await (await caches.open('satchel-media-parts')).keys()).length") == allowed

    server.before_get = None
    before = len(server.ranges)
    assert page.evaluate(run, [file]) == "done"
    second = [(start, n) for path, start, n in server.ranges[before:] if path.endswith(".mp4")]
    assert second[0][0] == allowed * CHUNK, "resumed at the first missing byte"
    assert sum(n for _, n in second) == len(data) - allowed * CHUNK, "only the missing bytes fetched"
    stored = page.evaluate("""async (href) => {
      const r = await (await caches.open('satchel-media')).match(href);
      return [r.headers.get('x-satchel-sha256'), (await r.blob()).size,
              (await (await caches.open('satchel-media-parts')).keys()).length];
    }""", server.url + url)
    assert stored == [sha256(data), len(data), 0], "kept whole once its hash matched, its pieces gone"


def test_a_full_device_is_told_and_keeps_what_it_had(range_server, context):
    server, site, media = range_server
    page = open_page(context, server.url + LESSON + "/")
    download(page, "subject-00")
    page.wait_for_selector("[data-satchel-media-bar][data-state=absent]", timeout=20000)
    # The browser says little room is left: the download is refused before it starts.
    page.evaluate("() => { navigator.storage.estimate = async () => ({ quota: 1000, usage: 900 }); }")
    page.click("[data-satchel-media-bar] button")
    page.wait_for_function("document.querySelector('[data-satchel-media-status]').textContent.includes('not enough space')")
    assert page.get_attribute("[data-satchel-media-bar]", "data-state") == "absent"
    assert page.evaluate("async () => (await (await caches.open('satchel-packs')).keys()).length") >= 2, "the lessons stay"


def test_removing_videos_keeps_pages_and_progress(range_server, context):
    server, site, media = range_server
    page = open_page(context, server.url + LESSON + "/")
    download(page, "subject-00")
    download_videos(page)
    page.wait_for_function("window.satchelProgress.ready.then(() => true)")
    before = page.evaluate("async () => (await window.satchelProgress.db()).count('statements')")
    assert before > 0
    page.click("[data-satchel-media-bar] button")  # Remove videos
    page.wait_for_selector("[data-satchel-media-bar][data-state=absent]")
    assert page.text_content("[data-satchel-media-status]") == "Videos removed. The lessons and your progress stay."
    assert page.evaluate("async () => (await (await caches.open('satchel-media')).keys()).length") == 0
    go_offline(context, server)
    assert page.goto(server.url + LESSON + "/").ok, "the lesson stays on the device"
    assert page.locator("h1").count() == 1
    after = page.evaluate("async () => (await window.satchelProgress.db()).count('statements')")
    assert after >= before, "no progress lost"


WATCH = """async () => {
  await window.satchelProgress.ready;
  const v = document.querySelector('video');
  v.muted = true;
  v.playbackRate = 4;
  await v.play();
  await new Promise((ok) => v.addEventListener('ended', ok, { once: true }));
  const w = window.satchelMedia.watches[0];
  return w.progress();
}"""


def test_watching_a_video_is_recorded_with_the_video_profile_and_the_hub_takes_it(media_site, context, tmp_path):
    site, media = media_site
    hub = Hub([site], tmp_path / "data")
    try:
        page = context.new_page()
        page.goto(hub.url + LESSON + "/")
        assert page.evaluate(WATCH) >= 0.95
        page.evaluate("""async () => { const v = document.querySelector('video');
          const s = new Promise((ok) => v.addEventListener('seeked', ok, { once: true })); v.currentTime = 2; await s; }""")
        statements = []
        deadline = time.monotonic() + 10
        while not any(s["verb"]["id"].endswith("/seeked") for s in statements):  # recorded once the scrub stops
            assert time.monotonic() < deadline, "no 'seeked' statement"
            statements = page.evaluate("""async () => window.satchelProgress.statementsOf((await window.satchelProgress.currentProfile()).id)""")
        video = [s for s in statements if s["object"]["id"].endswith("#video-0")]
        verbs = {s["verb"]["id"] for s in video}
        assert {"https://w3id.org/xapi/video/verbs/played", "http://adlnet.gov/expapi/verbs/completed",
                "https://w3id.org/xapi/video/verbs/seeked"} <= verbs
        assert len(video) <= 6, "one statement per action, not per timeupdate"
        completed = next(s for s in video if s["verb"]["id"].endswith("/completed"))
        assert completed["result"]["extensions"][VIDEO_EXT + "progress"] >= 0.95
        assert completed["object"]["definition"]["type"] == "https://w3id.org/xapi/video/activity-type/video"
        assert completed["context"]["contextActivities"]["parent"][0]["id"].endswith(":lesson:" + LESSON_ID)
        seeked = next(s for s in video if s["verb"]["id"].endswith("/seeked"))
        assert seeked["result"]["extensions"][VIDEO_EXT + "time-to"] == 2
        state = page.evaluate("async () => window.satchelProgress.summary((await window.satchelProgress.currentProfile()).id)")
        lesson = state["lessons"][LESSON_ID]
        assert lesson["videos"]["0"] >= 0.95 and not lesson["completed"], "a video watched does not finish its lesson"
        page.evaluate("window.satchelProgress.sync()")
        wait_for_empty_outbox(page)
        assert {s["id"] for s in video} <= set(hub.stored()), "the hub took them"
        from satchel.hub.xapi import problem
        assert [problem(s) for s in video] == [None] * len(video), "xAPI 2.0 statements an LRS takes (hub/upstream.py)"
        from satchel.hub.report import watched_of
        from satchel.hub.store import Store
        store = Store.in_data_dir(tmp_path / "data")
        try:
            learner = statements[0]["actor"]["account"]["name"]
            assert watched_of(store, "synthetic", learner)[LESSON_ID] >= 0.95
        finally:
            store.close()
        set_password(hub)
        teacher = Browser(hub)
        teacher.sign_in()
        status, _, html = teacher.get(f"_hub/synthetic/learner/{learner}")
        row = re.search(rf'<tr data-lesson="{re.escape(LESSON_ID)}">.*?</tr>', html, re.S)
        assert status == 200 and row, status
        shown = re.search(r'data-satchel-watched="([0-9.]+)">▶ (\d+)%', row.group(0))
        assert shown and float(shown[1]) >= 0.95 and int(shown[2]) >= 95, "the dashboard shows the fraction watched per lesson"
    finally:
        hub.stop()


def video_file(extensions: dict) -> dict:
    from tests.progress_files import progress_file
    data = progress_file(3)
    s = data["statements"][0]
    s["verb"] = {"id": "https://w3id.org/xapi/video/verbs/played", "display": {"en": "played"}}
    s["object"] = {"objectType": "Activity", "id": s["object"]["id"] + "#video-0",
                   "definition": {"type": "https://w3id.org/xapi/video/activity-type/video"}}
    s["result"] = {"extensions": extensions}
    return data


def test_the_hub_checks_a_video_statements_extensions_as_it_checks_the_context():
    from satchel.hub.progress import BadProgress, check
    check(video_file({VIDEO_EXT + "time": 1.5, VIDEO_EXT + "progress": 0.25}), {"satchel-demo"})
    deep: dict = {}
    nested = deep
    for _ in range(9):
        nested["a"] = {}
        nested = nested["a"]
    with pytest.raises(BadProgress, match=r"statement 1: result.extensions is nested more than 8 deep"):
        check(video_file({VIDEO_EXT + "time": deep}), {"satchel-demo"})
    with pytest.raises(BadProgress, match="progress"):
        check(video_file({VIDEO_EXT + "progress": 1.5}), {"satchel-demo"})


def test_a_video_watched_to_its_end_does_not_mark_its_lesson_done_on_the_dashboard():
    from satchel.hub.store import summarise
    cells, days = {}, {}
    lesson = "urn:satchel:demo:lesson:science/water-cycle/evaporation"
    summarise(cells, days, "demo", "completed", lesson + "#video-0", "2026-12-01T10:00:00Z", None)
    assert cells["science/water-cycle/evaporation"][1] == 0
    summarise(cells, days, "demo", "completed", lesson, "2026-12-01T10:05:00Z", None)
    assert cells["science/water-cycle/evaporation"][1] == 1


def test_the_offline_dialog_offers_lessons_only_or_with_videos_and_with_videos_plays_offline(range_server, context):
    server, site, media = range_server
    page = open_page(context, server.url)  # the home page: no video on it, media.js not loaded yet
    page.click("[data-satchel-offline]")
    row = page.locator("[data-satchel-parts] li[data-part='subject-00']")
    row.wait_for()
    lessons = int(row.locator("span").get_attribute("data-bytes"))
    assert row.locator("span").text_content().startswith("Lessons only, ")
    videos = row.locator("button[data-action=media]")
    assert int(videos.get_attribute("data-bytes")) == lessons + media["media_bytes"], "the true total, shown before downloading"
    assert videos.text_content().startswith("With videos, ")
    videos.click()
    page.wait_for_selector("[data-satchel-parts] li[data-part='subject-00'][data-state=installed]", timeout=60000)
    fetched = [r for r in server.ranges if r[0].endswith(".webm")]
    assert sum(n for _, _, n in fetched) == media["video_bytes"]

    go_offline(context, server)
    page.goto(server.url + LESSON + "/")
    seek = page.evaluate(SEEK, [SECONDS / 2])
    assert seek["error"] is None and abs(seek["time"] - SECONDS / 2) < 0.5, seek
