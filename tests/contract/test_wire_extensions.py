"""OpenLookout's extension routes end to end on a live server: upload, folder import, readiness."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from tests.helpers.synthetic import jpeg_image, png_image


def _upload(
    server: Any, project: str, dataset: str, name: str, data: bytes, label: str | None
) -> httpx.Response:
    query = {"name": name} | ({"label": label} if label else {})
    return httpx.post(
        f"{server.url}/openlookout/v1/projects/{project}/datasets/{dataset}/images",
        params=query,
        content=data,
        headers={"Content-Type": "application/octet-stream"},
        timeout=30,
    )


def _stats(lv: Any, project: str, dataset: str) -> dict[str, int]:
    described = lv.describe_dataset(ProjectName=project, DatasetType=dataset)["DatasetDescription"]
    return described["ImageStats"]


def test_upload_images_then_describe(lv: Any, server: Any) -> None:
    lv.create_project(ProjectName="uploads")
    first = _upload(server, "uploads", "train", "part-1.png", png_image(seed=1), "normal")
    assert first.status_code == 200, first.text
    assert first.json()["SourceRef"].endswith("/part-1.png")
    assert first.headers["x-amzn-requestid"]
    second = _upload(server, "uploads", "train", "part-2.jpg", jpeg_image(seed=2, defect=True), "anomaly")
    assert second.status_code == 200, second.text
    third = _upload(server, "uploads", "train", "part-3.png", png_image(seed=3), None)
    assert third.status_code == 200, third.text
    stats = _stats(lv, "uploads", "train")
    assert (stats["Total"], stats["Normal"], stats["Anomaly"], stats["Labeled"]) == (3, 1, 1, 2)


def test_upload_refusals_are_aws_shaped(lv: Any, server: Any) -> None:
    lv.create_project(ProjectName="refusals")
    not_an_image = _upload(server, "refusals", "train", "notes.png", b"plain text, not a picture", "normal")
    assert not_an_image.status_code == 400
    assert not_an_image.headers["x-amzn-errortype"] == "ValidationException"
    assert not_an_image.json()["message"]
    too_big = _upload(server, "refusals", "train", "huge.png", b"\0" * (8 * 1024 * 1024 + 1), None)
    assert too_big.status_code == 400
    no_project = _upload(server, "ghost", "train", "a.png", png_image(), None)
    assert no_project.status_code == 404
    assert no_project.headers["x-amzn-errortype"] == "ResourceNotFoundException"


def test_folder_import_and_readiness(lv: Any, server: Any) -> None:
    lv.create_project(ProjectName="folders")
    folder: Path = server.local_root / "parts"
    for label, count in (("normal", 3), ("anomaly", 2)):
        (folder / label).mkdir(parents=True)
        for i in range(count):
            (folder / label / f"{label}-{i}.png").write_bytes(png_image(seed=i, defect=label == "anomaly"))
    response = httpx.post(
        f"{server.url}/openlookout/v1/projects/folders/datasets/train/import",
        json={"Source": str(folder), "Labeled": True},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    assert isinstance(response.json()["JobId"], int)
    assert server.runtime.jobs.wait_idle(30)
    stats = _stats(lv, "folders", "train")
    assert (stats["Total"], stats["Normal"], stats["Anomaly"]) == (5, 3, 2)

    readiness = httpx.get(f"{server.url}/openlookout/v1/projects/folders/readiness", timeout=30)
    assert readiness.status_code == 200, readiness.text
    body = readiness.json()
    assert body["Ready"] is False
    assert body["Kind"] == "classification"
    assert body["Missing"] and all(isinstance(line, str) for line in body["Missing"])


def test_import_outside_allowed_roots_is_refused(lv: Any, server: Any, tmp_path: Path) -> None:
    lv.create_project(ProjectName="outside")
    elsewhere = tmp_path / "not-allowed"
    (elsewhere / "normal").mkdir(parents=True)
    response = httpx.post(
        f"{server.url}/openlookout/v1/projects/outside/datasets/train/import",
        json={"Source": str(elsewhere)},
        timeout=30,
    )
    assert response.status_code == 202, response.text  # the import job refuses it and records why
    assert server.runtime.jobs.wait_idle(30)
    described = lv.describe_dataset(ProjectName="outside", DatasetType="train")["DatasetDescription"]
    assert described["Status"] == "CREATE_FAILED"
    assert described["StatusMessage"]


def test_uploaded_image_can_be_relabelled_with_update_dataset_entries(lv: Any, server: Any) -> None:
    """An upload:// reference written back by ListDatasetEntries is accepted by UpdateDatasetEntries."""
    import json
    import time

    lv.create_project(ProjectName="relabel")
    response = _upload(server, "relabel", "train", "part-9.png", png_image(seed=9), None)
    assert response.status_code == 200, response.text
    source_ref = response.json()["SourceRef"]
    line = {
        "source-ref": source_ref,
        "anomaly-label": 1,
        "anomaly-label-metadata": {
            "class-name": "anomaly",
            "type": "groundtruth/image-classification",
            "human-annotated": "yes",
        },
    }
    lv.update_dataset_entries(
        ProjectName="relabel", DatasetType="train", Changes=(json.dumps(line) + "\n").encode()
    )
    deadline = time.monotonic() + 30
    while True:
        described = lv.describe_dataset(ProjectName="relabel", DatasetType="train")["DatasetDescription"]
        if "IN_PROGRESS" not in described["Status"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert described["Status"] == "UPDATE_COMPLETE", described.get("StatusMessage")
    stats = described["ImageStats"]
    assert (stats["Total"], stats["Anomaly"], stats["Labeled"]) == (1, 1, 1)
