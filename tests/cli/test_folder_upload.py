"""Folder scanning, per-file rejection handling and progress parsing, with a fake API client."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from openlookout.cli.errors import ApiError, ServerUnreachable
from openlookout.cli.folder_upload import LocalImage, find_images, upload_images
from openlookout.cli.waiting import import_counts


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_labels_come_from_the_immediate_sub_folder(tmp_path: Path) -> None:
    touch(tmp_path / "normal" / "a.png")
    touch(tmp_path / "Anomaly" / "deep" / "b.JPG")
    touch(tmp_path / "other" / "c.jpeg")
    touch(tmp_path / "top.png")
    touch(tmp_path / "normal" / "readme.txt")
    touch(tmp_path / ".hidden" / "d.png")
    touch(tmp_path / "normal" / ".e.png")
    found = {image.relative: image.label for image in find_images(tmp_path, labeled=True)}
    assert found == {
        "Anomaly/deep/b.JPG": "anomaly",
        "normal/a.png": "normal",
        "other/c.jpeg": None,
        "top.png": None,
    }
    unlabeled = find_images(tmp_path, labeled=False)
    assert {image.label for image in unlabeled} == {None}
    assert len(unlabeled) == 4


class FakeApi:
    """Records uploads; answers per file name with an error or a source-ref."""

    def __init__(self, failures: dict[str, Exception]) -> None:
        self.failures = failures
        self.calls: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def extension(self, method: str, segments: list[str], **kwargs: Any) -> dict[str, Any]:
        with self.lock:
            self.calls.append({"method": method, "segments": segments, **kwargs})
        name = kwargs["query"]["name"]
        if name in self.failures:
            raise self.failures[name]
        return {"SourceRef": f"upload://hash/{name}"}


def images(tmp_path: Path, names: list[str]) -> list[LocalImage]:
    return [LocalImage(touch(tmp_path / name, name.encode()), name, "normal") for name in names]


def test_rejections_are_collected_and_the_rest_uploaded(tmp_path: Path) -> None:
    api = FakeApi({"bad.png": ApiError("ValidationException", "not an image", 400)})
    done: list[tuple[str, str | None]] = []
    report = upload_images(
        api,  # type: ignore[arg-type]
        "p",
        "train",
        images(tmp_path, ["a.png", "bad.png", "c.jpg"]),
        on_done=lambda image, error: done.append((image.relative, error)),
    )
    assert sorted(report.imported) == ["upload://hash/a.png", "upload://hash/c.jpg"]
    assert report.rejected == [("bad.png", "ValidationException: not an image")]
    assert len(done) == 3
    call = next(c for c in api.calls if c["query"]["name"] == "a.png")
    assert call["segments"] == ["projects", "p", "datasets", "train", "images"]
    assert call["query"] == {"name": "a.png", "label": "normal"}
    assert call["body"] == b"a.png"
    assert call["content_type"] == "image/png"


def test_an_unreachable_server_stops_the_upload(tmp_path: Path) -> None:
    api = FakeApi({"b.png": ServerUnreachable("http://127.0.0.1:1", "no connection")})
    with pytest.raises(ServerUnreachable):
        upload_images(api, "p", "train", images(tmp_path, ["a.png", "b.png", "c.png"]), parallel=1)  # type: ignore[arg-type]


def test_unreadable_file_is_a_rejection(tmp_path: Path) -> None:
    api = FakeApi({})
    missing = LocalImage(tmp_path / "gone.png", "gone.png", None)
    report = upload_images(api, "p", "test", [missing])  # type: ignore[arg-type]
    assert report.imported == []
    assert [name for name, _ in report.rejected] == ["gone.png"]
    assert "No such file" in report.rejected[0][1]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("importing 120/500", (120, 500)),
        ("importing 3 of 4 images", (3, 4)),
        ("importing 0/0", None),
        ("importing 9/3", None),
        ("validating the manifest", None),
        (None, None),
    ],
)
def test_import_counts(message: str | None, expected: tuple[int, int] | None) -> None:
    assert import_counts(message) == expected
