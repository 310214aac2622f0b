"""Media on the build side (builder/media.py): video, audio, PDF and EPUB in lessons, their checks, images
re-encoded, low-data renditions and the pack lists' media entries (docs/curriculum-format.md, docs/bundle.md)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from satchel.builder import DEMO_CURRICULUM
from satchel.builder.build import build
from satchel.builder.curriculum import load_curriculum
from satchel.builder.media import epub_spine_count, mp4_codecs

from tests.test_check import lesson, write

DEMO_MEDIA = DEMO_CURRICULUM / "en" / "science" / "water-cycle"
VIDEO = DEMO_MEDIA / "water-cycle-animation.mp4"
LESSON = "science/water-cycle/evaporation-and-condensation"
VTT = "WEBVTT\n\n00:00.000 --> 00:02.000\nHello.\n"
CURRICULUM_YML = "id: media-test\nversion: 1.0.0\ntitle: Media\nlanguages:\n  - {code: en, name: English, default: true}\n  - {code: fr, name: Français}\n"
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="Debian's ffmpeg is not installed (scripts/dev.sh installs it)")


def media_curriculum(root: Path, body: str, files: dict[str, bytes] | None = None, config: str = "") -> Path:
    write(root, {"curriculum.yml": CURRICULUM_YML + config, "en/science/index.md": "---\ntitle: Science\n---\n",
                 "en/science/water/index.md": "---\ntitle: Water\n---\n", "en/science/water/cycle.md": lesson("Cycle", body=body),
                 "fr/science/index.md": "---\ntitle: Sciences\n---\n", "fr/science/water/cycle.md": lesson("Cycle", body=body)})
    for name, data in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def messages(root: Path) -> tuple[list[str], list[str]]:
    curriculum, problems = load_curriculum(root)
    return [p.format(root) for p in problems], [w.format(root) for w in (curriculum.warnings if curriculum else [])]


# The demo's video and worksheet, built

def test_the_demo_video_is_in_its_lesson_with_captions_poster_and_transcript(demo_site):
    html = (demo_site / LESSON / "index.html").read_text(encoding="utf-8")
    assert '<figure class="satchel-media satchel-video"><video controls preload="none" playsinline poster="../../../assets/media/' in html
    assert f'data-satchel-media="{LESSON}"' in html and 'data-satchel-duration="12' in html
    tracks = {lang: html.count(f'srclang="{lang}"') for lang in ("en", "fr", "ar")}
    assert tracks == {"en": 1, "fr": 1, "ar": 1}
    assert 'srclang="en" label="English" src="../../../assets/media/' in html and 'label="English" ' in html
    assert '<details class="satchel-transcript">' in html and "The sun warms the water of the sea." in html
    assert "The water cycle in twelve seconds · <bdi>0:12 · 74 KB</bdi></figcaption>" in html
    french = (demo_site / "fr" / LESSON / "index.html").read_text(encoding="utf-8")
    assert 'poster="../../../../assets/media/' in french  # one level deeper: relative URLs still
    default_track = next(t for t in french.split("<track")[1:] if " default" in t.split(">")[0])
    assert 'srclang="fr"' in default_track
    arabic = (demo_site / "ar" / LESSON / "index.html").read_text(encoding="utf-8")
    assert "تُسخّن الشمسُ ماءَ البحر." in arabic and "<summary>النص المكتوب</summary>" in arabic  # the Arabic transcript
    # The sources are not copied as they are: the bundle has each file once, named by its content.
    assert not list(demo_site.rglob("water-cycle-animation*")) and not list(demo_site.rglob("water-cycle-worksheet*"))
    digest = hashlib.sha256(VIDEO.read_bytes()).hexdigest()
    assert (demo_site / f"assets/media/{digest[:20]}.mp4").read_bytes() == VIDEO.read_bytes()


def test_the_worksheet_is_a_link_with_its_size_and_pages(demo_site):
    html = (demo_site / "science/water-cycle/index.html").read_text(encoding="utf-8")
    assert '<a class="satchel-resource" data-satchel-kind="pdf" data-satchel-bytes="' in html
    assert 'data-satchel-pages="2" href="../../assets/media/' in html and "Worksheet: the water cycle · <bdi>PDF · 2 pages · 43 KB</bdi></a>" in html
    arabic = (demo_site / "ar/science/water-cycle/index.html").read_text(encoding="utf-8")
    assert "<bdi>PDF · صفحتان · 43 KB</bdi></a>" in arabic, "the count in the page's language, with its plural form"


def test_pack_lists_list_media_apart_from_the_lessons(demo_site):
    pack = json.loads((demo_site / "satchel/packs/fr/science.json").read_text(encoding="utf-8"))
    kinds = {entry["kind"]: entry for entry in pack["media"]}
    assert set(kinds) == {"video", "pdf"}
    video, pdf = kinds["video"], kinds["pdf"]
    assert video["type"] == "video/mp4" and video["lessons"] == [LESSON] and 11.5 < video["duration"] < 12.5
    assert pdf["pages"] == 2 and pdf["lessons"] == ["science/water-cycle"] and pdf["type"] == "application/pdf"
    for entry in pack["media"]:
        data = (demo_site / entry["url"]).read_bytes()
        assert len(data) == entry["bytes"] and hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert entry["url"] not in {f["url"] for f in pack["files"]}
    small = [f["url"] for f in pack["files"] if f["url"].startswith("assets/media/")]
    assert sorted(Path(u).suffix for u in small) == [".png", ".vtt", ".vtt", ".vtt"]  # poster and captions go with the pages
    index = json.loads((demo_site / "satchel/packs/fr.json").read_text(encoding="utf-8"))
    parts = {part["id"]: part for part in index["parts"]}
    assert parts["science"]["media_files"] == 2 and parts["science"]["media_bytes"] == video["bytes"] + pdf["bytes"]
    assert "media_bytes" not in parts["mathematics"] and parts["science"]["bytes"] == pack["bytes"]


def test_the_demo_media_stay_small():
    sizes = sum(p.stat().st_size for p in DEMO_MEDIA.glob("water-cycle-*"))
    assert sizes < 1_500_000 and VIDEO.stat().st_size < 1_000_000
    video, audio, duration = mp4_codecs(VIDEO)
    assert video == ["avc1"] and audio == ["mp4a"] and 10 <= duration <= 20


# Checks, each with file and line

def test_a_video_without_captions_in_a_language_of_its_lesson_is_a_warning(tmp_path):
    root = media_curriculum(tmp_path, "Watch.\n\n![Film](film.mp4)\n",
                            {"en/science/water/film.mp4": VIDEO.read_bytes(), "en/science/water/film.en.vtt": VTT.encode(),
                             "en/science/water/film.poster.png": (DEMO_MEDIA / "water-cycle-animation.poster.png").read_bytes()})
    problems, warnings = messages(root)
    assert problems == [], "a warning: the lessons of a new translation are not held back for its captions"
    assert warnings == [f"{root.name}/en/science/water/cycle.md:7: video 'film.mp4' has no captions in fr, a language this lesson is in: "
                        "add film.fr.vtt beside it (WebVTT)"]


def test_a_video_without_a_poster_is_a_warning(tmp_path):
    root = media_curriculum(tmp_path, "![Film](film.mp4)\n", {"en/science/water/film.mp4": VIDEO.read_bytes(),
                                                              "en/science/water/film.en.vtt": VTT.encode(), "en/science/water/film.fr.vtt": VTT.encode()})
    problems, warnings = messages(root)
    assert problems == []
    assert warnings == [f"{root.name}/en/science/water/cycle.md:5: video 'film.mp4' has no poster: add film.poster.png (or .jpg, .webp) "
                        "beside it, so a learner sees what it is before downloading it"]


def test_broken_captions_are_reported_on_their_line(tmp_path):
    root = media_curriculum(tmp_path, "![Film](film.mp4)\n", {"en/science/water/film.mp4": VIDEO.read_bytes(),
                                                              "en/science/water/film.en.vtt": b"1\n00:00,000 --> 00:02,000\nHi\n",
                                                              "en/science/water/film.fr.vtt": b"WEBVTT\n\n00:01.000 --> 0:02.000\nSalut\n"})
    problems, _ = messages(root)
    assert f"{root.name}/en/science/water/film.en.vtt:1: does not start with the line 'WEBVTT': it is not a WebVTT captions file " \
           "(an .srt can be converted with `ffmpeg -i captions.srt captions.vtt`)" in problems
    assert f"{root.name}/en/science/water/film.fr.vtt:3: cue timing '00:01.000 --> 0:02.000' does not parse: write it as " \
           "'00:01.000 --> 00:04.500' (minutes:seconds.milliseconds, hours optional)" in problems


def test_a_codec_phones_cannot_play_is_refused(tmp_path):
    hevc = VIDEO.read_bytes().replace(b"avc1", b"hvc1")  # the sample entry of the video track, as an HEVC file has it
    root = media_curriculum(tmp_path, "Text.\n\n![Film](film.mp4)\n\n![Old](old.mov)\n",
                            {"en/science/water/film.mp4": hevc, "en/science/water/old.mov": b"\0\0\0\x14ftypqt  "})
    problems, _ = messages(root)
    assert [p for p in problems if "/en/" in p] == [
        f"{root.name}/en/science/water/cycle.md:7: 'film.mp4' uses the codec HEVC (H.265), which many phones cannot play: a mp4 must have "
        "H.264 video and AAC audio; convert it, for example `ffmpeg -i IN -c:v libx264 -crf 28 -c:a aac -b:a 64k OUT.mp4`",
        f"{root.name}/en/science/water/cycle.md:9: 'old.mov' is a QuickTime file, which phones cannot play: convert it to mp4 (H.264 video, "
        "AAC audio), for example `ffmpeg -i IN -c:v libx264 -crf 28 -c:a aac -b:a 64k OUT.mp4`, or for sound alone to .m4a or .mp3"]


def test_budgets_for_a_file_and_a_page(tmp_path):
    big = Image.effect_noise((900, 900), 100).convert("RGB")
    big.save(tmp_path / "noise.png")
    root = media_curriculum(tmp_path / "c", "![Sheet](sheet.pdf)\n\n![Noise](noise.png)\n",
                            {"en/science/water/sheet.pdf": (DEMO_MEDIA / "water-cycle-worksheet.pdf").read_bytes(),
                             "en/science/water/noise.png": (tmp_path / "noise.png").read_bytes()},
                            config="media:\n  file_budget: 100 KB\n  page_budget: 10 KB\n")
    problems, _ = messages(root)
    assert [p for p in problems if "/fr/" not in p] == [
        "c/en/science/water/cycle.md: this lesson is " + problems[0].split("this lesson is ")[1].split(" without")[0] +
        " without its videos, audio and documents, over the page budget of 10 KB (media: page_budget in curriculum.yml): use fewer or "
        "smaller images, split the lesson, or raise the budget",
    ] or problems
    root2 = media_curriculum(tmp_path / "d", "![Sheet](sheet.pdf)\n", {"en/science/water/sheet.pdf": b"%PDF-1.4\n" + b"0" * 120_000},
                             config="media:\n  file_budget: 100 KB\n")
    problems2, _ = messages(root2)
    assert "d/en/science/water/cycle.md:5: 'sheet.pdf' is 120 KB, over the file budget of 100 KB (media: file_budget in " \
           "curriculum.yml): make it smaller (`satchel build --media low` writes a low-data copy, or re-encode it), split it, " \
           "or raise the budget" in problems2


def test_a_bad_media_setting_is_reported(tmp_path):
    root = media_curriculum(tmp_path, "Text.\n", config="media:\n  max_image_width: huge\n")
    problems, _ = messages(root)
    assert problems == [f"{root.name}/curriculum.yml:7: 'media: max_image_width' must be between 160 and 8192 (such as 1280); got 'huge'"]


def test_epub_chapters_are_counted_and_zip_bombs_refused(tmp_path):
    book = tmp_path / "book.epub"
    with zipfile.ZipFile(book, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr("META-INF/container.xml", '<container><rootfiles><rootfile full-path="OEBPS/book.opf"/></rootfiles></container>')
        archive.writestr("OEBPS/book.opf", '<package><spine><itemref idref="a"/><itemref idref="b"/><itemref idref="c"/></spine></package>')
    assert epub_spine_count(book) == (3, None)
    bomb = tmp_path / "bomb.epub"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("META-INF/container.xml", b"<" + b" " * 10_000_000 + b">")
    pages, error = epub_spine_count(bomb)
    assert pages is None and "META-INF/container.xml is larger than 65536 bytes" in error


# Images re-encoded, low-data renditions: a small curriculum built twice

@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    if shutil.which("ffmpeg") is None:
        pytest.skip("Debian's ffmpeg is not installed (scripts/dev.sh installs it)")
    root = tmp_path_factory.mktemp("media-curriculum")
    photo = Image.radial_gradient("L").resize((2000, 1500)).convert("RGB")
    photo.save(root / "photo.png")
    media_curriculum(root, "![A photo](photo.png)\n\n![Film](film.mp4)\n\n![Icon](icon.png)\n",
                     {"en/science/water/photo.png": (root / "photo.png").read_bytes(),
                      "en/science/water/icon.png": _small_png(),
                      "en/science/water/film.mp4": _source_video(root),
                      "en/science/water/film.en.vtt": VTT.encode(), "en/science/water/film.fr.vtt": VTT.encode()})
    (root / "photo.png").unlink()
    sites = []
    for name in ("one", "two"):
        site = tmp_path_factory.mktemp(name) / "site"
        build(root, site, show_progress=False, precompress=False, media_renditions="low")
        sites.append(site)
    return sites


def _small_png() -> bytes:
    """A diagram: few colours, sharp lines (smaller as a PNG than as a WebP)."""
    import io

    from PIL import ImageDraw
    image = Image.new("RGB", (300, 200), "white")
    draw = ImageDraw.Draw(image)
    for x in range(0, 300, 20):
        draw.line([x, 0, 300 - x, 200], fill=(200, 30, 30), width=3)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _source_video(folder: Path) -> bytes:
    """Three seconds of ffmpeg's test pattern at 640x480, encoded at a high quality as a teacher's camera would."""
    out = folder / "source.mp4"
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=640x480:rate=25:duration=3",
                    "-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-b:a", "128k", "-shortest", str(out)], check=True, timeout=120)
    data = out.read_bytes()
    out.unlink()
    return data


def test_images_are_resized_re_encoded_and_the_same_on_every_build(two_builds):
    one, two = two_builds
    photo = one / "science/water/photo.webp"
    assert photo.is_file() and not (one / "science/water/photo.png").exists()
    with Image.open(photo) as image:
        assert image.format == "WEBP" and image.size == (1280, 960) and not image.info.get("exif")
    assert (one / "science/water/photo.640w.webp").is_file()
    assert (one / "science/water/icon.png").is_file()  # smaller as PNG: kept a PNG
    html = (one / "science/water/cycle/index.html").read_text(encoding="utf-8")
    assert 'src="../photo.webp"' in html and 'width="1280" height="960"' in html
    assert 'srcset="../photo.640w.webp 640w, ../photo.webp 1280w"' in html
    for name in ("science/water/photo.webp", "science/water/photo.640w.webp", "science/water/icon.png"):
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    pack = json.loads((one / "satchel/packs/en/science.json").read_text(encoding="utf-8"))
    assert {"science/water/photo.webp", "science/water/photo.640w.webp"} <= {f["url"] for f in pack["files"]}


def test_the_low_data_rendition_is_smaller_and_listed(two_builds):
    one, two = two_builds
    pack = json.loads((one / "satchel/packs/en/science.json").read_text(encoding="utf-8"))
    (video,) = pack["media"]
    low = video["low"]
    assert low["type"] == "video/mp4" and low["bytes"] < video["bytes"]
    data = (one / low["url"]).read_bytes()
    assert len(data) == low["bytes"] and hashlib.sha256(data).hexdigest() == low["sha256"]
    assert data == (two / low["url"]).read_bytes()  # single-threaded, bitexact: the same bytes on every build
    codecs = mp4_codecs(one / low["url"])
    assert codecs[0] == ["avc1"] and codecs[1] == ["mp4a"]


def test_media_low_without_ffmpeg_says_what_to_install(tmp_path):
    root = media_curriculum(tmp_path / "c", "Text.\n")
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))
    run = subprocess.run([sys.executable, "-m", "satchel.builder.cli", "build", str(root), "-o", str(tmp_path / "site"), "--media", "low"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 1
    assert "satchel build: `--media low` writes low-data copies of videos and audio with ffmpeg, which is not installed: install " \
           "Debian's ffmpeg (apt-get install ffmpeg), or build without --media low (a normal build never needs it)" in run.stderr
    assert not (tmp_path / "site").exists()


def test_a_shared_media_folder_with_transcripts_is_not_a_subject(tmp_path):
    root = media_curriculum(tmp_path, "![Film](/shared/film.mp4)\n",
                            {"shared/film.mp4": VIDEO.read_bytes(), "shared/film.en.vtt": VTT.encode(), "shared/film.fr.vtt": VTT.encode(),
                             "shared/film.en.md": b"The words of the film.\n", "shared/film.poster.png": _small_png()})
    curriculum, problems = load_curriculum(root)
    assert problems == [] and [s.id for s in curriculum.subjects] == ["science"]
    (use,) = curriculum.media_uses[str(root / "en/science/water/cycle.md")]
    assert set(use.captions) == {"en", "fr"} and set(use.transcripts) == {"en"} and use.poster is not None


def _encode(folder: Path, name: str, *options: str) -> Path:
    """One second of ffmpeg's test pattern and a tone, encoded with `options`."""
    out = folder / name
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=1",
                    "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-threads", "1", *options, "-shortest", str(out)],
                   check=True, timeout=120)
    return out


@needs_ffmpeg
def test_real_files_of_each_kind_are_read_or_refused(tmp_path, monkeypatch):
    from satchel.builder import media
    made = tmp_path / "made"
    made.mkdir()
    hevc = _encode(made, "hevc.mp4", "-c:v", "libx265", "-tag:v", "hvc1", "-x265-params", "log-level=none", "-c:a", "aac")
    vp9 = _encode(made, "film.webm", "-c:v", "libvpx-vp9", "-c:a", "libopus")
    mp3 = _encode(made, "song.mp3", "-vn", "-c:a", "libmp3lame")
    ogg = _encode(made, "song.ogg", "-vn", "-c:a", "libvorbis")
    assert media.mp4_codecs(hevc)[0] == ["hvc1"]
    assert "uses the codec HEVC (H.265), which many phones cannot play" in media.probe(hevc)[1]
    for path, kind in ((vp9, "video"), (mp3, "audio"), (ogg, "audio")):
        found, error = media.probe(path)
        assert error is None and found.kind == kind and 0.9 < found.duration < 1.2, (path, error)
    copy = made / "copy.webm"
    copy.write_bytes(vp9.read_bytes())
    monkeypatch.setattr(media.shutil, "which", lambda name: None)
    assert media.probe(copy) == (None, "a WebM's codecs can only be checked with ffprobe, which is not installed: install Debian's "
                                       "ffmpeg (apt-get install ffmpeg), or convert the video to mp4 (H.264 video, AAC audio)")


@needs_ffmpeg
def test_audio_becomes_an_audio_player(tmp_path):
    from satchel.builder import media
    song = _encode(tmp_path, "song.m4a", "-vn", "-c:a", "aac")
    root = media_curriculum(tmp_path / "c", "![A song](song.m4a)\n", {"en/science/water/song.m4a": song.read_bytes()})
    curriculum, problems = load_curriculum(root)
    assert problems == [] and curriculum.warnings == []  # no poster needed for a sound
    html = media.render("![A song](song.m4a)", str(root / "en/science/water/cycle.md"), curriculum.media_uses, "../../../", "en",
                        curriculum, "science/water/cycle", "Transcript")
    assert html.strip().startswith('<figure class="satchel-media satchel-audio"><audio controls preload="none" data-satchel-media=')
    assert 'data-satchel-duration="1' in html and html.count("<audio") == 1 and "playsinline" not in html and "<track" not in html
