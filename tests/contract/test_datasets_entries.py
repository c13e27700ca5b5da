"""ListDatasetEntries, UpdateDatasetEntries and DeleteDataset over the wire with real boto3."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.helpers.synthetic import mask_png, png_image
from tests.unit.service.dataset_support import (
    all_entries,
    distinct_pngs,
    label_line,
    manifest_source,
    mask_line,
    new_bucket,
    put,
    wait_dataset,
)

RED, BLUE = "#D62728", "#1F77B4"


def _create(lv: Any, s3: Any, project: str, lines: list[str], kind: str = "train") -> dict[str, Any]:
    bucket = new_bucket(s3)
    put(s3, bucket, "m.manifest", "\n".join(lines))
    lv.create_dataset(
        ProjectName=project, DatasetType=kind, DatasetSource=manifest_source(bucket, "m.manifest")
    )
    return wait_dataset(lv, project, kind)


def _update(lv: Any, project: str, lines: list[str], kind: str = "train") -> dict[str, Any]:
    answer = lv.update_dataset_entries(
        ProjectName=project, DatasetType=kind, Changes="\n".join(lines).encode()
    )
    assert answer["Status"] == "UPDATE_IN_PROGRESS"
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 202
    return wait_dataset(lv, project, kind)


def test_paging_over_1050_entries_and_filters(lv: Any, s3: Any, server: Any) -> None:
    lv.create_project(ProjectName="many")
    folder = server.local_root / "many"
    folder.mkdir()
    lines = []
    for i, data in enumerate(distinct_pngs(1050)):
        path = folder / f"IMG_{i:04d}.png"
        path.write_bytes(data)
        lines.append(label_line(path.as_uri(), ("normal", "anomaly", None)[i % 3]))
    described = _create(lv, s3, "many", lines)
    assert described["Status"] == "CREATE_COMPLETE", described.get("StatusMessage")
    assert described["ImageStats"] == {"Total": 1050, "Labeled": 700, "Normal": 350, "Anomaly": 350}

    pages = list(lv.get_paginator("list_dataset_entries").paginate(ProjectName="many", DatasetType="train"))
    assert [len(p["DatasetEntries"]) for p in pages] == [100] * 10 + [50]
    refs = [json.loads(line)["source-ref"] for p in pages for line in p["DatasetEntries"]]
    assert sorted(refs) == sorted(json.loads(line)["source-ref"] for line in lines)
    small = lv.list_dataset_entries(ProjectName="many", DatasetType="train", MaxResults=7)
    assert len(small["DatasetEntries"]) == 7 and small["NextToken"]

    assert len(all_entries(lv, "many", Labeled=True)) == 700
    unlabeled = all_entries(lv, "many", Labeled=False)
    assert len(unlabeled) == 350 and all("anomaly-label" not in e for e in unlabeled)
    anomalies = all_entries(lv, "many", AnomalyClass="anomaly")
    assert len(anomalies) == 350 and {e["anomaly-label"] for e in anomalies} == {1}
    assert {e["anomaly-label"] for e in all_entries(lv, "many", AnomalyClass="normal")} == {0}
    matched = all_entries(lv, "many", SourceRefContains="IMG_001")
    assert sorted(e["source-ref"].rsplit("/", 1)[1] for e in matched) == [
        f"IMG_{i:04d}.png" for i in range(10, 20)
    ]
    assert all_entries(lv, "many", SourceRefContains="IMG_%") == []
    with pytest.raises(ClientError) as bad_token:
        lv.list_dataset_entries(
            ProjectName="many", DatasetType="train", Labeled=True, NextToken=small["NextToken"]
        )
    assert bad_token.value.response["Error"]["Code"] == "ValidationException"


def test_created_before_and_after(lv: Any, s3: Any) -> None:
    lv.create_project(ProjectName="dates")
    bucket = new_bucket(s3)
    old = put(s3, bucket, "old.png", png_image(seed=1))
    assert _create(lv, s3, "dates", [label_line(old, "normal")])["Status"] == "CREATE_COMPLETE"
    time.sleep(1.1)
    middle = datetime.now(UTC)
    time.sleep(1.1)
    new = put(s3, bucket, "new.png", png_image(seed=2))
    assert _update(lv, "dates", [label_line(new, "anomaly")])["Status"] == "UPDATE_COMPLETE"
    assert [e["source-ref"] for e in all_entries(lv, "dates", BeforeCreationDate=middle)] == [old]
    assert [e["source-ref"] for e in all_entries(lv, "dates", AfterCreationDate=middle)] == [new]


def test_update_adds_relabels_and_masks(lv: Any, s3: Any) -> None:
    lv.create_project(ProjectName="upd")
    bucket = new_bucket(s3)
    refs = [put(s3, bucket, f"i{i}.png", png_image(seed=i)) for i in range(3)]
    assert _create(lv, s3, "upd", [label_line(refs[0], "normal"), label_line(refs[1], None)])["Status"] == (
        "CREATE_COMPLETE"
    )
    mask = put(s3, bucket, "i1-mask.png", mask_png(96, 64, [(RED, (3, 3, 30, 30))]))
    described = _update(lv, "upd", [mask_line(refs[1], mask, {RED: "chip"}), label_line(refs[2], "Normal")])
    assert described["Status"] == "UPDATE_COMPLETE", described.get("StatusMessage")
    assert described["ImageStats"] == {"Total": 3, "Labeled": 3, "Normal": 2, "Anomaly": 1}
    entries = {e["source-ref"]: e for e in all_entries(lv, "upd")}
    assert entries[refs[1]]["anomaly-mask-ref"] == mask
    assert entries[refs[2]]["anomaly-label-metadata"]["class-name"] == "normal"
    # A replacement replaces the whole entry: the mask goes with it.
    described = _update(lv, "upd", [label_line(refs[1], "normal")])
    assert described["ImageStats"] == {"Total": 3, "Labeled": 3, "Normal": 3, "Anomaly": 0}
    assert "anomaly-mask-ref" not in {e["source-ref"]: e for e in all_entries(lv, "upd")}[refs[1]]


def test_failed_update_leaves_dataset_exactly_as_before(lv: Any, s3: Any) -> None:
    lv.create_project(ProjectName="rollback")
    bucket = new_bucket(s3)
    refs = [put(s3, bucket, f"i{i}.png", png_image(seed=i)) for i in range(3)]
    mask = put(s3, bucket, "m.png", mask_png(96, 64, [(RED, (3, 3, 30, 30))]))
    lines = [label_line(refs[0], "normal"), mask_line(refs[1], mask, {RED: "chip"})]
    assert _create(lv, s3, "rollback", lines)["Status"] == "CREATE_COMPLETE"
    before_entries = all_entries(lv, "rollback")
    before = lv.describe_dataset(ProjectName="rollback", DatasetType="train")["DatasetDescription"]
    bad_mask = put(s3, bucket, "bad.png", mask_png(96, 64, [(BLUE, (3, 3, 30, 30))]))
    changes = [
        label_line(refs[0], "anomaly"),
        label_line(refs[2], "normal"),
        mask_line(refs[1], bad_mask, {BLUE: "chip"}),
    ]
    described = _update(lv, "rollback", changes)
    assert described["Status"] == "UPDATE_FAILED_ROLLBACK_COMPLETE"
    assert described["StatusMessage"].startswith("line 3: ")
    assert "chip" in described["StatusMessage"] and RED in described["StatusMessage"]
    assert described["ImageStats"] == before["ImageStats"]
    assert all_entries(lv, "rollback") == before_entries
    # The project's image size did not move either: a differently sized image is still refused.
    wide = put(s3, bucket, "wide.png", png_image(128, 64, seed=8))
    described = _update(lv, "rollback", [label_line(wide, "normal")])
    assert "128x64" in described["StatusMessage"] and "96x64" in described["StatusMessage"]


def test_update_errors(lv: Any, s3: Any) -> None:
    lv.create_project(ProjectName="upd-errors")
    with pytest.raises(ClientError) as missing:
        lv.update_dataset_entries(ProjectName="upd-errors", DatasetType="train", Changes=b"{}")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert _create(lv, s3, "upd-errors", ["{broken"])["Status"] == "CREATE_FAILED"
    with pytest.raises(ClientError) as failed:
        lv.update_dataset_entries(
            ProjectName="upd-errors", DatasetType="train", Changes=b'{"source-ref":"x"}'
        )
    assert failed.value.response["Error"]["Code"] == "ConflictException"
    assert failed.value.response["ResourceType"] == "DATASET"


def test_delete_single_and_separate(lv: Any, s3: Any) -> None:
    lv.create_project(ProjectName="del")
    bucket = new_bucket(s3)
    train = [put(s3, bucket, f"t{i}.png", png_image(seed=i)) for i in range(2)]
    test = put(s3, bucket, "s.png", png_image(seed=10))
    assert _create(lv, s3, "del", [label_line(r, "normal") for r in train])["Status"] == "CREATE_COMPLETE"
    assert _create(lv, s3, "del", [label_line(test, "anomaly")], "test")["Status"] == "CREATE_COMPLETE"
    kinds = [
        d["DatasetType"] for d in lv.describe_project(ProjectName="del")["ProjectDescription"]["Datasets"]
    ]
    assert sorted(kinds) == ["test", "train"]
    answer = lv.delete_dataset(ProjectName="del", DatasetType="test")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 202
    with pytest.raises(ClientError) as gone:
        lv.describe_dataset(ProjectName="del", DatasetType="test")
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    kinds = [
        d["DatasetType"] for d in lv.describe_project(ProjectName="del")["ProjectDescription"]["Datasets"]
    ]
    assert kinds == ["train"]
    # The image of the deleted test dataset no longer counts as a duplicate.
    assert _update(lv, "del", [label_line(test, "anomaly")])["Status"] == "UPDATE_COMPLETE"
    lv.delete_dataset(ProjectName="del", DatasetType="train")
    assert lv.describe_project(ProjectName="del")["ProjectDescription"]["Datasets"] == []
    with pytest.raises(ClientError) as again:
        lv.delete_dataset(ProjectName="del", DatasetType="train")
    assert again.value.response["Error"]["Code"] == "ResourceNotFoundException"
    lv.delete_project(ProjectName="del")
