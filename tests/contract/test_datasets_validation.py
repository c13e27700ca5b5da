"""CreateDataset from an S3 manifest that breaks one rule on line 3 (and has a broken line 4): the
dataset ends CREATE_FAILED, its StatusMessage names line 3 and the problem, and it holds no entries.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image
from tests.helpers.synthetic import jpeg_image, mask_png, png_image
from tests.unit.service.dataset_support import (
    bomb_png,
    label_line,
    manifest_source,
    mask_line,
    new_bucket,
    put,
    wait_dataset,
)

RED = "#D62728"
Put = Callable[[str, bytes], str]


def _noise_png(width: int, height: int) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, format="PNG", compress_level=0)
    return buf.getvalue()


def _many_types(put: Put) -> str:
    colours = {f"#{i * 10:02X}00{255 - i * 10:02X}": f"type{i}" for i in range(1, 22)}
    regions = [(c, (i * 4, 0, i * 4 + 3, 10)) for i, c in enumerate(colours)]
    return mask_line(put("m.png", png_image(seed=9)), put("m-mask.png", mask_png(96, 64, regions)), colours)


CASES: dict[str, tuple[Callable[[Put], str], str]] = {
    "not-an-image": (
        lambda put: label_line(put("x.png", b"plain text, not pixels"), "normal"),
        "neither PNG nor JPEG",
    ),
    "too-small": (lambda put: label_line(put("s.png", png_image(50, 50)), "normal"), "width 50 px is below"),
    "too-wide": (
        lambda put: label_line(put("w.png", png_image(5000, 64)), "normal"),
        "width 5000 px is above",
    ),
    "too-large": (
        lambda put: label_line(put("big.png", _noise_png(1700, 1700)), "normal"),
        "more than the limit",
    ),
    "other-size": (lambda put: label_line(put("o.png", png_image(128, 64, seed=4)), "normal"), "128x64"),
    "same-content": (lambda put: label_line(put("copy.png", png_image(seed=1)), "normal"), "same content as"),
    "bad-mask-colour": (
        lambda put: mask_line(
            put("m.png", png_image(seed=9)),
            put("m-mask.png", mask_png(96, 64, [("#0000FF", (2, 2, 9, 9))])),
            {RED: "chip"},
        ),
        "#0000FF",
    ),
    "mask-size": (
        lambda put: mask_line(
            put("m.png", png_image(seed=9)),
            put("m-mask.png", mask_png(64, 64, [(RED, (2, 2, 9, 9))])),
            {RED: "chip"},
        ),
        "64x64",
    ),
    "mask-not-png": (
        lambda put: mask_line(
            put("m.png", png_image(seed=9)), put("m-mask.jpg", jpeg_image(seed=3)), {RED: "chip"}
        ),
        "PNG",
    ),
    "many-types": (_many_types, "21 anomaly types"),
    "long-entry": (
        lambda put: label_line(put("l.png", png_image(seed=5)), "normal", note="n" * 9000),
        "8192",
    ),
    "bad-json": (lambda put: '{"source-ref": "s3://x/y.png",', "not valid JSON"),
    "no-source-ref": (lambda put: '{"anomaly-label": 1}', "no source-ref"),
    "same-ref": (
        lambda put: label_line(put("first.png", png_image(seed=1)), "normal"),
        "already appears on line 1",
    ),
    "truncated-jpeg": (
        lambda put: label_line(put("t.jpg", jpeg_image(seed=6)[:-300]), "normal"),
        "image s3://",
    ),
    "truncated-png": (lambda put: label_line(put("t.png", png_image(seed=6)[:-40]), "normal"), "truncated"),
    "bomb": (lambda put: label_line(put("bomb.png", bomb_png()), "normal"), "above the maximum"),
    "missing-object": (
        lambda put: label_line(put("there.png", b"")[:-9] + "nothere.png", "normal"),
        "nothere.png",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_first_bad_line_is_reported(case: str, shared_lv: Any, s3: Any) -> None:
    make_line, expected = CASES[case]
    project = f"bad-{case}-{uuid.uuid4().hex[:6]}"
    bucket = new_bucket(s3)

    def put_object(key: str, data: bytes) -> str:
        return put(s3, bucket, key, data)

    lines = [
        label_line(put_object("first.png", png_image(seed=1)), "normal"),
        label_line(put_object("second.png", png_image(seed=2, defect=True)), "anomaly"),
        make_line(put_object),
        "{ line four is broken as well",
    ]
    put_object("bad.manifest", "\n".join(lines).encode())
    shared_lv.create_project(ProjectName=project)
    try:
        shared_lv.create_dataset(
            ProjectName=project, DatasetType="train", DatasetSource=manifest_source(bucket, "bad.manifest")
        )
        described = wait_dataset(shared_lv, project)
        assert described["Status"] == "CREATE_FAILED"
        message = described["StatusMessage"]
        assert message.startswith("line 3: "), message
        assert expected in message, message
        assert "\n" not in message and "Traceback" not in message
        assert described["ImageStats"]["Total"] == 0
        page = shared_lv.list_dataset_entries(ProjectName=project, DatasetType="train")
        assert page["DatasetEntries"] == []
    finally:
        shared_lv.delete_dataset(ProjectName=project, DatasetType="train")
        shared_lv.delete_project(ProjectName=project)
