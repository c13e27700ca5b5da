"""ListDatasetEntries: every filter, paging, token binding, and speed at the dataset quota."""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, datetime

import pytest
from tests.unit.service.dataset_support import CTX, Workspace, label_line

from openlookout.errors import ValidationException
from openlookout.service import datasets
from openlookout.store import entries as repo


def _page(ws: Workspace, **params: object) -> dict:
    return datasets.list_dataset_entries(
        ws.runtime, CTX, {"ProjectName": "widgets", "DatasetType": "train", **params}
    )


def _refs(entries: list[dict]) -> list[str]:
    return [e["source-ref"].rsplit("/", 1)[1] for e in entries]


def test_filters(ws: Workspace) -> None:
    ws.project()
    lines = [
        label_line(ws.image("IMG_17_a.png", 1), "normal"),
        label_line(ws.image("IMG_170.png", 2), "anomaly"),
        label_line(ws.image("img_17_lower.png", 3), None),
        label_line(ws.image("50%_off.png", 4), "normal"),
        label_line(ws.image("a_b.png", 5), "anomaly"),
        label_line(ws.image("axb.png", 6), None),
    ]
    assert ws.create_from_lines(lines)["Status"] == "CREATE_COMPLETE"
    assert len(ws.entries()) == 6
    # A file URI spells '%' as '%25'.
    assert _refs(ws.entries(Labeled=True)) == ["IMG_17_a.png", "IMG_170.png", "50%25_off.png", "a_b.png"]
    assert _refs(ws.entries(Labeled=False)) == ["img_17_lower.png", "axb.png"]
    assert _refs(ws.entries(AnomalyClass="anomaly")) == ["IMG_170.png", "a_b.png"]
    assert _refs(ws.entries(AnomalyClass="normal", Labeled=True)) == ["IMG_17_a.png", "50%25_off.png"]
    assert _refs(ws.entries(SourceRefContains="IMG_17")) == ["IMG_17_a.png", "IMG_170.png"]
    # Wildcards of SQL LIKE are plain characters here.
    assert _refs(ws.entries(SourceRefContains="%")) == ["50%25_off.png"]
    assert _refs(ws.entries(SourceRefContains="a_b")) == ["a_b.png"]
    assert ws.entries(SourceRefContains="nothing-like-this") == []


def test_created_before_and_after(ws: Workspace) -> None:
    ws.project()
    assert ws.create_from_lines([label_line(ws.image("old.png", 1), "normal")])["Status"] == "CREATE_COMPLETE"
    time.sleep(0.05)
    middle = datetime.now(UTC)
    time.sleep(0.05)
    assert ws.update([label_line(ws.image("new.png", 2), "normal")])["Status"] == "UPDATE_COMPLETE"
    assert _refs(ws.entries(BeforeCreationDate=middle)) == ["old.png"]
    assert _refs(ws.entries(AfterCreationDate=middle)) == ["new.png"]
    assert _refs(ws.entries(AfterCreationDate=middle.timestamp() + 3600)) == []


def test_paging_over_many_entries_gives_each_once(ws: Workspace) -> None:
    ws.project()
    _fill(ws, 1050)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, object] = {"MaxResults": 100}
        if token:
            params["NextToken"] = token
        page = _page(ws, **params)
        seen.extend(json.loads(line)["source-ref"] for line in page["DatasetEntries"])
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
        assert len(token) <= 2048 and all(c.isalnum() or c in "+/=" for c in token)
    assert pages == 11
    assert len(seen) == 1050 and len(set(seen)) == 1050
    default_page = _page(ws)
    assert len(default_page["DatasetEntries"]) == 100


def test_tokens_are_bound_to_the_query(ws: Workspace) -> None:
    ws.project()
    _fill(ws, 5)
    token = _page(ws, MaxResults=2)["NextToken"]
    assert len(_page(ws, MaxResults=2, NextToken=token)["DatasetEntries"]) == 2
    for other in ({"Labeled": True}, {"SourceRefContains": "x"}, {"DatasetType": "test"}):
        if other.get("DatasetType") == "test":
            datasets.create_dataset(ws.runtime, CTX, {"ProjectName": "widgets", "DatasetType": "test"})
        with pytest.raises(ValidationException):
            _page(ws, MaxResults=2, NextToken=token, **other)
    with pytest.raises(ValidationException):
        _page(ws, NextToken=token[:-8] + "AAAAAAA=")


def _fill(ws: Workspace, count: int) -> None:
    """Write ``count`` entries straight through the repository (the listing does not care how)."""
    dataset = datasets.read_dataset(ws.runtime, CTX, "widgets", "train") if _has(ws) else None
    if dataset is None:
        datasets.create_dataset(ws.runtime, CTX, {"ProjectName": "widgets", "DatasetType": "train"})
        dataset = datasets.read_dataset(ws.runtime, CTX, "widgets", "train")
    rows = [
        repo.NewEntry(
            source_ref=f"s3://bucket/images/{i:05d}.png",
            label=("normal", "anomaly", None)[i % 3],
            image_sha256=f"{i:064x}",
            mask_sha256=None,
            anomaly_types=(),
            entry_json=label_line(f"s3://bucket/images/{i:05d}.png", ("normal", "anomaly", None)[i % 3]),
        )
        for i in range(count)
    ]
    with ws.runtime.db.begin() as conn:
        repo.write_entries(conn, dataset.id, rows, {}, time.time())


def _has(ws: Workspace) -> bool:
    try:
        datasets.read_dataset(ws.runtime, CTX, "widgets", "train")
    except Exception:
        return False
    return True


def test_page_latency_at_the_train_quota(ws: Workspace) -> None:
    ws.project()
    _fill(ws, 16_000)
    timings: dict[str, list[float]] = {}
    variants: dict[str, dict[str, object]] = {
        "plain": {},
        "labeled": {"Labeled": True},
        "anomaly": {"AnomalyClass": "anomaly"},
        "contains": {"SourceRefContains": "/1"},
    }
    for name, params in variants.items():
        token = None
        for _ in range(15):
            call = dict(params)
            if token:
                call["NextToken"] = token
            start = time.perf_counter()
            page = _page(ws, **call)
            timings.setdefault(name, []).append(time.perf_counter() - start)
            assert len(page["DatasetEntries"]) == 100
            token = page.get("NextToken")
    for name, values in timings.items():
        assert statistics.median(values) < 0.05, (name, statistics.median(values))
    described = ws.describe()
    assert described["ImageStats"]["Total"] == 16_000
