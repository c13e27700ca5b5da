"""inspect_image / decode_rgb: each rejection reason with its own bad input, and the good cases."""

from __future__ import annotations

import contextlib
import hashlib
import io
import struct
import time
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from tests.helpers.synthetic import image_array, jpeg_image, png_image
from tests.unit.imaging.pngcraft import (
    adam7_raw,
    chunk,
    grey_png,
    ihdr,
    join_png,
    patch_jpeg_sof,
    png,
    set_jpeg_sof_marker,
    split_png,
)

from openlookout.imaging.images import (
    MAX_IMAGE_BYTES,
    ImageRejected,
    decode_rgb,
    inspect_image,
)


def rejected(data: bytes, name: str = "sample") -> str:
    with pytest.raises(ImageRejected) as info:
        inspect_image(data, name=name)
    return info.value.reason


# ------------------------------------------------------------------------------------ accepted


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "P"])
def test_png_modes_are_accepted_with_header_size(mode: str) -> None:
    data = png_image(120, 70, seed=3, mode=mode)
    info = inspect_image(data, name="part.png")
    assert (info.format, info.width, info.height, info.mode) == ("png", 120, 70, mode)
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_jpeg_modes_are_accepted(mode: str) -> None:
    data = jpeg_image(200, 64, seed=1, mode=mode)
    info = inspect_image(data, name="part.jpg")
    assert (info.format, info.width, info.height, info.mode) == ("jpeg", 200, 64, mode)


def test_progressive_jpeg_is_accepted() -> None:
    buf = io.BytesIO()
    Image.fromarray(image_array(130, 90)).save(buf, "JPEG", progressive=True, quality=80)
    info = inspect_image(buf.getvalue(), name="p.jpg")
    assert (info.width, info.height) == (130, 90)


def test_format_comes_from_content_not_name() -> None:
    assert inspect_image(png_image(), name="really-a-png.jpg").format == "png"
    assert inspect_image(jpeg_image(), name="really-a-jpeg.png").format == "jpeg"


def test_sixteen_bit_png_is_accepted_and_decoded_to_eight_bits() -> None:
    grey = image_array(100, 80, mode="L")
    buf = io.BytesIO()
    Image.fromarray(grey.astype(np.uint16) * 257).save(buf, "PNG")
    info = inspect_image(buf.getvalue(), name="deep.png")
    assert (info.width, info.height) == (100, 80)
    rgb = decode_rgb(buf.getvalue())
    assert rgb.shape == (80, 100, 3)
    assert np.array_equal(rgb[..., 0], grey)


def test_interlaced_png_is_accepted_and_decodes() -> None:
    data = grey_png(67, 65, raw=adam7_raw(67, 65, value=100), interlace=1)
    info = inspect_image(data, name="adam7.png")
    assert (info.width, info.height) == (67, 65)
    assert int(decode_rgb(data)[10, 10, 0]) == 100


def test_limits_are_inclusive() -> None:
    for width, height in ((64, 64), (4096, 64), (64, 4096)):
        info = inspect_image(grey_png(width, height), name="edge.png")
        assert (info.width, info.height) == (width, height)


def test_exactly_eight_mib_is_accepted() -> None:
    base = png_image()
    parts = split_png(base)
    pad = MAX_IMAGE_BYTES - len(base) - 12
    padded = join_png([*parts[:-1], (b"prVt", b"\x00" * pad), parts[-1]])
    assert len(padded) == MAX_IMAGE_BYTES
    assert inspect_image(padded, name="big.png").size == MAX_IMAGE_BYTES


def test_bytes_after_jpeg_end_are_tolerated() -> None:
    data = jpeg_image() + b"\x00trailer written by some camera"
    assert inspect_image(data, name="t.jpg").format == "jpeg"


# ------------------------------------------------------------------------------------ rejected


def test_empty_file() -> None:
    assert "empty" in rejected(b"")


def test_eight_mib_plus_one_byte() -> None:
    reason = rejected(png_image() + b"\x00" * (MAX_IMAGE_BYTES + 1 - len(png_image())))
    assert str(MAX_IMAGE_BYTES + 1) in reason and "limit" in reason


@pytest.mark.parametrize(
    ("width", "height", "words"),
    [
        (63, 100, "width 63 px is below"),
        (100, 63, "height 63 px is below"),
        (5000, 100, "width 5000 px is above"),
    ],
)
def test_dimensions_out_of_range(width: int, height: int, words: str) -> None:
    assert words in rejected(png_image(width, height))


def test_jpeg_too_small() -> None:
    assert "below the minimum" in rejected(jpeg_image(64, 40))


def test_decompression_bomb_png_is_refused_before_inflating() -> None:
    # 20000 x 20000 declared, a few hundred bytes on disk, inflating to 400 MB if anyone tried.
    bomb_raw = zlib.compressobj(9)
    idat = bomb_raw.compress(b"\x00" * 1_000_000) + bomb_raw.flush()
    data = png(ihdr(20000, 20000), chunk(b"IDAT", idat), chunk(b"IEND", b""))
    assert len(data) < 5000
    started = time.perf_counter()
    assert "20000 px is above" in rejected(data)
    assert time.perf_counter() - started < 0.5
    with pytest.raises(ImageRejected):
        decode_rgb(data)


def test_png_whose_data_inflates_beyond_its_header_is_refused() -> None:
    raw = (b"\x00" + b"\x80" * 64) * 64
    data = grey_png(64, 64, raw=raw + b"\x00" * 100_000)
    assert "more bytes than its header implies" in rejected(data)


def test_png_whose_data_is_short_is_refused() -> None:
    raw = (b"\x00" + b"\x80" * 64) * 63
    assert "holds 4095 bytes where the header implies 4160" in rejected(grey_png(64, 64, raw=raw))


@pytest.mark.parametrize(
    ("content", "kind"),
    [("GIF", "GIF"), ("BMP", "BMP"), ("TIFF", "TIFF"), ("WEBP", "WEBP")],
)
def test_other_formats_named_png_are_refused(content: str, kind: str) -> None:
    buf = io.BytesIO()
    Image.fromarray(image_array()).save(buf, content)
    reason = rejected(buf.getvalue(), name="looks-like.png")
    assert kind in reason and "only PNG and JPEG" in reason


def test_unknown_content() -> None:
    assert "neither PNG nor JPEG" in rejected(b"hello, this is text, not a picture")


def test_truncated_png_without_iend() -> None:
    data = png_image()
    assert "no IEND" in rejected(data[:-12])


def test_truncated_png_inside_a_chunk() -> None:
    data = png_image()
    assert "truncated inside its IDAT chunk" in rejected(data[: len(data) // 2])


def test_truncated_png_inside_header() -> None:
    assert "truncated inside its header" in rejected(png_image()[:20])


def test_png_with_corrupt_crc() -> None:
    data = bytearray(png_image())
    data[50] ^= 0xFF  # inside the first IDAT body (signature+IHDR = 33 bytes, then 8 of header)
    assert "CRC mismatch" in rejected(bytes(data))


def test_png_with_corrupt_compressed_data_and_valid_crc() -> None:
    parts = split_png(png_image())
    idat_at = next(i for i, (kind, _) in enumerate(parts) if kind == b"IDAT")
    body = bytearray(parts[idat_at][1])
    body[2:12] = b"\xff" * 10
    parts[idat_at] = (b"IDAT", bytes(body))
    reason = rejected(join_png(parts))
    assert "PNG image data" in reason


def test_png_with_cut_compressed_stream_and_valid_chunks() -> None:
    parts = split_png(png_image(mode="L"))
    idat = b"".join(body for kind, body in parts if kind == b"IDAT")
    cut = [(b"IHDR", parts[0][1]), (b"IDAT", idat[: len(idat) - 40]), (b"IEND", b"")]
    reason = rejected(join_png(cut))
    assert "truncated" in reason or "holds" in reason


def test_png_without_image_data() -> None:
    assert "no image data" in rejected(png(ihdr(64, 64), chunk(b"IEND", b"")))


def test_palette_png_without_palette() -> None:
    raw = (b"\x00" + b"\x00" * 64) * 64
    data = png(ihdr(64, 64, colour=3), chunk(b"IDAT", zlib.compress(raw)), chunk(b"IEND", b""))
    assert "no palette" in rejected(data)


def test_png_with_invalid_bit_depth() -> None:
    data = png(ihdr(64, 64, depth=3), chunk(b"IEND", b""))
    assert "bit depth 3" in rejected(data)


def test_png_with_zero_size() -> None:
    assert "zero width or height" in rejected(png(ihdr(0, 64), chunk(b"IEND", b"")))


def test_truncated_jpeg_inside_scan() -> None:
    data = jpeg_image(128, 128)
    assert "truncated inside its image data" in rejected(data[: len(data) - 300])


def test_jpeg_without_end_marker() -> None:
    assert "truncated" in rejected(jpeg_image()[:-2])


def test_jpeg_truncated_in_headers() -> None:
    assert "truncated inside segment" in rejected(jpeg_image()[:100])


def test_cmyk_jpeg() -> None:
    assert "CMYK" in rejected(jpeg_image(mode="CMYK"))


def test_twelve_bit_jpeg() -> None:
    assert "12-bit JPEG files are not supported" in rejected(patch_jpeg_sof(jpeg_image(), precision=12))


def test_jpeg_with_height_left_to_dnl() -> None:
    assert "height undefined" in rejected(patch_jpeg_sof(jpeg_image(), height=0))


@pytest.mark.parametrize(
    ("marker", "word"), [(0xC3, "lossless"), (0xC9, "arithmetic"), (0xC5, "hierarchical")]
)
def test_unsupported_jpeg_processes(marker: int, word: str) -> None:
    assert word in rejected(set_jpeg_sof_marker(jpeg_image(), marker))


def test_jpeg_garbage_between_segments() -> None:
    data = jpeg_image()
    app0_end = 4 + struct.unpack(">H", data[4:6])[0]
    broken = data[:app0_end] + b"\x12\x34" + data[app0_end:]
    assert "expected a marker" in rejected(broken)


def test_rejection_carries_the_name() -> None:
    with pytest.raises(ImageRejected) as info:
        inspect_image(b"GIF89a......", name="cat.png")
    assert info.value.name == "cat.png"
    assert str(info.value) == info.value.reason


# -------------------------------------------------------------------------------------- decode


def test_decode_rgb_matches_source_pixels_for_png() -> None:
    expected = image_array(96, 64, seed=5)
    assert np.array_equal(decode_rgb(png_image(96, 64, seed=5)), expected)


def test_decode_rgb_of_jpeg_is_close_to_source() -> None:
    expected = image_array(96, 64, seed=5).astype(int)
    decoded = decode_rgb(jpeg_image(96, 64, seed=5, quality=95)).astype(int)
    assert decoded.shape == (64, 96, 3) and decoded.dtype == np.int64
    assert np.abs(decoded - expected).mean() < 6


@pytest.mark.parametrize("mode", ["L", "RGBA", "P"])
def test_decode_rgb_always_gives_three_channels(mode: str) -> None:
    out = decode_rgb(png_image(80, 70, mode=mode))
    assert out.shape == (70, 80, 3) and out.dtype == np.uint8


def test_decode_rgb_refuses_what_inspect_refuses() -> None:
    with pytest.raises(ImageRejected, match="truncated"):
        decode_rgb(jpeg_image()[:-2])


# --------------------------------------------------------------------------------- performance


def test_inspecting_1024px_jpegs_is_fast() -> None:
    images = [jpeg_image(1024, 1024, seed=i) for i in range(4)]
    started = time.perf_counter()
    for i in range(100):
        inspect_image(images[i % 4], name="fast.jpg")
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"100 inspections took {elapsed:.2f}s; need >= 100 images/s"


# ---------------------------------------------------------------------------------- robustness

_SEEDS = [png_image(64, 64, seed=2), jpeg_image(64, 64, seed=2), png_image(64, 64, mode="P")]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.integers(0, len(_SEEDS) - 1),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    cut=st.one_of(st.none(), st.integers(0, 10_000)),
)
def test_mutated_images_never_raise_anything_but_image_rejected(
    which: int, edits: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(_SEEDS[which])
    for position, value in edits:
        data[position % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    for check in (lambda b: inspect_image(b, name="fuzz"), decode_rgb):
        with contextlib.suppress(ImageRejected):
            check(bytes(data))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_are_rejected(data: bytes) -> None:
    for prefix in (b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"):
        with pytest.raises(ImageRejected):
            inspect_image(prefix + data, name="random")


def test_chunk_length_beyond_file_end() -> None:
    data = png(ihdr(64, 64)) + struct.pack(">I", 0x7FFFFFFF) + b"IDAT" + b"\x00" * 20
    assert "truncated inside its IDAT chunk" in rejected(data)


def test_jpeg_with_invalid_sampling_factor() -> None:
    data = bytearray(jpeg_image())
    pos = 2
    while data[pos + 1] not in (0xC0, 0xC1, 0xC2):
        pos += 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
    data[pos + 2 + 2 + 6 + 1] = 0x50  # first component: 5 x 0
    assert "invalid sampling factor for component 1" in rejected(bytes(data))


def test_png_with_invalid_chunk_type() -> None:
    data = png(ihdr(64, 64), chunk(b"ID@T", b"xx"), chunk(b"IEND", b""))
    assert "invalid chunk type" in rejected(data)


def test_png_with_invalid_scanline_filter() -> None:
    raw = bytearray((b"\x00" + b"\x80" * 64) * 64)
    raw[65 * 40] = 9  # filter byte of row 40
    assert "invalid scanline filter type" in rejected(grey_png(64, 64, raw=bytes(raw)))
    raw[65 * 40] = 4
    assert inspect_image(grey_png(64, 64, raw=bytes(raw)), name="ok.png").height == 64
