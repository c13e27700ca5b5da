"""CreateDataset / DescribeDataset over the wire with real boto3: empty datasets, S3 manifests
(classification, segmentation, relative and file:// references, object versions) and the copies the
service keeps of every image.
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from tests.helpers.synthetic import jpeg_image, mask_png, png_image
from tests.unit.service.dataset_support import (
    all_entries,
    label_line,
    manifest_source,
    mask_line,
    new_bucket,
    put,
    wait_dataset,
)

from openlookout.service.context import RequestContext
from openlookout.service.readiness import training_readiness

RED, GREEN = "#d62728", "#23A436"


def _error(exc: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    return exc.value.response["Error"] | {"status": exc.value.response["ResponseMetadata"]["HTTPStatusCode"]}


def test_empty_dataset_lifecycle(lv: Any) -> None:
    with pytest.raises(ClientError) as missing:
        lv.create_dataset(ProjectName="ghost", DatasetType="train")
    assert _error(missing)["Code"] == "ResourceNotFoundException"
    assert missing.value.response["ResourceType"] == "PROJECT"
    lv.create_project(ProjectName="empty")
    created = lv.create_dataset(ProjectName="empty", DatasetType="train")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert created["DatasetMetadata"]["Status"] == "CREATE_COMPLETE"
    assert created["DatasetMetadata"]["DatasetType"] == "train"
    with pytest.raises(ClientError) as twice:
        lv.create_dataset(ProjectName="empty", DatasetType="train")
    assert _error(twice)["Code"] == "ConflictException"
    assert twice.value.response["ResourceType"] == "DATASET"
    described = lv.describe_dataset(ProjectName="empty", DatasetType="train")["DatasetDescription"]
    assert described["ImageStats"] == {"Total": 0, "Labeled": 0, "Normal": 0, "Anomaly": 0}
    assert described["ProjectName"] == "empty"
    assert described["CreationTimestamp"] <= described["LastUpdatedTimestamp"]
    with pytest.raises(ClientError) as no_test:
        lv.describe_dataset(ProjectName="empty", DatasetType="test")
    assert _error(no_test)["Code"] == "ResourceNotFoundException"
    assert no_test.value.response["ResourceType"] == "DATASET"
    datasets = lv.describe_project(ProjectName="empty")["ProjectDescription"]["Datasets"]
    assert [d["DatasetType"] for d in datasets] == ["train"]


def test_classification_manifest_from_s3(lv: Any, s3: Any, server: Any) -> None:
    lv.create_project(ProjectName="cls")
    bucket = new_bucket(s3)
    refs = [put(s3, bucket, f"images/img{i}.png", png_image(seed=i)) for i in range(4)]
    put(s3, bucket, "images/rel.jpg", jpeg_image(seed=9))
    lines = [
        label_line(refs[0], "Normal"),
        label_line(refs[1], "normal", value="0"),
        label_line(refs[2], "Anomaly", attribute="auto-label", value=0),
        label_line(refs[3], "something-else"),
        label_line("images/rel.jpg", "anomaly", value="1"),
    ]
    put(s3, bucket, "train.manifest", "\n".join(lines) + "\n")
    created = lv.create_dataset(
        ProjectName="cls", DatasetType="train", DatasetSource=manifest_source(bucket, "train.manifest")
    )
    assert created["DatasetMetadata"]["Status"] == "CREATE_IN_PROGRESS"
    described = wait_dataset(lv, "cls")
    assert described["Status"] == "CREATE_COMPLETE", described.get("StatusMessage")
    assert described["ImageStats"] == {"Total": 5, "Labeled": 4, "Normal": 2, "Anomaly": 2}
    entries = {e["source-ref"]: e for e in all_entries(lv, "cls")}
    assert set(entries) == {*refs, "images/rel.jpg"}
    assert entries[refs[2]]["auto-label"] == 1
    assert entries[refs[2]]["auto-label-metadata"]["class-name"] == "anomaly"
    assert entries[refs[1]]["anomaly-label"] == 0
    assert entries["images/rel.jpg"]["anomaly-label"] == 1
    assert entries[refs[0]]["anomaly-label-metadata"]["creation-date"] == "2024-03-05T10:15:00.000"
    # An unknown class makes the entry unlabeled; its metadata is kept as written.
    assert entries[refs[3]]["anomaly-label-metadata"]["class-name"] == "something-else"


def test_segmentation_manifest_with_and_without_background(lv: Any, s3: Any, server: Any) -> None:
    lv.create_project(ProjectName="seg")
    bucket = new_bucket(s3)
    lines = [label_line(put(s3, bucket, "n.png", png_image(seed=1)), "normal")]
    image = put(s3, bucket, "a.png", png_image(seed=2, defect=True))
    mask = put(s3, bucket, "a-mask.png", mask_png(96, 64, [(RED.upper(), (4, 4, 20, 20))], palette=True))
    lines.append(mask_line(image, mask, {RED: "chip"}))
    image = put(s3, bucket, "b.png", png_image(seed=3, defect=True))
    mask = put(
        s3, bucket, "b-mask.png", mask_png(96, 64, [(GREEN, (30, 30, 50, 40)), (RED.upper(), (1, 1, 3, 3))])
    )
    lines.append(mask_line(image, mask, {GREEN: "crack", RED: "chip"}, background=False))
    put(s3, bucket, "seg.manifest", "\n".join(lines))
    lv.create_dataset(
        ProjectName="seg", DatasetType="train", DatasetSource=manifest_source(bucket, "seg.manifest")
    )
    described = wait_dataset(lv, "seg")
    assert described["Status"] == "CREATE_COMPLETE", described.get("StatusMessage")
    assert described["ImageStats"] == {"Total": 3, "Labeled": 3, "Normal": 1, "Anomaly": 2}
    masked = [e for e in all_entries(lv, "seg") if "anomaly-mask-ref" in e]
    assert sorted(e["anomaly-mask-ref"] for e in masked) == [
        f"s3://{bucket}/a-mask.png",
        f"s3://{bucket}/b-mask.png",
    ]
    readiness = training_readiness(server.runtime, RequestContext("000000000000", "us-east-1"), "seg")
    assert readiness.kind == "segmentation"
    assert readiness.type_counts == {"train": {"chip": 1}}
    assert not readiness.ready
    assert "train dataset needs 19 more normal images (has 1 of 20)" in readiness.missing


def test_manifest_version_is_honoured(lv: Any, s3: Any) -> None:
    lv.create_project(ProjectName="versions")
    bucket = new_bucket(s3, versioned=True)
    first = put(s3, bucket, "one.png", png_image(seed=1))
    second = put(s3, bucket, "two.png", png_image(seed=2))
    old = s3.put_object(Bucket=bucket, Key="m.manifest", Body=label_line(first, "normal").encode())[
        "VersionId"
    ]
    s3.put_object(Bucket=bucket, Key="m.manifest", Body=label_line(second, "normal").encode())
    lv.create_dataset(
        ProjectName="versions", DatasetType="train", DatasetSource=manifest_source(bucket, "m.manifest", old)
    )
    described = wait_dataset(lv, "versions")
    assert described["Status"] == "CREATE_COMPLETE", described.get("StatusMessage")
    assert [e["source-ref"] for e in all_entries(lv, "versions")] == [first]


def test_local_references_only_under_allowed_roots(lv: Any, s3: Any, server: Any, tmp_path: Any) -> None:
    lv.create_project(ProjectName="local")
    inside = server.local_root / "imgs" / "in.png"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(png_image(seed=1))
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(png_image(seed=2))
    bucket = new_bucket(s3)
    put(s3, bucket, "ok.manifest", label_line(inside.as_uri(), "normal"))
    lv.create_dataset(
        ProjectName="local", DatasetType="train", DatasetSource=manifest_source(bucket, "ok.manifest")
    )
    assert wait_dataset(lv, "local")["Status"] == "CREATE_COMPLETE"
    put(s3, bucket, "bad.manifest", label_line(outside.as_uri(), "normal"))
    lv.create_dataset(
        ProjectName="local", DatasetType="test", DatasetSource=manifest_source(bucket, "bad.manifest")
    )
    described = wait_dataset(lv, "local", "test")
    assert described["Status"] == "CREATE_FAILED"
    assert described["StatusMessage"].startswith("line 1: ")
    assert "outside the folders" in described["StatusMessage"]


def test_dataset_survives_changes_to_its_sources(lv: Any, s3: Any, server: Any) -> None:
    lv.create_project(ProjectName="keep")
    bucket = new_bucket(s3)
    original = png_image(seed=5)
    ref = put(s3, bucket, "img.png", original)
    gone = put(s3, bucket, "gone.png", png_image(seed=6))
    put(s3, bucket, "k.manifest", "\n".join([label_line(ref, "normal"), label_line(gone, "anomaly")]))
    lv.create_dataset(
        ProjectName="keep", DatasetType="train", DatasetSource=manifest_source(bucket, "k.manifest")
    )
    assert wait_dataset(lv, "keep")["Status"] == "CREATE_COMPLETE"
    s3.put_object(Bucket=bucket, Key="img.png", Body=png_image(seed=77))
    s3.delete_object(Bucket=bucket, Key="gone.png")
    assert server.runtime.blobs.get(hashlib.sha256(original).hexdigest()) == original
    described = lv.describe_dataset(ProjectName="keep", DatasetType="train")["DatasetDescription"]
    assert described["ImageStats"]["Total"] == 2
    assert {e["source-ref"] for e in all_entries(lv, "keep")} == {ref, gone}


def test_missing_manifest_fails_the_create(lv: Any, s3: Any) -> None:
    lv.create_project(ProjectName="nomanifest")
    bucket = new_bucket(s3)
    lv.create_dataset(
        ProjectName="nomanifest", DatasetType="train", DatasetSource=manifest_source(bucket, "none")
    )
    described = wait_dataset(lv, "nomanifest")
    assert described["Status"] == "CREATE_FAILED"
    assert described["StatusMessage"].startswith("cannot read the manifest")
    # A failed dataset can be deleted and created again.
    lv.delete_dataset(ProjectName="nomanifest", DatasetType="train")
    assert lv.create_dataset(ProjectName="nomanifest", DatasetType="train")["DatasetMetadata"]["Status"] == (
        "CREATE_COMPLETE"
    )


def test_prefix_import_upload_and_readiness_routes(lv: Any, s3: Any, server: Any) -> None:
    """Our extension routes: import a labeled S3 prefix, upload one image, read the readiness."""
    lv.create_project(ProjectName="ext")
    bucket = new_bucket(s3)
    for i in range(3):
        put(s3, bucket, f"lot/normal/n{i}.png", png_image(seed=i))
    put(s3, bucket, "lot/anomaly/a0.jpg", jpeg_image(seed=20))
    put(s3, bucket, "lot/readme.txt", b"not an image")
    base = f"{server.url}/openlookout/v1/projects/ext"
    answer = httpx.post(f"{base}/datasets/train/import", json={"Source": f"s3://{bucket}/lot/"})
    assert answer.status_code == 202, answer.text
    assert isinstance(answer.json()["JobId"], int)
    described = wait_dataset(lv, "ext")
    assert described["Status"] == "CREATE_COMPLETE", described.get("StatusMessage")
    assert described["ImageStats"] == {"Total": 4, "Labeled": 4, "Normal": 3, "Anomaly": 1}
    refs = {e["source-ref"] for e in all_entries(lv, "ext")}
    assert f"s3://{bucket}/lot/anomaly/a0.jpg" in refs

    uploaded = httpx.post(
        f"{base}/datasets/train/images",
        params={"name": "extra.png", "label": "anomaly"},
        content=png_image(seed=30),
        headers={"Content-Type": "image/png"},
    )
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["SourceRef"].startswith("upload://")
    assert (
        lv.describe_dataset(ProjectName="ext", DatasetType="train")["DatasetDescription"]["ImageStats"][
            "Anomaly"
        ]
        == 2
    )
    refused = httpx.post(
        f"{base}/datasets/train/images",
        params={"name": "tiny.png"},
        content=png_image(50, 50),
        headers={"Content-Type": "image/png"},
    )
    assert refused.status_code == 400
    assert "below the minimum" in refused.json()["message"]

    readiness = httpx.get(f"{base}/readiness").json()
    assert readiness["Ready"] is False
    assert readiness["Counts"] == {"train_normal": 3, "train_anomaly": 2}
    assert "train dataset needs 17 more normal images (has 3 of 20)" in readiness["Missing"]
