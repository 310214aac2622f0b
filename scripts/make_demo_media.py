"""Make the demo curriculum's media: a short animation of the water cycle (Pillow frames encoded by
ffmpeg to H.264/AAC mp4), its poster, captions in en, fr and ar, transcripts, and a PDF worksheet.

    .venv/bin/python scripts/make_demo_media.py

Needs Pillow and Debian's ffmpeg. The files go to curricula/demo/en/science/water-cycle/ (the
video, its poster, captions and transcripts, shared by every language: a French or Arabic lesson
falls back to the English folder for them) and the worksheet beside them.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "curricula" / "demo" / "en" / "science" / "water-cycle"
NAME = "water-cycle-animation"
WIDTH, HEIGHT, FPS, SECONDS = 432, 240, 12, 12

# (start, end, text) per language: one caption per phase of the animation.
CAPTIONS = {
    "en": ["The sun warms the water of the sea.",
           "Warm water becomes vapour and rises into the air.",
           "High up, the vapour cools and makes clouds.",
           "Rain falls and rivers carry the water back to the sea."],
    "fr": ["Le soleil chauffe l'eau de la mer.",
           "L'eau chaude devient de la vapeur et monte dans l'air.",
           "En haut, la vapeur refroidit et forme des nuages.",
           "La pluie tombe et les rivières ramènent l'eau à la mer."],
    "ar": ["تُسخّن الشمسُ ماءَ البحر.",
           "يتحوّل الماء الدافئ إلى بخار ويصعد في الهواء.",
           "في الأعلى يبرد البخار ويكوّن الغيوم.",
           "يهطل المطر وتعيد الأنهار الماء إلى البحر."],
}
TRANSCRIPT_TITLE = {"en": "The water cycle in four steps", "fr": "Le cycle de l'eau en quatre étapes", "ar": "دورة الماء في أربع خطوات"}
PHASE = SECONDS / len(CAPTIONS["en"])


def frame(t: float) -> Image.Image:
    """The picture at `t` seconds: sea, land, sun, rising vapour, a cloud, rain, a river."""
    image = Image.new("RGB", (WIDTH, HEIGHT), (170, 215, 245))
    draw = ImageDraw.Draw(image)
    phase = int(t // PHASE)
    draw.rectangle([0, 180, 230, HEIGHT], fill=(40, 110, 190))  # the sea
    draw.polygon([(230, 180), (300, 120), (380, 90), (WIDTH, 110), (WIDTH, HEIGHT), (230, HEIGHT)], fill=(110, 160, 80))  # land
    glow = 4 * math.sin(t * 3)
    draw.ellipse([20 - glow, 15 - glow, 70 + glow, 65 + glow], fill=(250, 200, 40))  # the sun
    if phase >= 1:  # vapour rising from the sea
        for i in range(6):
            x = 40 + i * 30
            y = 175 - ((t * 25 + i * 17) % 90)
            draw.line([x, y, x + 6, y - 12, x, y - 24], fill=(255, 255, 255), width=2)
    if phase >= 2:  # the cloud grows
        grow = min(1.0, (t - 2 * PHASE) / PHASE + 0.3)
        for dx, r in ((250, 22), (280, 30), (315, 24)):
            rr = r * grow
            draw.ellipse([dx - rr, 45 - rr, dx + rr, 45 + rr], fill=(235, 235, 240))
    if phase >= 3:  # rain, and the river to the sea
        for i in range(10):
            x = 240 + i * 9
            y = 70 + ((t * 80 + i * 13) % 50)
            draw.line([x, y, x - 2, y + 8], fill=(30, 80, 200), width=2)
        draw.line([(380, 100), (330, 140), (280, 165), (230, 185)], fill=(40, 110, 190), width=6)
    return image


def timestamp(seconds: float) -> str:
    return f"00:{int(seconds) // 60:02d}:{seconds % 60:06.3f}"


def write_captions_and_transcripts() -> None:
    for code, lines in CAPTIONS.items():
        cues = [f"{i + 1}\n{timestamp(i * PHASE)} --> {timestamp((i + 1) * PHASE - 0.1)}\n{text}\n" for i, text in enumerate(lines)]
        (OUT / f"{NAME}.{code}.vtt").write_text("WEBVTT\n\n" + "\n".join(cues), encoding="utf-8")
        body = "\n\n".join(lines)
        (OUT / f"{NAME}.{code}.md").write_text(f"**{TRANSCRIPT_TITLE[code]}**\n\n{body}\n", encoding="utf-8")


def write_video() -> None:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        sys.exit("make_demo_media.py needs ffmpeg: apt-get install ffmpeg")
    command = [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{WIDTH}x{HEIGHT}", "-r", str(FPS),
               "-i", "-", "-f", "lavfi", "-i", f"sine=frequency=330:duration={SECONDS}:sample_rate=22050",
               "-filter:a", "volume=0.05", "-c:v", "libx264", "-preset", "slow", "-crf", "32", "-pix_fmt", "yuv420p",
               "-profile:v", "main", "-threads", "1", "-c:a", "aac", "-b:a", "32k", "-ac", "1", "-shortest",
               "-movflags", "+faststart", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
               "-flags:a", "+bitexact", str(OUT / f"{NAME}.mp4")]
    process = subprocess.Popen(command, stdin=subprocess.PIPE)
    for index in range(FPS * SECONDS):
        process.stdin.write(frame(index / FPS).tobytes())
    process.stdin.close()
    if process.wait() != 0:
        sys.exit("ffmpeg failed to encode the animation")
    frame(SECONDS * 0.8).save(OUT / f"{NAME}.poster.png", optimize=True)


def write_worksheet() -> None:
    """Two A5 pages at 100 dpi, drawn with Pillow and saved with its PDF writer."""
    font = ImageFont.load_default(size=22)
    small = ImageFont.load_default(size=16)
    pages = []
    texts = [["Worksheet: the water cycle", "",
              "1. Where does the water in a cloud come from?", "   ______________________________",
              "2. What makes water evaporate?", "   ______________________________",
              "3. Draw the water cycle with four arrows:", "   sea -> vapour -> cloud -> rain -> river"],
             ["Answers for the teacher", "",
              "1. From the sea, lakes and rivers: vapour rises and cools.",
              "2. The heat of the sun.",
              "3. Evaporation, condensation, rain, rivers back to the sea."]]
    for lines in texts:
        page = Image.new("L", (583, 827), 255)
        draw = ImageDraw.Draw(page)
        draw.text((40, 40), lines[0], fill=0, font=font)
        for i, line in enumerate(lines[1:]):
            draw.text((40, 90 + i * 40), line, fill=0, font=small)
        draw.rectangle([40, 600, 543, 780], outline=0, width=2)
        pages.append(page)
    pages[0].save(OUT / "water-cycle-worksheet.pdf", save_all=True, append_images=pages[1:], resolution=100.0,
                  title="Worksheet: the water cycle")


if __name__ == "__main__":
    write_captions_and_transcripts()
    write_video()
    write_worksheet()
    for path in sorted(OUT.glob(f"{NAME}*")) + [OUT / "water-cycle-worksheet.pdf"]:
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes")
