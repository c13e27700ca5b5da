"""Training readiness: the minimums of single and separate projects, and segmentation per type."""

from __future__ import annotations

import time

import pytest
from tests.unit.service.dataset_support import CTX, Workspace

from openlookout.errors import ResourceNotFoundException
from openlookout.service import datasets
from openlookout.service.readiness import training_readiness
from openlookout.store import entries as repo


def _add(ws: Workspace, kind: str, rows: list[tuple[str | None, tuple[str, ...] | None]]) -> None:
    """Entries straight through the repository: (label, mask types or None for no mask)."""
    try:
        dataset = datasets.read_dataset(ws.runtime, CTX, "widgets", kind)
    except ResourceNotFoundException:
        datasets.create_dataset(ws.runtime, CTX, {"ProjectName": "widgets", "DatasetType": kind})
        dataset = datasets.read_dataset(ws.runtime, CTX, "widgets", kind)
    start = int(time.time() * 1e6)
    entries = [
        repo.NewEntry(
            source_ref=f"s3://b/{kind}/{start + i}.png",
            label=label,
            image_sha256=f"{start + i:064x}",
            mask_sha256=None if types is None else f"{start + i + 10**9:064x}",
            anomaly_types=types or (),
            entry_json="{}",
        )
        for i, (label, types) in enumerate(rows)
    ]
    with ws.runtime.db.begin() as conn:
        repo.write_entries(conn, dataset.id, entries, {}, time.time())


def test_no_project_and_no_train(ws: Workspace) -> None:
    with pytest.raises(ResourceNotFoundException):
        training_readiness(ws.runtime, CTX, "nope")
    ws.project()
    result = training_readiness(ws.runtime, CTX, "widgets")
    assert not result.ready and result.missing == ["the project has no train dataset"]


def test_single_dataset_minimums(ws: Workspace) -> None:
    ws.project()
    _add(ws, "train", [("normal", None)] * 17 + [("anomaly", None)] * 10 + [(None, None)] * 30)
    result = training_readiness(ws.runtime, CTX, "widgets")
    assert not result.ready and not result.separate and result.kind == "classification"
    assert result.missing == ["train dataset needs 3 more normal images (has 17 of 20)"]
    assert result.counts == {"train_normal": 17, "train_anomaly": 10}
    _add(ws, "train", [("normal", None)] * 3)
    assert training_readiness(ws.runtime, CTX, "widgets").ready


def test_separate_minimums(ws: Workspace) -> None:
    ws.project()
    _add(ws, "train", [("normal", None)] * 10)
    _add(ws, "test", [("normal", None)] * 10 + [("anomaly", None)] * 9)
    result = training_readiness(ws.runtime, CTX, "widgets")
    assert result.separate
    assert result.missing == ["test dataset needs 1 more anomalous image (has 9 of 10)"]
    _add(ws, "test", [("anomaly", None)])
    assert training_readiness(ws.runtime, CTX, "widgets").ready


def test_segmentation_counts_single_type_images(ws: Workspace) -> None:
    ws.project()
    rows: list[tuple[str | None, tuple[str, ...] | None]] = [("normal", None)] * 20
    rows += (
        [("anomaly", ("chip",))] * 20 + [("anomaly", ("crack",))] * 12 + [("anomaly", ("chip", "crack"))] * 5
    )
    rows += [("anomaly", ("chip", "dent"))] * 2
    _add(ws, "train", rows)
    result = training_readiness(ws.runtime, CTX, "widgets")
    assert result.kind == "segmentation"
    assert result.type_counts == {"train": {"chip": 20, "crack": 12}}
    assert result.missing == [
        "train dataset needs 8 more 'crack'-only images (has 12 of 20)",
        "train dataset needs 20 more 'dent'-only images (has 0 of 20)",
    ]
    _add(ws, "train", [("anomaly", None)])
    assert any("without a mask" in m for m in training_readiness(ws.runtime, CTX, "widgets").missing)


def test_busy_dataset_is_not_ready(ws: Workspace) -> None:
    ws.project()
    _add(ws, "train", [("normal", None)] * 20 + [("anomaly", None)] * 10)
    dataset = datasets.read_dataset(ws.runtime, CTX, "widgets", "train")
    with ws.runtime.db.begin() as conn:
        repo.set_dataset_status(conn, dataset.id, "UPDATE_IN_PROGRESS", None, time.time())
    result = training_readiness(ws.runtime, CTX, "widgets")
    assert not result.ready
    assert result.missing == ["the train dataset is UPDATE_IN_PROGRESS; it must finish importing first"]
