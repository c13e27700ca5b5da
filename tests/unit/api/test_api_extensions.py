"""Extension routes under /openlookout/: input shape checks and the service calls they make."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from openlookout.errors import ValidationException
from openlookout.service import imports, readiness

ClientFor = Callable[[dict[str, Any]], Any]


@dataclass
class FakeReadiness:
    ready: bool
    kind: str
    missing: list[str] = field(default_factory=list)
    normal_train: int = 0


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Stand-ins for the ``service.imports`` / ``service.readiness`` functions, recording their calls."""
    recorded: list[tuple[Any, ...]] = []

    def add_image(
        _rt: Any, ctx: Any, project: str, dataset_type: str, name: str, data: bytes, label: Any
    ) -> str:
        if data == b"reject me":
            raise ValidationException("not an image")
        recorded.append(("add_image", ctx.region, project, dataset_type, name, data, label))
        return f"upload://sha/{name}"

    def import_labeled_source(
        _rt: Any, _ctx: Any, project: str, dataset_type: str, uri: str, labeled: bool
    ) -> int:
        recorded.append(("import", project, dataset_type, uri, labeled))
        return 41

    def training_readiness(_rt: Any, _ctx: Any, project: str) -> FakeReadiness:
        recorded.append(("readiness", project))
        return FakeReadiness(False, "classification", ["10 more normal images"], 3)

    monkeypatch.setattr(imports, "add_image", add_image)
    monkeypatch.setattr(imports, "import_labeled_source", import_labeled_source)
    monkeypatch.setattr(readiness, "training_readiness", training_readiness)
    return recorded


BASE = "/openlookout/v1/projects/p1"

OCTETS = {"Content-Type": "application/octet-stream"}
JSON_TYPE = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    "declared", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_bodies_a_web_form_can_send_are_refused(
    client_for: ClientFor, calls: list[tuple[Any, ...]], declared: str | None
) -> None:
    headers = {"Content-Type": declared} if declared else {}
    image = client_for({}).post(
        BASE + "/datasets/train/images?name=a.png", content=b"PNGDATA", headers=headers
    )
    imported = client_for({}).post(
        BASE + "/datasets/train/import", content=b'{"Source": "/x"}', headers=headers
    )
    for response in (image, imported):
        assert response.status_code == 400 and "content type" in response.json()["message"]
    assert calls == []


def test_health(client_for: ClientFor) -> None:
    response = client_for({}).get("/openlookout/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_add_image(client_for: ClientFor, calls: list[tuple[Any, ...]]) -> None:
    response = client_for({}).post(
        BASE + "/datasets/train/images?name=a.png&label=anomaly", content=b"PNGDATA", headers=OCTETS
    )
    assert (response.status_code, response.json()) == (200, {"SourceRef": "upload://sha/a.png"})
    assert calls == [("add_image", "us-east-1", "p1", "train", "a.png", b"PNGDATA", "anomaly")]
    unlabeled = client_for({}).post(BASE + "/datasets/test/images?name=b.jpg", content=b"JPG", headers=OCTETS)
    assert unlabeled.status_code == 200 and calls[-1][-1] is None


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        (BASE + "/datasets/train/images", "name"),
        (BASE + "/datasets/train/images?name=a.png&label=bad", "label"),
        (BASE + "/datasets/train/images?name=..%2Fx.png", "plain file name"),
        (BASE + "/datasets/dev/images?name=a.png", "dataset type"),
        ("/openlookout/v1/projects/-bad/datasets/train/images?name=a.png", "project"),
    ],
)
def test_add_image_input_errors(
    client_for: ClientFor, calls: list[tuple[Any, ...]], path: str, fragment: str
) -> None:
    response = client_for({}).post(path, content=b"PNGDATA", headers=OCTETS)
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"] == "ValidationException"
    assert fragment in response.json()["message"]
    assert calls == []


def test_add_image_service_rejection_and_size_limit(
    client_for: ClientFor, calls: list[tuple[Any, ...]]
) -> None:
    rejected = client_for({}).post(
        BASE + "/datasets/train/images?name=a.png", content=b"reject me", headers=OCTETS
    )
    assert rejected.status_code == 400 and rejected.json()["message"] == "not an image"
    too_big = client_for({}).post(
        BASE + "/datasets/train/images?name=a.png", content=b"x" * (8 * 1024 * 1024 + 1)
    )
    assert too_big.status_code == 400 and calls == []
    chunked = client_for({}).post(BASE + "/datasets/train/images?name=a.png", content=iter([b"abc"]))
    assert chunked.status_code == 400 and "Content-Length" in chunked.json()["message"]


def test_import(client_for: ClientFor, calls: list[tuple[Any, ...]]) -> None:
    response = client_for({}).post(
        BASE + "/datasets/test/import", json={"Source": "s3://b/prefix/", "Labeled": False}
    )
    assert (response.status_code, response.json()) == (202, {"JobId": 41})
    assert calls == [("import", "p1", "test", "s3://b/prefix/", False)]
    default_labeled = client_for({}).post(BASE + "/datasets/train/import", json={"Source": "/data/parts"})
    assert default_labeled.status_code == 202 and calls[-1][-1] is True


@pytest.mark.parametrize(
    "body", [b"{}", b'{"Source": ""}', b'{"Source": 3}', b'{"Source": "x", "Labeled": "yes"}', b"nope"]
)
def test_import_input_errors(client_for: ClientFor, calls: list[tuple[Any, ...]], body: bytes) -> None:
    response = client_for({}).post(BASE + "/datasets/train/import", content=body, headers=JSON_TYPE)
    assert response.status_code == 400 and calls == []


def test_readiness(client_for: ClientFor, calls: list[tuple[Any, ...]]) -> None:
    response = client_for({}).get(BASE + "/readiness")
    assert response.status_code == 200
    assert response.json() == {
        "Ready": False,
        "Kind": "classification",
        "Missing": ["10 more normal images"],
        "NormalTrain": 3,
    }
