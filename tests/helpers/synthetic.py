"""Deterministic synthetic test images: textured part-like pictures, optional defects, and masks.

Everything here is pure numpy + Pillow and depends only on its arguments, so the same call always
returns the same bytes (within one Pillow version). Sizes are free; defaults are small so tests
stay fast.

- ``png_image`` / ``jpeg_image``: a grey "part" (a rounded plate with a machined texture and a
  few holes) on a darker background; ``defect=True`` adds a scratch and a dark blob whose
  positions depend on ``seed``.
- ``defect_regions``: the bounding boxes of the defects drawn for a given size and seed (handy
  to build a matching mask).
- ``mask_png``: a mask with rectangular regions of given colours, as RGBA (transparent black
  background) or as an 8-bit palette PNG with a tRNS chunk, like console-drawn masks.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

Box = tuple[int, int, int, int]

__all__ = [
    "Box",
    "defect_regions",
    "image_array",
    "jpeg_image",
    "mask_png",
    "png_image",
]


def _rng(seed: int, width: int, height: int) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF, width, height])


def defect_regions(width: int = 96, height: int = 64, seed: int = 0) -> list[tuple[str, Box]]:
    """The defects ``image_array(..., defect=True)`` draws: ``[("scratch", box), ("blob", box)]``.

    Boxes are ``(x0, y0, x1, y1)`` with exclusive ``x1``/``y1``, inside the image.
    """
    rng = _rng(seed + 7919, width, height)
    sw = max(4, width // 3)
    sh = max(2, height // 20)
    sx = int(rng.integers(width // 8, max(width // 8 + 1, width - sw - width // 8)))
    sy = int(rng.integers(height // 8, max(height // 8 + 1, height - sh - height // 8)))
    br = max(2, min(width, height) // 10)
    bx = int(rng.integers(width // 6, max(width // 6 + 1, width - 2 * br - width // 6)))
    by = int(rng.integers(height // 6, max(height // 6 + 1, height - 2 * br - height // 6)))
    return [
        ("scratch", (sx, sy, min(width, sx + sw), min(height, sy + sh))),
        ("blob", (bx, by, min(width, bx + 2 * br), min(height, by + 2 * br))),
    ]


def image_array(
    width: int = 96, height: int = 64, seed: int = 0, defect: bool = False, mode: str = "RGB"
) -> np.ndarray:
    """The synthetic picture as a uint8 array (HxWx3 for RGB, HxW for ``mode="L"``)."""
    if width < 1 or height < 1:
        raise ValueError("width and height must be positive")
    rng = _rng(seed, width, height)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    # Background: dark, with a slow gradient.
    base = 40.0 + 20.0 * (xx / max(1, width - 1)) + 10.0 * (yy / max(1, height - 1))
    # The part: a rounded plate covering most of the frame.
    mx, my = width * 0.1, height * 0.1
    inside = (xx >= mx) & (xx < width - mx) & (yy >= my) & (yy < height - my)
    period = 3.0 + float(rng.integers(0, 4))
    texture = 8.0 * np.sin(2.0 * np.pi * (xx + 0.3 * yy) / period)
    plate = 150.0 + texture + float(rng.integers(-10, 11))
    img = np.where(inside, plate, base)
    # A few holes in the plate, deterministic per seed.
    for _ in range(3):
        cx = float(rng.uniform(width * 0.2, width * 0.8))
        cy = float(rng.uniform(height * 0.2, height * 0.8))
        r = max(1.5, min(width, height) * 0.05)
        hole = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
        img = np.where(hole, 30.0, img)
    img = img + rng.normal(0.0, 3.0, size=img.shape).astype(np.float32)
    if defect:
        (_, (sx0, sy0, sx1, sy1)), (_, (bx0, by0, bx1, by1)) = defect_regions(width, height, seed)
        img[sy0:sy1, sx0:sx1] = 235.0
        bcx, bcy = (bx0 + bx1) / 2.0, (by0 + by1) / 2.0
        br = (bx1 - bx0) / 2.0
        blob = (xx + 0.5 - bcx) ** 2 + (yy + 0.5 - bcy) ** 2 <= br * br
        img = np.where(blob, 10.0, img)
    grey = np.clip(img, 0, 255).astype(np.uint8)
    if mode == "L":
        return grey
    tint = np.array([1.0, 0.97, 0.92], dtype=np.float32)
    rgb = np.clip(grey[..., None].astype(np.float32) * tint, 0, 255).astype(np.uint8)
    return rgb


def png_image(
    width: int = 96, height: int = 64, seed: int = 0, defect: bool = False, mode: str = "RGB"
) -> bytes:
    """The synthetic picture as PNG bytes (``mode`` "RGB", "L", "RGBA" or "P")."""
    arr = image_array(width, height, seed, defect, mode="L" if mode == "L" else "RGB")
    image = Image.fromarray(arr, "L" if mode == "L" else "RGB")
    if mode == "RGBA":
        image = image.convert("RGBA")
    elif mode == "P":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def jpeg_image(
    width: int = 96,
    height: int = 64,
    seed: int = 0,
    defect: bool = False,
    mode: str = "RGB",
    quality: int = 90,
) -> bytes:
    """The synthetic picture as baseline JPEG bytes (``mode`` "RGB", "L" or "CMYK")."""
    arr = image_array(width, height, seed, defect, mode="L" if mode == "L" else "RGB")
    image = Image.fromarray(arr, "L" if mode == "L" else "RGB")
    if mode == "CMYK":
        image = image.convert("CMYK")
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _hex_rgb(colour: str) -> tuple[int, int, int]:
    text = colour.lstrip("#")
    if len(text) != 6:
        raise ValueError(f"colour must look like #RRGGBB, got {colour!r}")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def mask_png(
    width: int,
    height: int,
    regions: list[tuple[str, Box]],
    palette: bool = False,
    soft_edges: bool = False,
) -> bytes:
    """A mask PNG of ``width`` x ``height`` with ``regions`` filled in their ``#RRGGBB`` colour.

    The background is fully transparent black. With ``palette=True`` the PNG is 8-bit palette
    with a tRNS chunk (index 0 = transparent black, like masks drawn in the console); otherwise
    RGBA. ``soft_edges=True`` (RGBA only) adds a one-pixel ring of half-transparent pixels with
    the region's colour around each region (anti-aliasing) and a few fully transparent pixels that
    carry the colour value.
    """
    colours: list[tuple[int, int, int]] = []
    for colour, _ in regions:
        rgb = _hex_rgb(colour)
        if rgb not in colours:
            colours.append(rgb)
    if palette:
        if len(colours) > 255:
            raise ValueError("a palette mask holds at most 255 colours")
        index = np.zeros((height, width), dtype=np.uint8)
        for colour, (x0, y0, x1, y1) in regions:
            index[y0:y1, x0:x1] = colours.index(_hex_rgb(colour)) + 1
        image = Image.fromarray(index, "P")
        flat: list[int] = [0, 0, 0]
        for rgb in colours:
            flat.extend(rgb)
        image.putpalette(flat)
        alpha = bytes([0] + [255] * len(colours))
        buf = io.BytesIO()
        image.save(buf, format="PNG", transparency=alpha)
        return buf.getvalue()
    rgba = np.zeros((height, width, 4), dtype=np.uint8)
    for colour, (x0, y0, x1, y1) in regions:
        r, g, b = _hex_rgb(colour)
        if soft_edges:
            ex0, ey0 = max(0, x0 - 1), max(0, y0 - 1)
            ex1, ey1 = min(width, x1 + 1), min(height, y1 + 1)
            ring = rgba[ey0:ey1, ex0:ex1]
            empty = ring[..., 3] == 0
            ring[empty] = (r, g, b, 128)
        rgba[y0:y1, x0:x1] = (r, g, b, 255)
        if soft_edges:
            # A fully transparent pixel carrying the colour: must still count as background.
            tx, ty = min(width - 1, x1 + 2), min(height - 1, y1 + 2)
            if rgba[ty, tx, 3] == 0:
                rgba[ty, tx] = (r, g, b, 0)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    return buf.getvalue()
