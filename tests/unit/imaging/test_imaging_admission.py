"""``imaging.admission.admit_image``: the full decode at the door and the EXIF orientation."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from tests.helpers.bad_images import poison_png, rotated_jpeg
from tests.helpers.synthetic import jpeg_image, png_image

from openlookout.imaging.admission import admit_image
from openlookout.imaging.images import ImageRejected, decode_rgb, inspect_image


@pytest.mark.parametrize("after_pixels", [False, True])
def test_the_poison_png_passes_the_structural_check_but_not_the_door(after_pixels: bool) -> None:
    data = poison_png(after_pixels=after_pixels)
    assert inspect_image(data, name="p.png").width == 96  # what today's main relied on
    with pytest.raises(ImageRejected, match="could not be decoded"):
        decode_rgb(data, name="p.png")  # what training does later
    with pytest.raises(ImageRejected, match="could not be decoded"):
        admit_image(data, name="p.png")


def test_ordinary_images_are_kept_byte_for_byte() -> None:
    for data in (png_image(96, 64, seed=1), jpeg_image(96, 64, seed=2)):
        admitted = admit_image(data, name="x")
        assert admitted.data == data and not admitted.turned
        assert (admitted.info.width, admitted.info.height) == (96, 64)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_an_exif_rotated_jpeg_is_turned_upright_once(orientation: int) -> None:
    data, upright = rotated_jpeg(orientation=orientation)
    admitted = admit_image(data, name="r.jpg")
    assert admitted.turned and admitted.orientation == orientation
    assert (admitted.info.height, admitted.info.width) == upright.shape[:2]
    with Image.open(io.BytesIO(admitted.data)) as stored:
        assert stored.format == "JPEG"
        assert stored.getexif().get(0x0112) is None
    pixels = decode_rgb(admitted.data)
    assert np.abs(pixels.astype(int) - upright.astype(int)).mean() < 4
    again = admit_image(admitted.data, name="r.jpg")
    assert again.data == admitted.data and not again.turned


def test_a_rotated_png_stays_a_lossless_png() -> None:
    pixels = np.random.default_rng(3).integers(0, 255, (64, 100, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 8
    out = io.BytesIO()
    image.save(out, format="PNG", exif=exif.tobytes())
    admitted = admit_image(out.getvalue(), name="r.png")
    assert admitted.info.format == "png" and (admitted.info.width, admitted.info.height) == (64, 100)
    assert np.array_equal(decode_rgb(admitted.data), np.rot90(pixels, k=1))
