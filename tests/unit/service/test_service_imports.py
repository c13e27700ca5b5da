"""Folder imports and single-image uploads (``openlookout.service.imports``), progress and speed."""

from __future__ import annotations

import struct
import threading
import time

import pytest
from tests.helpers.synthetic import jpeg_image, png_image
from tests.unit.service.dataset_support import CTX, Workspace, label_line

from openlookout.errors import ConflictException, ResourceNotFoundException, ValidationException
from openlookout.service import datasets, imports


def _with_comment(jpeg: bytes, text: str) -> bytes:
    """The same JPEG with a COM segment after SOI: distinct bytes, identical pixels."""
    body = text.encode()
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def test_labeled_folder_import(ws: Workspace) -> None:
    ws.project()
    ws.write("lot/normal/n1.png", png_image(seed=1))
    ws.write("lot/normal/n2.jpg", jpeg_image(seed=2))
    ws.write("lot/anomaly/a1.png", png_image(seed=3, defect=True))
    ws.write("lot/anomaly/deeper/a2.png", png_image(seed=4, defect=True))
    ws.write("lot/loose.png", png_image(seed=5))
    job = imports.import_labeled_source(ws.runtime, CTX, "widgets", "train", str(ws.root / "lot"))
    assert isinstance(job, int)
    ws.wait()
    described = ws.describe()
    assert described["Status"] == "CREATE_COMPLETE", described.get("StatusMessage")
    entries = {e["source-ref"]: e for e in ws.entries()}
    assert all(ref.startswith("file:///") for ref in entries)
    labels = {
        ref.split("/lot/", 1)[1]: e.get("auto-label-metadata", {}).get("class-name")
        for ref, e in entries.items()
    }
    assert labels["normal/n1.png"] == "normal" and labels["normal/n2.jpg"] == "normal"
    assert labels["anomaly/a1.png"] == "anomaly"
    assert described["ImageStats"]["Normal"] == 2
    assert described["ImageStats"]["Anomaly"] >= 1


def test_unlabeled_import_into_an_existing_dataset_and_failure(ws: Workspace) -> None:
    ws.project()
    assert (
        ws.create_from_lines([label_line(ws.image("first.png", 1), "normal")])["Status"] == "CREATE_COMPLETE"
    )
    ws.write("more/normal/x.png", png_image(seed=7))
    imports.import_labeled_source(
        ws.runtime, CTX, "widgets", "train", (ws.root / "more").as_uri(), labeled=False
    )
    ws.wait()
    described = ws.describe()
    assert described["Status"] == "UPDATE_COMPLETE", described.get("StatusMessage")
    assert described["ImageStats"] == {"Total": 2, "Labeled": 1, "Normal": 1, "Anomaly": 0}
    ws.write("bad/normal/y.png", png_image(128, 64, seed=8))
    imports.import_labeled_source(ws.runtime, CTX, "widgets", "train", str(ws.root / "bad"))
    ws.wait()
    described = ws.describe()
    assert described["Status"] == "UPDATE_FAILED_ROLLBACK_COMPLETE"
    assert "y.png is 128x64 pixels" in described["StatusMessage"]
    assert described["ImageStats"]["Total"] == 2


def test_import_errors(ws: Workspace) -> None:
    with pytest.raises(ResourceNotFoundException):
        imports.import_labeled_source(ws.runtime, CTX, "nope", "train", str(ws.root))
    ws.project()
    with pytest.raises(ValidationException):
        imports.import_labeled_source(ws.runtime, CTX, "widgets", "train", "ftp://host/x")
    imports.import_labeled_source(ws.runtime, CTX, "widgets", "test", "/definitely/not/allowed")
    ws.wait()
    described = ws.describe(kind="test")
    assert described["Status"] == "CREATE_FAILED"
    assert described["StatusMessage"].startswith("cannot list images under file:///definitely/not/allowed")


def test_add_image(ws: Workspace) -> None:
    ws.project()
    data = png_image(seed=1)
    ref = imports.add_image(ws.runtime, CTX, "widgets", "train", "part 1.png", data, "normal")
    assert ref.startswith("upload://") and ref.endswith("/part 1.png")
    assert ws.describe()["ImageStats"] == {"Total": 1, "Labeled": 1, "Normal": 1, "Anomaly": 0}
    # The same upload again replaces its own entry; the same bytes under a new name are a duplicate.
    assert imports.add_image(ws.runtime, CTX, "widgets", "train", "part 1.png", data, "anomaly") == ref
    assert ws.describe()["ImageStats"]["Anomaly"] == 1
    with pytest.raises(ValidationException, match="same content"):
        imports.add_image(ws.runtime, CTX, "widgets", "train", "copy.png", data, None)
    with pytest.raises(ValidationException, match="below the minimum"):
        imports.add_image(ws.runtime, CTX, "widgets", "train", "tiny.png", png_image(50, 50), None)
    with pytest.raises(ValidationException, match="slash"):
        imports.add_image(ws.runtime, CTX, "widgets", "train", "a/b.png", data, None)
    with pytest.raises(ValidationException, match="label"):
        imports.add_image(ws.runtime, CTX, "widgets", "train", "c.png", data, "weird")
    # A refused first upload leaves no dataset behind.
    with pytest.raises(ValidationException):
        imports.add_image(ws.runtime, CTX, "widgets", "test", "t.png", b"GIF89a....", None)
    with pytest.raises(ResourceNotFoundException):
        ws.describe(kind="test")


def test_add_image_refused_while_importing(ws: Workspace) -> None:
    ws.project()
    datasets.new_dataset(ws.runtime, CTX, "widgets", "train", "CREATE_IN_PROGRESS")
    with pytest.raises(ConflictException):
        imports.add_image(ws.runtime, CTX, "widgets", "train", "x.png", png_image(seed=1), None)


def test_folder_import_speed_and_progress(ws: Workspace) -> None:
    """1,000 JPEGs of 1024x1024 at >= 100 images/s, with "importing n/total" visible meanwhile."""
    ws.project()
    base = jpeg_image(1024, 1024, seed=3, quality=85)
    for i in range(1000):
        ws.write(f"big/{'normal' if i % 4 else 'anomaly'}/img{i:04d}.jpg", _with_comment(base, f"copy {i}"))
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                message = ws.describe().get("StatusMessage")
            except ResourceNotFoundException:
                message = None
            if message:
                seen.append(message)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    start = time.perf_counter()
    imports.import_labeled_source(ws.runtime, CTX, "widgets", "train", str(ws.root / "big"))
    ws.wait()
    elapsed = time.perf_counter() - start
    stop.set()
    watcher.join()
    described = ws.describe()
    assert described["Status"] == "CREATE_COMPLETE", described.get("StatusMessage")
    assert described["ImageStats"] == {"Total": 1000, "Labeled": 1000, "Normal": 750, "Anomaly": 250}
    print(f"folder import: {1000 / elapsed:.0f} images/s")
    assert 1000 / elapsed >= 100, f"{1000 / elapsed:.0f} images/s"
    assert any(m.startswith("importing ") and m.endswith("/1000") for m in seen), seen[:5]
