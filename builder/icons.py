"""App icons for the web manifests, drawn from the curriculum's colours (or resized from its icon)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw

SIZES = (192, 512)
HEADER_SIZE = 64


def _hex(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    if len(colour) == 3:
        colour = "".join(c * 2 for c in colour)
    return tuple(int(colour[i:i + 2], 16) for i in (0, 2, 4))


def draw_icon(size: int, primary: str, accent: str, maskable: bool) -> Image.Image:
    """A satchel: a rounded bag with a flap and a buckle. Maskable icons keep it in the safe zone."""
    scale = 2  # draw large, then shrink: smooth edges without anti-aliasing support in ImageDraw
    big = size * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0) if not maskable else _hex(primary) + (255,))
    draw = ImageDraw.Draw(image)
    if not maskable:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 5, fill=_hex(primary))
    inset = big * (0.26 if maskable else 0.18)  # maskable: the safe zone is the middle 80% circle
    left, top, right, bottom = inset, inset * 1.25, big - inset, big - inset
    width = right - left
    handle = width * 0.18
    draw.rounded_rectangle((left + width * 0.32, top - handle, right - width * 0.32, top + handle), radius=handle, outline="white", width=int(big * 0.035))
    draw.rounded_rectangle((left, top, right, bottom), radius=int(width * 0.14), fill="white")
    flap = top + (bottom - top) * 0.45
    draw.rounded_rectangle((left, top, right, flap), radius=int(width * 0.14), fill=_hex(accent))
    buckle = width * 0.09
    cx = (left + right) / 2
    draw.rounded_rectangle((cx - buckle, flap - buckle, cx + buckle, flap + buckle * 1.3), radius=int(buckle * 0.4), fill=_hex(primary))
    return image.resize((size, size), Image.LANCZOS)


def write_icons(site_dir: Path, primary: str, accent: str, source: Path | None = None) -> list[dict]:
    """Write icons/icon-192.png, icon-512.png and maskable-512.png, and the header's small
    icon-64.png (shown at 32 px; a tenth of the bytes); return the manifest's entries."""
    folder = site_dir / "icons"
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for size in (HEADER_SIZE, *SIZES):
        for maskable in (False, True):
            if maskable and size != 512:
                continue
            if source is not None:
                with Image.open(source) as original:
                    image = original.convert("RGBA").resize((size, size), Image.LANCZOS)
            else:
                image = draw_icon(size, primary, accent, maskable)
            name = f"{'maskable' if maskable else 'icon'}-{size}.png"
            image = image.quantize(64, method=Image.Quantize.FASTOCTREE)  # a few flat colours: a third of the bytes
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", optimize=True)
            (folder / name).write_bytes(buffer.getvalue())
            if size != HEADER_SIZE:
                entries.append({"src": f"icons/{name}", "sizes": f"{size}x{size}", "type": "image/png", "purpose": "maskable" if maskable else "any"})
    return entries
