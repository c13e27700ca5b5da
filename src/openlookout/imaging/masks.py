"""Segmentation masks: checking them against a colour map, decoding them, writing them.

A mask is a PNG of exactly the image's size. ``colors`` maps ``#RRGGBB`` (upper case) to an
anomaly class name; several colours may share one name. Rules for a pixel:

- it belongs to a class when its RGB equals one of the class's colours and its alpha is above 0
  (anti-aliased edges with partial alpha count; fully transparent pixels are background even when
  they carry a class colour);
- otherwise it is background when it is fully transparent, or its colour is black ``#000000``,
  white ``#FFFFFF`` or one of the extra ``background`` colours (a colour map's BACKGROUND entry)
  and that colour is not itself in the map;
- any other visible colour makes the whole mask invalid, and the reason names the colour.

Layouts: palette PNGs (with or without tRNS transparency), RGBA, RGB (no alpha: every pixel is
opaque, so only black/white/declared background colours are background), grayscale ``L``/``LA``
and 1-bit (a grey level ``v`` is the colour ``#vvvvvv``). 16-bit grayscale masks are refused.

Class indices used by ``decode_mask``/``encode_mask_png``: 0 is background, ``k`` (1-based) is the
``k``-th distinct name of ``class_names(colors)``, in the colour map's order.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from openlookout.imaging.images import (
    MAX_IMAGE_BYTES,
    ImageRejected,
    open_checked,
    read_png_header,
    sniff_format,
)

MAX_TYPES_PER_MASK = 20
_HEX_COLOUR = re.compile(r"#?([0-9A-Fa-f]{6})")
_DEFAULT_BACKGROUND = ("#000000", "#FFFFFF")
_FOREIGN_SAMPLE = 1_000_000
_HIDDEN = np.uint32(0xFFFFFFFF)


@dataclass(frozen=True)
class MaskInfo:
    """The anomaly classes a mask shows (colour-map order) and how many pixels each covers."""

    types: tuple[str, ...]
    pixel_counts: dict[str, int] = field(default_factory=dict)


def normalise_colour(text: str) -> str:
    """``'#a1b2c3'`` / ``'A1B2C3'`` -> ``'#A1B2C3'``; ``ValueError`` for anything else."""
    match = _HEX_COLOUR.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a colour of the form #RRGGBB")
    return "#" + match.group(1).upper()


def class_names(colors: Mapping[str, str]) -> list[str]:
    """The distinct class names of a colour map, in its order (index ``k - 1`` is class ``k``)."""
    names: list[str] = []
    for name in colors.values():
        if name not in names:
            names.append(name)
    return names


def _code(colour: str) -> int:
    return int(normalise_colour(colour)[1:], 16)


def _little_endian(code: int) -> int:
    """0xRRGGBB as the low three bytes of a little-endian RGBA word (0xBBGGRR)."""
    return ((code & 0xFF) << 16) | (code & 0xFF00) | ((code >> 16) & 0xFF)


def _code_hex(code: int) -> str:
    return f"#{int(code):06X}"


def inspect_mask(
    data: bytes,
    *,
    name: str,
    colors: Mapping[str, str],
    width: int,
    height: int,
    background: Iterable[str] = (),
) -> MaskInfo:
    """Check a mask for an image of ``width`` x ``height``; raise ``ImageRejected`` with the reason."""
    labels, names = _label_map(
        data, name=name, colors=colors, width=width, height=height, background=background
    )
    counts = np.bincount(labels.ravel(), minlength=len(names) + 1)
    present = {names[k - 1]: int(counts[k]) for k in range(1, len(names) + 1) if counts[k] > 0}
    if len(present) > MAX_TYPES_PER_MASK:
        raise ImageRejected(
            f"the mask shows {len(present)} anomaly types, more than the limit of {MAX_TYPES_PER_MASK}",
            name=name,
        )
    return MaskInfo(types=tuple(present), pixel_counts=present)


def decode_mask(
    data: bytes,
    colors: Mapping[str, str],
    *,
    name: str = "mask",
    width: int | None = None,
    height: int | None = None,
    background: Iterable[str] = (),
) -> np.ndarray:
    """The mask as an ``H x W`` int16 array of class indices (0 background; see module doc).

    ``width``/``height`` default to the mask's own size; the same checks as ``inspect_mask`` apply.
    """
    if width is None or height is None:
        _require_png(data, name)
        header_width, header_height, *_ = read_png_header(data, name)
        width = header_width if width is None else width
        height = header_height if height is None else height
    labels, _ = _label_map(data, name=name, colors=colors, width=width, height=height, background=background)
    return labels


def encode_mask_png(index_array: np.ndarray, colors: Mapping[str, str]) -> bytes:
    """A palette PNG for an array of class indices: index 0 fully transparent black, class ``k``
    opaque in the first colour the map gives its name."""
    arr = np.asarray(index_array)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError("a mask index array must be a non-empty 2-D array")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError("a mask index array must hold integers")
    names = class_names(colors)
    if len(names) > 255:
        raise ValueError("a palette mask holds at most 255 classes")
    if arr.min() < 0 or arr.max() > len(names):
        raise ValueError(f"mask indices must lie in 0..{len(names)}")
    palette = [0, 0, 0]
    for class_name in names:
        colour = next(hex_ for hex_, n in colors.items() if n == class_name)
        code = _code(colour)
        palette.extend(((code >> 16) & 0xFF, (code >> 8) & 0xFF, code & 0xFF))
    image = Image.fromarray(arr.astype(np.uint8), "P")
    image.putpalette(palette)
    buf = io.BytesIO()
    image.save(buf, format="PNG", transparency=bytes([0] + [255] * len(names)), optimize=False)
    return buf.getvalue()


def _require_png(data: bytes, name: str) -> None:
    if not isinstance(data, bytes | bytearray | memoryview) or len(data) == 0:
        raise ImageRejected("the mask is empty", name=name)
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageRejected(
            f"the mask is {len(data)} bytes, more than the limit of {MAX_IMAGE_BYTES} bytes", name=name
        )
    kind = sniff_format(bytes(data[:16]))
    if kind != "png":
        what = "unrecognised content" if kind == "unknown" else kind.upper()
        raise ImageRejected(f"a mask must be a PNG file, this one is {what}", name=name)


def _label_map(
    data: bytes,
    *,
    name: str,
    colors: Mapping[str, str],
    width: int,
    height: int,
    background: Iterable[str],
) -> tuple[np.ndarray, list[str]]:
    names = class_names(colors)
    try:
        class_of_code = {_code(colour): names.index(n) + 1 for colour, n in colors.items()}
        background_codes = {_code(c) for c in (*_DEFAULT_BACKGROUND, *background)} - set(class_of_code)
    except ValueError as exc:
        raise ImageRejected(f"the colour map is invalid: {exc}", name=name) from None
    data = bytes(data)
    _require_png(data, name)
    mask_width, mask_height, *_ = read_png_header(data, name)
    if (mask_width, mask_height) != (width, height):
        raise ImageRejected(
            f"the mask is {mask_width}x{mask_height} px but its image is {width}x{height} px", name=name
        )
    _, image = open_checked(data, name=name)
    if image.mode == "P":
        return _label_palette(image, class_of_code, background_codes, name), names
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        raise ImageRejected("16-bit grayscale masks are not supported; use a palette or RGBA PNG", name=name)
    # One little-endian uint32 per pixel: R | G << 8 | B << 16 | A << 24.
    rgba = np.ascontiguousarray(np.asarray(image.convert("RGBA"), dtype=np.uint8))
    packed = rgba.view("<u4").reshape(rgba.shape[:2])
    # Colour of visible pixels, an impossible value for fully transparent ones.
    colour = np.where(packed >= (1 << 24), packed & 0xFFFFFF, _HIDDEN)
    labels = np.zeros(colour.shape, dtype=np.int16)
    for code, index in class_of_code.items():
        labels[colour == _little_endian(code)] = index
    unexplained = (labels == 0) & (colour != _HIDDEN)
    for code in background_codes:
        unexplained &= colour != _little_endian(code)
    if unexplained.any():
        le = colour[unexplained]
        _reject_foreign(((le & 0xFF) << 16) | (le & 0xFF00) | ((le >> 16) & 0xFF), name)
    return labels, names


def _label_palette(
    image: Image.Image, class_of_code: dict[int, int], background_codes: set[int], name: str
) -> np.ndarray:
    """Classify the (at most 256) palette entries once, then look every pixel up."""
    indices = np.asarray(image, dtype=np.uint8)
    raw_palette = image.getpalette() or []
    palette = np.zeros((256, 3), dtype=np.uint32)
    entries = np.asarray(raw_palette[: 256 * 3], dtype=np.uint32).reshape(-1, 3)
    palette[: len(entries)] = entries
    codes = (palette[:, 0] << 16) | (palette[:, 1] << 8) | palette[:, 2]
    alpha = np.full(256, 255, dtype=np.uint8)
    transparency = image.info.get("transparency")
    if isinstance(transparency, int) and 0 <= transparency < 256:
        alpha[transparency] = 0
    elif isinstance(transparency, bytes | bytearray):
        values = np.frombuffer(bytes(transparency[:256]), dtype=np.uint8)
        alpha[: len(values)] = values
    lookup = np.zeros(256, dtype=np.int16)
    foreign = np.zeros(256, dtype=bool)
    for i in range(256):
        if alpha[i] == 0:
            continue
        code = int(codes[i])
        if code in class_of_code:
            lookup[i] = class_of_code[code]
        elif code not in background_codes:
            foreign[i] = True
    if foreign.any():
        used = np.bincount(indices.ravel(), minlength=256) > 0
        bad = foreign & used
        if bad.any():
            _reject_foreign(codes[indices[bad[indices]]], name)
    return lookup[indices]


def _reject_foreign(foreign_codes: np.ndarray, name: str) -> None:
    total = int(foreign_codes.size)
    distinct = np.unique(foreign_codes.ravel()[:_FOREIGN_SAMPLE])
    shown = ", ".join(_code_hex(int(c)) for c in distinct[:5])
    more = f" and {len(distinct) - 5} more" if len(distinct) > 5 else ""
    raise ImageRejected(
        f"the mask has {total} visible pixels in colours that are not in the colour map: {shown}{more}",
        name=name,
    )
