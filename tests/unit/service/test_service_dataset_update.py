"""UpdateDatasetEntries (add, relabel, masks, rollback), DeleteDataset and state conflicts."""

from __future__ import annotations

import json

import pytest
from tests.unit.service.dataset_support import CTX, Workspace, label_line, mask_line

from openlookout.errors import ConflictException, ResourceNotFoundException, ValidationException
from openlookout.service import datasets
from openlookout.store import entries as repo
from openlookout.store.projects import get_project

RED, BLUE = "#D62728", "#1F77B4"


def _snapshot(ws: Workspace) -> tuple:
    """Everything an update may touch: entries, stats, project image size and anomaly labels."""
    description = ws.describe()
    with ws.runtime.db.begin() as conn:
        project = get_project(conn, CTX.account_id, CTX.region, "widgets")
        assert project is not None
        labels = repo.project_labels(conn, project.id)
        rows = sorted(repo.project_entries(conn, project.id), key=lambda e: e.id)
    return (
        sorted(json.dumps(e, sort_keys=True) for e in ws.entries()),
        description["ImageStats"],
        (project.image_width, project.image_height),
        labels,
        rows,
    )


def _base(ws: Workspace) -> list[str]:
    ws.project()
    refs = [ws.image(f"img{i}.png", i) for i in range(3)]
    lines = [label_line(refs[0], "normal"), label_line(refs[1], "anomaly"), label_line(refs[2], None)]
    assert ws.create_from_lines(lines)["Status"] == "CREATE_COMPLETE"
    return refs


def test_update_adds_and_relabels(ws: Workspace) -> None:
    refs = _base(ws)
    before = {e["source-ref"]: e for e in ws.entries()}
    new_ref = ws.image("img9.png", 9)
    described = ws.update([label_line(refs[2], "anomaly"), label_line(new_ref, "normal")])
    assert described["Status"] == "UPDATE_COMPLETE", described.get("StatusMessage")
    assert described["ImageStats"] == {"Total": 4, "Labeled": 4, "Normal": 2, "Anomaly": 2}
    after = {e["source-ref"]: e for e in ws.entries()}
    assert after[refs[2]]["anomaly-label-metadata"]["class-name"] == "anomaly"
    assert after[refs[0]] == before[refs[0]]
    # The relabelled entry keeps its place in the listing (paging order is by first creation).
    assert [e["source-ref"] for e in ws.entries()] == [*refs, new_ref]


def test_update_adds_a_mask_and_replacement_drops_it(ws: Workspace) -> None:
    refs = _base(ws)
    mask = ws.mask("img1-mask.png", [(RED, (10, 10, 30, 30))])
    described = ws.update([mask_line(refs[1], mask, {RED: "chip"})])
    assert described["Status"] == "UPDATE_COMPLETE", described.get("StatusMessage")
    entry = next(e for e in ws.entries() if e["source-ref"] == refs[1])
    assert entry["anomaly-mask-ref"] == mask
    described = ws.update([label_line(refs[1], "anomaly")])
    assert described["Status"] == "UPDATE_COMPLETE"
    entry = next(e for e in ws.entries() if e["source-ref"] == refs[1])
    assert "anomaly-mask-ref" not in entry


@pytest.mark.parametrize(
    "bad",
    [
        lambda ws, refs: label_line(ws.image("wide.png", 20, width=128), "normal"),
        lambda ws, refs: label_line(ws.image("dup.png", 0), "normal"),
        lambda ws, refs: mask_line(refs[1], ws.mask("m.png", [(BLUE, (1, 1, 5, 5))]), {RED: "chip"}),
        lambda ws, refs: mask_line(refs[1], ws.mask("m.png", [(BLUE, (1, 1, 5, 5))]), {BLUE: "dent"}),
        lambda ws, refs: "[1, 2]",
    ],
)
def test_failed_update_rolls_back_everything(ws: Workspace, bad) -> None:  # type: ignore[no-untyped-def]
    refs = _base(ws)
    # Give the project a first anomaly type so a colour conflict is possible.
    ws.update([mask_line(refs[1], ws.mask("first-mask.png", [(RED, (2, 2, 8, 8))]), {RED: "dent"})])
    before = _snapshot(ws)
    good = [label_line(refs[0], "anomaly"), label_line(ws.image("new.png", 30), "normal")]
    described = ws.update([*good, bad(ws, refs)])
    assert described["Status"] == "UPDATE_FAILED_ROLLBACK_COMPLETE"
    assert described["StatusMessage"].startswith("line 3: "), described["StatusMessage"]
    assert _snapshot(ws) == before
    # A rolled-back dataset accepts the next update.
    assert ws.update(good)["Status"] == "UPDATE_COMPLETE"


def test_update_conflicts_and_limits(ws: Workspace) -> None:
    _base(ws)
    params = {"ProjectName": "widgets", "DatasetType": "train", "Changes": b"x" * (10 * 1024 * 1024 + 1)}
    with pytest.raises(ValidationException):
        datasets.update_dataset_entries(ws.runtime, CTX, params)
    with pytest.raises(ResourceNotFoundException) as missing:
        datasets.update_dataset_entries(
            ws.runtime, CTX, {"ProjectName": "widgets", "DatasetType": "test", "Changes": b"{}"}
        )
    assert missing.value.fields["ResourceType"] == "DATASET"
    with ws.runtime.db.begin() as conn:
        dataset = datasets.read_dataset(ws.runtime, CTX, "widgets", "train")
        repo.set_dataset_status(conn, dataset.id, "UPDATE_IN_PROGRESS", None, 0.0)
    for call in (datasets.update_dataset_entries, datasets.delete_dataset):
        with pytest.raises(ConflictException):
            call(ws.runtime, CTX, {"ProjectName": "widgets", "DatasetType": "train", "Changes": b"{}"})


def test_failed_create_accepts_only_delete(ws: Workspace) -> None:
    ws.project()
    assert ws.create_from_lines(["{oops"])["Status"] == "CREATE_FAILED"
    with pytest.raises(ConflictException):
        ws.update([label_line(ws.image("a.png", 1), "normal")])
    datasets.delete_dataset(ws.runtime, CTX, {"ProjectName": "widgets", "DatasetType": "train"})


def test_delete_train_keeps_test_and_frees_size(ws: Workspace) -> None:
    ws.project()
    assert ws.create_from_lines([label_line(ws.image("t.png", 1), "normal")])["Status"] == "CREATE_COMPLETE"
    test_ref = ws.image("s.png", 2)
    assert ws.create_from_lines([label_line(test_ref, "normal")], kind="test")["Status"] == "CREATE_COMPLETE"
    assert datasets.delete_dataset(ws.runtime, CTX, {"ProjectName": "widgets", "DatasetType": "train"}) == {}
    with pytest.raises(ResourceNotFoundException):
        ws.describe()
    assert [e["source-ref"] for e in ws.entries(kind="test")] == [test_ref]
    datasets.delete_dataset(ws.runtime, CTX, {"ProjectName": "widgets", "DatasetType": "test"})
    # With no images left, the project takes the size of the next first image.
    wide = label_line(ws.image("w.png", 3, width=128), "normal")
    assert ws.create_from_lines([wide])["Status"] == "CREATE_COMPLETE"
