"""Images are admitted once, at the door (issue 14, item 3), checked through the service functions.

Today's main let a "poison" PNG (valid pixels, a zTXt chunk that inflates past Pillow's text limit)
through upload and import; training then failed naming it and DetectAnomalies answered 500. And a
JPEG with EXIF Orientation 6 was stored as 200x100 while browsers drew it 100x200, so the mask
editor's canvas did not match the model's input.
"""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image
from tests.helpers.bad_images import poison_png, rotated_jpeg
from tests.unit.service.dataset_support import CTX, Workspace, label_line

from openlookout.errors import ValidationException
from openlookout.imaging.images import decode_rgb
from openlookout.service import detection, gallery, imports, masks
from openlookout.service.tenancy import source_access
from openlookout.service.thumbnails import thumbnail
from openlookout.store import models as model_store
from openlookout.store import projects as project_store


@pytest.mark.parametrize("after_pixels", [False, True])
def test_the_poison_png_is_refused_at_upload(ws: Workspace, after_pixels: bool) -> None:
    ws.project()
    with pytest.raises(ValidationException, match=r"poison\.png: the image could not be decoded"):
        imports.add_image(
            ws.runtime, CTX, "widgets", "train", "poison.png", poison_png(after_pixels=after_pixels), None
        )
    assert not _has_dataset(ws)  # refused before the dataset was made


def _has_dataset(ws: Workspace) -> bool:
    try:
        ws.describe()
    except Exception:
        return False
    return True


def test_the_poison_png_fails_an_import_naming_its_line(ws: Workspace) -> None:
    ws.project()
    good = ws.image("normal/good.png", seed=1)
    bad = ws.write("normal/bad.png", poison_png(after_pixels=True))
    description = ws.create_from_lines([label_line(good, "normal"), label_line(bad, "normal")])
    assert description["Status"] == "CREATE_FAILED"
    assert description["StatusMessage"].startswith("line 2: image ")
    assert "could not be decoded" in description["StatusMessage"]


def _hosted_model(ws: Workspace, width: int, height: int) -> None:
    now = time.time()
    with ws.runtime.db.begin() as conn:
        project = project_store.get_project(conn, CTX.account_id, CTX.region, "widgets")
        assert project is not None
        model_store.insert_model(
            conn,
            project_id=project.id,
            version=1,
            arn="arn:aws:lookoutvision:us-east-1:123456789012:model/widgets/1",
            status="HOSTED",
            output_bucket="unused",
            output_prefix="",
            created_at=now,
            updated_at=now,
            image_width=width,
            image_height=height,
        )


@pytest.mark.parametrize("after_pixels", [False, True])
def test_detect_anomalies_answers_400_for_the_poison_png(ws: Workspace, after_pixels: bool) -> None:
    ws.project()
    _hosted_model(ws, 96, 64)
    with pytest.raises(ValidationException, match="The image cannot be used: the image could not be decoded"):
        detection.detect(ws.runtime, CTX, "widgets", "1", "image/png", poison_png(after_pixels=after_pixels))


@pytest.mark.parametrize(
    "body",
    [b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, b"\xff\xd8\xff\xe0" + b"\x00" * 40, b"GIF89a" + b"\x00" * 30],
)
def test_detect_anomalies_answers_400_for_any_undecodable_body(ws: Workspace, body: bytes) -> None:
    ws.project()
    _hosted_model(ws, 96, 64)
    with pytest.raises(ValidationException):
        detection.detect(ws.runtime, CTX, "widgets", "1", "image/png", body)


def test_an_exif_rotated_jpeg_is_stored_upright_and_the_mask_canvas_matches(ws: Workspace) -> None:
    ws.project()
    data, upright = rotated_jpeg(200, 100, orientation=6)
    ref = imports.add_image(ws.runtime, CTX, "widgets", "train", "turned.jpg", data, "anomaly")
    image = gallery.find_image(ws.runtime, CTX, "widgets", "train", ref)
    assert (image.width, image.height) == (100, 200)
    stored, media = gallery.image_file(ws.runtime, CTX, "widgets", "train", ref)
    assert media == "image/jpeg"
    with Image.open(io.BytesIO(stored)) as picture:
        assert picture.size == (100, 200) and picture.getexif().get(0x0112) is None
    assert np.abs(decode_rgb(stored).astype(int) - upright.astype(int)).mean() < 4
    document = masks.read_mask(ws.runtime, CTX, "widgets", "train", ref)
    assert (document["width"], document["height"]) == (100, 200)
    with ws.runtime.db.begin() as conn:
        project = project_store.get_project(conn, CTX.account_id, CTX.region, "widgets")
    assert project is not None and (project.image_width, project.image_height) == (100, 200)
    # The upload reference reads back the stored (upright) copy.
    access = source_access(ws.runtime, CTX.account_id)
    assert ws.runtime.sources.read(ref, access=access, max_bytes=1 << 20) == stored


def test_a_thumbnail_of_an_undecodable_blob_is_missing_not_an_error(ws: Workspace) -> None:
    key = ws.runtime.blobs.put(poison_png())  # stored before admission existed
    assert thumbnail(ws.runtime.blobs, key) is None
