"""The dataset flow on PostgreSQL: import with masks, update and rollback, filters, paging, delete,
readiness. (The other service tests run on SQLite; this proves the SQL holds on both.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.unit.service.dataset_support import CTX, Workspace, label_line, mask_line

from openlookout.runtime import build_runtime, close_runtime
from openlookout.service import datasets
from openlookout.service.readiness import training_readiness
from openlookout.settings import Settings

RED, BLUE = "#D62728", "#1F77B4"


@pytest.fixture
def pg_ws(tmp_path: Path, fresh_postgres_url: str) -> Iterator[Workspace]:
    root = tmp_path / "sources"
    root.mkdir()
    settings = Settings(
        data_dir=tmp_path / "data", database_url=fresh_postgres_url, allow_local_roots=(root,), workers=2
    )
    runtime = build_runtime(settings)
    try:
        yield Workspace(runtime, root)
    finally:
        close_runtime(runtime)


def test_dataset_flow_on_postgres(pg_ws: Workspace) -> None:
    ws = pg_ws
    ws.project()
    refs = [ws.image(f"IMG_{i}.png", i) for i in range(4)]
    mask = ws.mask("m.png", [(RED, (2, 2, 20, 20))])
    lines = [
        label_line(refs[0], "normal"),
        mask_line(refs[1], mask, {RED: "chip"}),
        label_line(refs[2], None),
        label_line(ws.image("50%_x.png", 9), "normal"),
    ]
    described = ws.create_from_lines(lines)
    assert described["Status"] == "CREATE_COMPLETE", described.get("StatusMessage")
    assert described["ImageStats"] == {"Total": 4, "Labeled": 3, "Normal": 2, "Anomaly": 1}
    assert len(ws.entries(Labeled=False)) == 1
    assert len(ws.entries(AnomalyClass="anomaly")) == 1
    assert len(ws.entries(SourceRefContains="IMG_")) == 3
    assert len(ws.entries(SourceRefContains="%25")) == 1
    page = datasets.list_dataset_entries(
        ws.runtime, CTX, {"ProjectName": "widgets", "DatasetType": "train", "MaxResults": 3}
    )
    assert len(page["DatasetEntries"]) == 3 and page["NextToken"]
    assert len(ws.entries()) == 4

    described = ws.update([label_line(refs[2], "anomaly"), label_line(refs[3], "normal")])
    assert described["Status"] == "UPDATE_COMPLETE", described.get("StatusMessage")
    before = sorted(map(str, ws.entries()))
    described = ws.update(
        [
            label_line(refs[0], "anomaly"),
            mask_line(refs[1], ws.mask("b.png", [(BLUE, (1, 1, 4, 4))]), {BLUE: "chip"}),
        ]
    )
    assert described["Status"] == "UPDATE_FAILED_ROLLBACK_COMPLETE"
    assert described["StatusMessage"].startswith("line 2: ")
    assert sorted(map(str, ws.entries())) == before

    readiness = training_readiness(ws.runtime, CTX, "widgets")
    assert readiness.kind == "segmentation" and readiness.counts == {"train_normal": 3, "train_anomaly": 2}
    datasets.delete_dataset(ws.runtime, CTX, {"ProjectName": "widgets", "DatasetType": "train"})
    assert training_readiness(ws.runtime, CTX, "widgets").missing == ["the project has no train dataset"]
