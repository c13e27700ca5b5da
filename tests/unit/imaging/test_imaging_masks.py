"""inspect_mask / decode_mask / encode_mask_png against the colour rules of the module doc."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from tests.helpers.synthetic import jpeg_image, mask_png

from openlookout.imaging.images import ImageRejected
from openlookout.imaging.masks import (
    MAX_TYPES_PER_MASK,
    class_names,
    decode_mask,
    encode_mask_png,
    inspect_mask,
    normalise_colour,
)

W, H = 96, 64
COLOURS = {"#23A436": "crack", "#D62728": "chip"}
CRACK = ("#23A436", (2, 3, 12, 8))  # 10 x 5 = 50 px
CHIP = ("#d62728", (40, 20, 44, 30))  # 4 x 10 = 40 px


def png_of(array: np.ndarray, mode: str | None, **save: object) -> bytes:
    buf = io.BytesIO()
    (Image.fromarray(array) if mode is None else Image.fromarray(array, mode)).save(buf, "PNG", **save)
    return buf.getvalue()


def rejected(data: bytes, colors: dict[str, str] = COLOURS, width: int = W, height: int = H) -> str:
    with pytest.raises(ImageRejected) as info:
        inspect_mask(data, name="mask.png", colors=colors, width=width, height=height)
    return info.value.reason


@pytest.mark.parametrize("palette", [False, True])
def test_counts_and_types_for_rgba_and_palette(palette: bool) -> None:
    info = inspect_mask(
        mask_png(W, H, [CRACK, CHIP], palette=palette), name="m", colors=COLOURS, width=W, height=H
    )
    assert info.types == ("crack", "chip")
    assert info.pixel_counts == {"crack": 50, "chip": 40}


def test_only_present_types_are_listed() -> None:
    info = inspect_mask(mask_png(W, H, [CHIP]), name="m", colors=COLOURS, width=W, height=H)
    assert info.types == ("chip",)


def test_empty_mask_has_no_types() -> None:
    info = inspect_mask(mask_png(W, H, []), name="m", colors=COLOURS, width=W, height=H)
    assert info.types == () and info.pixel_counts == {}


def test_soft_edges_count_and_transparent_coloured_pixels_do_not() -> None:
    data = mask_png(W, H, [CRACK], soft_edges=True)
    rgba = np.asarray(Image.open(io.BytesIO(data)))
    partial = int(((rgba[..., 3] > 0) & (rgba[..., 3] < 255)).sum())
    hidden = int(((rgba[..., 3] == 0) & (rgba[..., 1] == 0xA4)).sum())
    assert partial > 0 and hidden == 1
    info = inspect_mask(data, name="m", colors=COLOURS, width=W, height=H)
    assert info.pixel_counts == {"crack": 50 + partial}


def test_console_style_palette_with_partial_alpha_entries() -> None:
    index = np.zeros((H, W), dtype=np.uint8)
    index[10:20, 10:20] = 1  # opaque crack
    index[9, 10:20] = 2  # anti-aliased edge: same RGB, alpha 90
    index[21, 10:20] = 3  # same RGB, alpha 0: background
    image = Image.fromarray(index, "P")
    image.putpalette([0, 0, 0, 0x23, 0xA4, 0x36, 0x23, 0xA4, 0x36, 0x23, 0xA4, 0x36])
    buf = io.BytesIO()
    image.save(buf, "PNG", transparency=bytes([0, 255, 90, 0]))
    info = inspect_mask(buf.getvalue(), name="m", colors=COLOURS, width=W, height=H)
    assert info.pixel_counts == {"crack": 110}


def test_rgb_mask_with_white_or_black_background() -> None:
    for background in (255, 0):
        rgb = np.full((H, W, 3), background, dtype=np.uint8)
        rgb[5:10, 5:15] = (0xD6, 0x27, 0x28)
        info = inspect_mask(png_of(rgb, "RGB"), name="m", colors=COLOURS, width=W, height=H)
        assert info.pixel_counts == {"chip": 50}


def test_palette_without_transparency_like_ground_truth_output() -> None:
    index = np.zeros((H, W), dtype=np.uint8)
    index[0:4, 0:4] = 1
    image = Image.fromarray(index, "P")
    image.putpalette([255, 255, 255, 0x23, 0xA4, 0x36])
    buf = io.BytesIO()
    image.save(buf, "PNG")
    assert inspect_mask(buf.getvalue(), name="m", colors=COLOURS, width=W, height=H).pixel_counts == {
        "crack": 16
    }


def test_declared_background_colour_is_background() -> None:
    rgb = np.full((H, W, 3), 0x80, dtype=np.uint8)
    rgb[0:2, 0:2] = (0x23, 0xA4, 0x36)
    data = png_of(rgb, "RGB")
    assert "#808080" in rejected(data)
    info = inspect_mask(data, name="m", colors=COLOURS, width=W, height=H, background=["#808080"])
    assert info.pixel_counts == {"crack": 4}


def test_grayscale_mask_uses_grey_level_as_colour() -> None:
    grey = np.zeros((H, W), dtype=np.uint8)
    grey[0:3, 0:3] = 0x40
    info = inspect_mask(png_of(grey, "L"), name="m", colors={"#404040": "dent"}, width=W, height=H)
    assert info.pixel_counts == {"dent": 9}


def test_colour_map_order_and_shared_names() -> None:
    colours = {"#D62728": "chip", "#23A436": "crack", "#112233": "chip"}
    data = mask_png(W, H, [CRACK, CHIP, ("#112233", (60, 0, 62, 2))])
    info = inspect_mask(data, name="m", colors=colours, width=W, height=H)
    assert info.types == ("chip", "crack")
    assert info.pixel_counts == {"chip": 44, "crack": 50}


def test_lower_case_colour_keys_are_understood() -> None:
    info = inspect_mask(mask_png(W, H, [CRACK]), name="m", colors={"#23a436": "crack"}, width=W, height=H)
    assert info.types == ("crack",)


# ------------------------------------------------------------------------------------ rejected


def test_wrong_size() -> None:
    assert "95x64 px but its image is 96x64 px" in rejected(mask_png(95, 64, [CRACK]))


def test_foreign_colour_is_named() -> None:
    reason = rejected(mask_png(W, H, [CRACK, ("#123456", (0, 0, 3, 3))]))
    assert "#123456" in reason and "9 visible pixels" in reason


def test_foreign_colour_in_palette_mask_is_named() -> None:
    reason = rejected(mask_png(W, H, [CRACK, ("#ABCDEF", (0, 0, 2, 2))], palette=True))
    assert "#ABCDEF" in reason and "4 visible pixels" in reason


def test_unused_foreign_palette_entry_is_fine() -> None:
    index = np.zeros((H, W), dtype=np.uint8)
    image = Image.fromarray(index, "P")
    image.putpalette([0, 0, 0, 0x12, 0x34, 0x56])
    buf = io.BytesIO()
    image.save(buf, "PNG", transparency=0)
    assert inspect_mask(buf.getvalue(), name="m", colors=COLOURS, width=W, height=H).types == ()


def test_many_foreign_colours_are_summarised() -> None:
    rgb = np.random.default_rng(1).integers(1, 254, size=(H, W, 3), dtype=np.uint8)
    reason = rejected(png_of(rgb, "RGB"))
    assert "and" in reason and "more" in reason and len(reason) < 300


def test_mask_not_png() -> None:
    assert "must be a PNG file, this one is JPEG" in rejected(jpeg_image(W, H))


def test_mask_garbage() -> None:
    assert "must be a PNG" in rejected(b"not an image at all")


def test_mask_empty() -> None:
    assert "empty" in rejected(b"")


def test_truncated_mask() -> None:
    data = mask_png(W, H, [CRACK])
    assert "truncated" in rejected(data[:-12])


def test_more_than_twenty_types() -> None:
    regions = []
    colours = {}
    for i in range(MAX_TYPES_PER_MASK + 1):
        colour = f"#{i + 1:02X}{i + 1:02X}{i + 1:02X}"
        colours[colour] = f"defect-{i}"
        regions.append((colour, (i * 4, 0, i * 4 + 2, 2)))
    reason = rejected(mask_png(W, H, regions), colors=colours)
    assert "21 anomaly types" in reason and "20" in reason
    twenty = {k: v for k, v in list(colours.items())[:20]}
    info = inspect_mask(mask_png(W, H, regions[:20]), name="m", colors=twenty, width=W, height=H)
    assert len(info.types) == 20


def test_sixteen_bit_grey_mask_is_refused() -> None:
    grey = np.zeros((H, W), dtype=np.uint16)
    assert "16-bit" in rejected(png_of(grey, None))


def test_bad_colour_map_is_reported_not_crashing() -> None:
    assert "colour map is invalid" in rejected(mask_png(W, H, [CRACK]), colors={"green": "crack"})


# ---------------------------------------------------------------------------- decode / encode


@pytest.mark.parametrize("palette", [False, True])
def test_decode_mask_gives_class_indices(palette: bool) -> None:
    labels = decode_mask(mask_png(W, H, [CRACK, CHIP], palette=palette), COLOURS)
    assert labels.shape == (H, W)
    assert class_names(COLOURS) == ["crack", "chip"]
    assert int((labels == 1).sum()) == 50 and int((labels == 2).sum()) == 40
    assert labels[3, 2] == 1 and labels[20, 40] == 2 and labels[0, 0] == 0


def test_decode_mask_checks_expected_size() -> None:
    with pytest.raises(ImageRejected, match="but its image is 100x64"):
        decode_mask(mask_png(W, H, [CRACK]), COLOURS, width=100, height=64)


def test_encode_then_decode_round_trips() -> None:
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, size=(H, W)).astype(np.int16)
    data = encode_mask_png(labels, COLOURS)
    image = Image.open(io.BytesIO(data))
    assert image.mode == "P" and image.size == (W, H)
    assert np.array_equal(decode_mask(data, COLOURS), labels)
    info = inspect_mask(data, name="m", colors=COLOURS, width=W, height=H)
    assert info.pixel_counts == {"crack": int((labels == 1).sum()), "chip": int((labels == 2).sum())}
    # Background is transparent in the written file.
    assert np.asarray(image.convert("RGBA"))[..., 3][labels == 0].max() == 0


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 2, 2), dtype=np.int16),
        np.full((4, 4), 3, dtype=np.int16),
        np.zeros((4, 4)),
        np.zeros((0, 4), int),
    ],
)
def test_encode_rejects_bad_arrays(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        encode_mask_png(bad, COLOURS)


def test_normalise_colour() -> None:
    assert normalise_colour("#a1b2c3") == "#A1B2C3"
    assert normalise_colour("A1B2C3") == "#A1B2C3"
    with pytest.raises(ValueError):
        normalise_colour("#12345")


def test_colour_key_transparency_of_rgb_and_grey_masks() -> None:
    rgb = np.full((H, W, 3), 0x80, dtype=np.uint8)
    rgb[0:2, 0:2] = (0x23, 0xA4, 0x36)
    data = png_of(rgb, "RGB", transparency=(0x80, 0x80, 0x80))
    assert inspect_mask(data, name="m", colors=COLOURS, width=W, height=H).pixel_counts == {"crack": 4}
    grey = np.full((H, W), 0x80, dtype=np.uint8)
    grey[0:3, 0:3] = 0x40
    data = png_of(grey, "L", transparency=0x80)
    info = inspect_mask(data, name="m", colors={"#404040": "dent"}, width=W, height=H)
    assert info.pixel_counts == {"dent": 9}


_MASK_SEEDS = [mask_png(W, H, [CRACK, CHIP]), mask_png(W, H, [CRACK, CHIP], palette=True)]


@settings(max_examples=200, deadline=None)
@given(
    which=st.integers(0, 1),
    edits=st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 255)), max_size=6),
    cut=st.one_of(st.none(), st.integers(0, 5000)),
)
def test_mutated_masks_never_raise_anything_but_image_rejected(
    which: int, edits: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(_MASK_SEEDS[which])
    for position, value in edits:
        data[position % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    try:
        info = inspect_mask(bytes(data), name="fuzz", colors=COLOURS, width=W, height=H)
    except ImageRejected as exc:
        assert exc.reason
        return
    assert set(info.types) <= {"crack", "chip"}
