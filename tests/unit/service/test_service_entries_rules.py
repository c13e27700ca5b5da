"""The ingestion pipeline's own logic: line parsing, which error wins, quotas, re-run jobs."""

from __future__ import annotations

import time

import pytest
from tests.unit.service.dataset_support import CTX, Workspace, label_line, mask_line

from openlookout.service import dataset_jobs, datasets, entries
from openlookout.service.entries import IngestError, manifest_lines, parse_lines
from openlookout.store import entries as repo


def test_parse_lines_numbers_lines_and_skips_blanks() -> None:
    data = "\n".join(
        [label_line("s3://b/a.png", "normal"), "", "   ", label_line("s3://b/b.png", None)]
    ).encode()
    batch = parse_lines(manifest_lines(data), base="s3://b/m.manifest")
    assert batch.error is None
    assert [(c.position, c.where, c.entry.source_ref) for c in batch.candidates] == [
        (1, "line 1", "s3://b/a.png"),
        (4, "line 4", "s3://b/b.png"),
    ]
    assert all(c.base == "s3://b/m.manifest" for c in batch.candidates)


def test_parse_lines_stops_at_the_first_bad_line() -> None:
    lines = [label_line("s3://b/a.png", "normal"), label_line("s3://b/a.png", "anomaly"), "{bad"]
    batch = parse_lines(manifest_lines("\n".join(lines).encode()), base=None)
    assert isinstance(batch.error, IngestError)
    assert batch.error.position == 2
    assert batch.error.message == "line 2: source-ref s3://b/a.png already appears on line 1"
    assert len(batch.candidates) == 1


def test_bad_utf8_and_overlong_lines_are_line_errors() -> None:
    data = label_line("s3://b/a.png", "normal").encode() + b"\n\xff\xfe{}\n"
    batch = parse_lines(manifest_lines(data), base=None)
    assert batch.error is not None and batch.error.message.startswith("line 2: ")
    data = b'{"source-ref": "' + b"x" * 40_000 + b'"}'
    batch = parse_lines(manifest_lines(data), base=None)
    assert batch.error is not None and batch.error.message.startswith("line 1: ")
    assert "8192" in batch.error.message


def test_an_earlier_syntax_error_beats_a_later_bad_image(ws: Workspace) -> None:
    ws.project()
    lines = [
        label_line(ws.image("ok.png", 1), "normal"),
        "[]",
        label_line(ws.write("bad.png", b"nope"), "normal"),
    ]
    described = ws.create_from_lines(lines)
    assert described["Status"] == "CREATE_FAILED"
    assert described["StatusMessage"].startswith("line 2: the line must be a JSON object")


def test_segmentation_quota_applies_once_masks_are_present(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(entries.DATASET_QUOTAS, "train", (10, 2))
    ws.project()
    lines = [label_line(ws.image(f"n{i}.png", i), "normal") for i in range(2)]
    lines.append(
        mask_line(
            ws.image("a.png", 9), ws.mask("a-mask.png", [("#D62728", (1, 1, 9, 9))]), {"#D62728": "chip"}
        )
    )
    described = ws.create_from_lines(lines)
    assert described["Status"] == "CREATE_FAILED"
    assert described["StatusMessage"] == (
        "the train dataset would hold 3 images; a train dataset with segmentation masks holds at most 2"
    )


def test_a_rerun_create_job_starts_over(ws: Workspace) -> None:
    """A create job interrupted by a stop runs again: leftovers are replaced, not duplicated."""
    ws.project()
    ref = ws.image("a.png", 1)
    manifest = ws.write("m.manifest", label_line(ref, "normal"))
    dataset, _ = datasets.new_dataset(ws.runtime, CTX, "widgets", "train", "CREATE_IN_PROGRESS")
    leftover = repo.NewEntry("s3://stale/x.png", "anomaly", "f" * 64, None, (), "{}")
    with ws.runtime.db.begin() as conn:
        repo.write_entries(conn, dataset.id, [leftover], {}, time.time())
    payload = {"dataset_id": dataset.id, "manifest_uri": manifest}
    dataset_jobs.run_manifest_import(ws.runtime, payload)
    assert [e["source-ref"] for e in ws.entries()] == [ref]
    # Running it once more after it finished changes nothing.
    dataset_jobs.run_manifest_import(ws.runtime, payload)
    assert ws.describe()["ImageStats"]["Total"] == 1


def test_failure_hook_leaves_a_final_state(ws: Workspace) -> None:
    ws.project()
    created, _ = datasets.new_dataset(ws.runtime, CTX, "widgets", "train", "CREATE_IN_PROGRESS")
    dataset_jobs.on_job_failure(
        ws.runtime, {"dataset_id": created.id}, "interrupted by a server stop 3 times"
    )
    described = ws.describe()
    assert described["Status"] == "CREATE_FAILED"
    assert described["StatusMessage"] == "the import did not finish: interrupted by a server stop 3 times"
    datasets.delete_dataset(ws.runtime, CTX, {"ProjectName": "widgets", "DatasetType": "train"})
    datasets.create_dataset(ws.runtime, CTX, {"ProjectName": "widgets", "DatasetType": "train"})
    dataset = datasets.read_dataset(ws.runtime, CTX, "widgets", "train")
    with ws.runtime.db.begin() as conn:
        repo.set_dataset_status(conn, dataset.id, "UPDATE_IN_PROGRESS", None, time.time())
    dataset_jobs.on_job_failure(ws.runtime, {"dataset_id": dataset.id}, "boom")
    assert ws.describe()["Status"] == "UPDATE_FAILED_ROLLBACK_COMPLETE"


def test_anomaly_type_limits_per_project(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entries, "MAX_TYPES_PER_PROJECT", 2)
    ws.project()
    colours = {"#D62728": "chip", "#1F77B4": "dent"}
    regions = [("#D62728", (1, 1, 9, 9)), ("#1F77B4", (20, 20, 30, 30))]
    first = mask_line(ws.image("a.png", 1), ws.mask("a-mask.png", regions), colours)
    assert ws.create_from_lines([first])["Status"] == "CREATE_COMPLETE"
    third = mask_line(
        ws.image("b.png", 2), ws.mask("b-mask.png", [("#2CA02C", (1, 1, 9, 9))]), {"#2CA02C": "scuff"}
    )
    described = ws.update([third])
    assert described["Status"] == "UPDATE_FAILED_ROLLBACK_COMPLETE"
    assert described["StatusMessage"] == (
        "line 1: anomaly type 'scuff' is new but the project already has 2 anomaly types, the most a "
        "project may have"
    )
    twice = mask_line(
        ws.image("c.png", 3),
        ws.mask("c-mask.png", [("#D62728", (1, 1, 9, 9))]),
        {"#D62728": "chip", "#FF0000": "chip"},
    )
    described = ws.update([twice])
    assert "gives anomaly type 'chip' two colours (#D62728 and #FF0000)" in described["StatusMessage"]


def test_parsing_stops_beyond_any_dataset_quota() -> None:
    lines = [label_line(f"s3://b/{i}.png", None) for i in range(4)]
    batch = parse_lines(manifest_lines("\n".join(lines).encode()), base=None, max_entries=3)
    assert len(batch.candidates) == 3
    assert batch.error is not None
    assert batch.error.message == "line 4: more than 3 entries; no dataset holds that many images"
