"""``openlookout datasets ...`` against a live server: empty, folder and manifest creation, entries
with filters and paging, updates, deletion, and precise failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import RunCli, assert_one_line_error
from tests.helpers.synthetic import jpeg_image, png_image

BUCKET = "cli-images"


def classification_line(ref: str, label: str) -> str:
    return json.dumps(
        {
            "source-ref": ref,
            "anomaly-label": 1 if label == "anomaly" else 0,
            "anomaly-label-metadata": {
                "class-name": label,
                "type": "groundtruth/image-classification",
                "human-annotated": "yes",
                "creation-date": "2024-01-01T00:00:00",
                "job-name": "labeling",
                "confidence": 1,
            },
        }
    )


def put_manifest(s3: Any, key: str, labels: list[str], *, prefix: str) -> str:
    """Upload one PNG per label and a manifest naming them; returns the manifest's s3 URI."""
    existing = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    if BUCKET not in existing:
        s3.create_bucket(Bucket=BUCKET)
    lines = []
    for index, label in enumerate(labels):
        image_key = f"{prefix}/{label}-{index}.png"
        s3.put_object(Bucket=BUCKET, Key=image_key, Body=png_image(seed=hash(prefix) % 1000 + index))
        lines.append(classification_line(f"s3://{BUCKET}/{image_key}", label))
    s3.put_object(Bucket=BUCKET, Key=key, Body=("\n".join(lines) + "\n").encode())
    return f"s3://{BUCKET}/{key}"


def write_folder(root: Path, normal: int, anomaly: int, *, loose: int = 0) -> Path:
    for sub in ("normal", "anomaly"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for index in range(normal):
        (root / "normal" / f"good_{index:03d}.png").write_bytes(png_image(seed=index))
    for index in range(anomaly):
        (root / "anomaly" / f"bad_{index:03d}.jpg").write_bytes(jpeg_image(seed=500 + index, defect=True))
    for index in range(loose):
        (root / f"loose_{index:03d}.png").write_bytes(png_image(seed=900 + index))
    return root


def stats(lv: Any, project: str, dataset_type: str) -> dict[str, int]:
    return lv.describe_dataset(ProjectName=project, DatasetType=dataset_type)["DatasetDescription"][
        "ImageStats"
    ]


def test_create_empty_then_describe(cli: RunCli, lv: Any) -> None:
    lv.create_project(ProjectName="plain")
    created = cli("-o", "json", "datasets", "create", "plain", "--type", "train")
    assert created.exit_code == 0, created.stderr
    assert created.json()["DatasetMetadata"]["Status"] == "CREATE_COMPLETE"
    described = cli("-o", "json", "datasets", "describe", "plain", "-t", "train")
    assert described.exit_code == 0, described.stderr
    description = described.json()["DatasetDescription"]
    assert description["DatasetType"] == "train"
    assert description["ImageStats"]["Total"] == 0
    table = cli("datasets", "describe", "plain", "-t", "train")
    assert "Images total" in table.stdout


def test_folder_upload_labels_by_sub_folder_and_reports_rejections(
    cli: RunCli, lv: Any, tmp_path: Path
) -> None:
    lv.create_project(ProjectName="folder")
    folder = write_folder(tmp_path / "images", normal=4, anomaly=3, loose=1)
    (folder / "normal" / "broken.png").write_bytes(b"this is not an image")
    (folder / "anomaly" / "small.png").write_bytes(png_image(width=32, height=32))
    (folder / "notes.txt").write_text("ignored: not an image file name")

    result = cli("-o", "json", "datasets", "create", "folder", "--type", "train", "--folder", str(folder))

    assert result.exit_code == 1
    summary = result.json()
    assert summary["Imported"] == 8
    rejected = {item["File"]: item["Reason"] for item in summary["Rejected"]}
    assert set(rejected) == {"normal/broken.png", "anomaly/small.png"}
    assert all(reason.startswith("ValidationException: ") for reason in rejected.values())
    assert "64" in rejected["anomaly/small.png"]
    assert result.stderr.strip() == "error: 2 of 10 image(s) were rejected"
    assert stats(lv, "folder", "train") == {"Total": 8, "Labeled": 7, "Normal": 4, "Anomaly": 3}


def test_folder_upload_without_failures_exits_zero(cli: RunCli, lv: Any, tmp_path: Path) -> None:
    lv.create_project(ProjectName="clean")
    folder = write_folder(tmp_path / "images", normal=2, anomaly=2)
    result = cli("datasets", "create", "clean", "-t", "test", "--folder", str(folder))
    assert result.exit_code == 0, result.stderr
    assert "imported 4 image(s), rejected 0" in result.stderr
    assert stats(lv, "clean", "test")["Total"] == 4


def test_folder_upload_unlabeled(cli: RunCli, lv: Any, tmp_path: Path) -> None:
    lv.create_project(ProjectName="raw")
    folder = write_folder(tmp_path / "images", normal=2, anomaly=1)
    result = cli("datasets", "create", "raw", "-t", "train", "--folder", str(folder), "--unlabeled")
    assert result.exit_code == 0, result.stderr
    assert stats(lv, "raw", "train") == {"Total": 3, "Labeled": 0, "Normal": 0, "Anomaly": 0}


def test_folder_without_images_is_an_error(cli: RunCli, lv: Any, tmp_path: Path) -> None:
    lv.create_project(ProjectName="nothing")
    (tmp_path / "empty").mkdir()
    result = cli("datasets", "create", "nothing", "-t", "train", "--folder", str(tmp_path / "empty"))
    assert_one_line_error(result, "")
    assert "no .png, .jpg or .jpeg files" in result.stderr
    missing = cli("datasets", "create", "nothing", "-t", "train", "--folder", str(tmp_path / "absent"))
    assert_one_line_error(missing, "")
    assert "not a folder" in missing.stderr
    assert lv.describe_project(ProjectName="nothing")["ProjectDescription"]["Datasets"] == []


def test_entries_filters_and_paging(cli: RunCli, lv: Any, tmp_path: Path) -> None:
    lv.create_project(ProjectName="many")
    folder = write_folder(tmp_path / "images", normal=100, anomaly=5, loose=2)
    assert cli("datasets", "create", "many", "-t", "train", "--folder", str(folder)).exit_code == 0

    everything = cli("-o", "json", "datasets", "entries", "many", "-t", "train")
    assert everything.exit_code == 0, everything.stderr
    entries = everything.json()
    assert len(entries) == 107
    assert len({entry["source-ref"] for entry in entries}) == 107

    limited = cli("-o", "json", "datasets", "entries", "many", "-t", "train", "--limit", "101")
    assert len(limited.json()) == 101

    anomalies = cli("-o", "json", "datasets", "entries", "many", "-t", "train", "--class", "anomaly").json()
    assert len(anomalies) == 5
    assert all(entry["anomaly-label-metadata"]["class-name"] == "anomaly" for entry in anomalies)

    unlabeled = cli("-o", "json", "datasets", "entries", "many", "-t", "train", "--unlabeled").json()
    assert sorted(entry["source-ref"].rsplit("/", 1)[1] for entry in unlabeled) == [
        "loose_000.png",
        "loose_001.png",
    ]
    labeled = cli("-o", "json", "datasets", "entries", "many", "-t", "train", "--labeled").json()
    assert len(labeled) == 105

    contains = cli("-o", "json", "datasets", "entries", "many", "-t", "train", "--contains", "bad_00").json()
    assert len(contains) == 5

    future = cli("-o", "json", "datasets", "entries", "many", "-t", "train", "--created-after", "2999-01-01")
    assert future.exit_code == 0, future.stderr
    assert future.json() == []
    past = cli("-o", "json", "datasets", "entries", "many", "-t", "train", "--created-before", "2000-01-01")
    assert past.json() == []

    table = cli("datasets", "entries", "many", "-t", "train", "--class", "anomaly")
    assert "5 entries" in table.stdout
    assert "anomaly" in table.stdout


def test_create_from_manifest_waits_for_the_import(cli: RunCli, lv: Any, s3: Any) -> None:
    lv.create_project(ProjectName="manifested")
    uri = put_manifest(s3, "manifests/good.manifest", ["normal", "normal", "anomaly"], prefix="good")
    result = cli("-o", "json", "datasets", "create", "manifested", "-t", "train", "--manifest", uri)
    assert result.exit_code == 0, result.stderr
    description = result.json()["DatasetDescription"]
    assert description["Status"] == "CREATE_COMPLETE"
    assert description["ImageStats"] == {"Total": 3, "Labeled": 3, "Normal": 2, "Anomaly": 1}


def test_failed_manifest_import_exits_non_zero_with_the_reason(cli: RunCli, lv: Any, s3: Any) -> None:
    lv.create_project(ProjectName="broken")
    uri = put_manifest(s3, "manifests/broken.manifest", ["normal"], prefix="broken")
    s3.put_object(
        Bucket=BUCKET, Key="manifests/broken.manifest", Body=b'{"source-ref": "s3://cli-images/none.png"'
    )
    result = cli("datasets", "create", "broken", "-t", "train", "--manifest", uri)
    line = assert_one_line_error(result, "the import ended in CREATE_FAILED: ")
    assert len(line) > len("error: the import ended in CREATE_FAILED: ")


def test_update_adds_entries_from_a_changes_file(cli: RunCli, lv: Any, s3: Any, tmp_path: Path) -> None:
    lv.create_project(ProjectName="grow")
    lv.create_dataset(ProjectName="grow", DatasetType="train")
    uri = put_manifest(s3, "manifests/changes.manifest", ["normal", "anomaly"], prefix="grow")
    changes = tmp_path / "changes.manifest"
    bucket, key = uri[len("s3://") :].split("/", 1)
    changes.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    result = cli("-o", "json", "datasets", "update", "grow", "-t", "train", "--changes", str(changes))
    assert result.exit_code == 0, result.stderr
    assert result.json()["DatasetDescription"]["Status"] == "UPDATE_COMPLETE"
    assert stats(lv, "grow", "train")["Total"] == 2


def test_update_with_missing_file_is_one_line_error(cli: RunCli, lv: Any, tmp_path: Path) -> None:
    lv.create_project(ProjectName="nofile")
    lv.create_dataset(ProjectName="nofile", DatasetType="train")
    result = cli(
        "datasets", "update", "nofile", "-t", "train", "--changes", str(tmp_path / "absent.manifest")
    )
    line = assert_one_line_error(result, "")
    assert "absent.manifest" in line


def test_delete_then_describe_is_not_found(cli: RunCli, lv: Any) -> None:
    lv.create_project(ProjectName="gone")
    lv.create_dataset(ProjectName="gone", DatasetType="test")
    deleted = cli("-o", "json", "datasets", "delete", "gone", "-t", "test")
    assert deleted.exit_code == 0, deleted.stderr
    assert deleted.json() == {}
    assert_one_line_error(cli("datasets", "describe", "gone", "-t", "test"), "ResourceNotFoundException: ")


def test_bad_arguments_are_usage_errors(cli: RunCli, tmp_path: Path) -> None:
    assert_one_line_error(
        cli("datasets", "create", "p", "-t", "train", "--manifest", "http://x/y"),
        "Invalid value",
        exit_code=2,
    )
    both = cli("datasets", "create", "p", "-t", "train", "--manifest", "s3://b/k", "--folder", str(tmp_path))
    assert_one_line_error(both, "Invalid value", exit_code=2)
    assert_one_line_error(cli("datasets", "describe", "p", "-t", "validation"), "Invalid value", exit_code=2)
    assert_one_line_error(
        cli("datasets", "entries", "p", "-t", "train", "--created-before", "soon"),
        "Invalid value",
        exit_code=2,
    )


def test_dataset_of_missing_project_is_not_found(cli: RunCli) -> None:
    assert_one_line_error(cli("datasets", "create", "absent", "-t", "train"), "ResourceNotFoundException: ")


def test_server_side_import_of_an_allowed_folder(cli: RunCli, lv: Any, server: Any) -> None:
    lv.create_project(ProjectName="imported")
    folder = write_folder(Path(server.local_root) / "batch", normal=3, anomaly=2)
    result = cli("-o", "json", "datasets", "import", "imported", "-t", "train", "--source", str(folder))
    assert result.exit_code == 0, result.stderr
    description = result.json()["DatasetDescription"]
    assert description["Status"] == "CREATE_COMPLETE"
    assert description["ImageStats"] == {"Total": 5, "Labeled": 5, "Normal": 3, "Anomaly": 2}


def test_server_side_import_outside_the_allowed_folders_fails(cli: RunCli, lv: Any, tmp_path: Path) -> None:
    lv.create_project(ProjectName="outside")
    folder = write_folder(tmp_path / "elsewhere", normal=1, anomaly=1)
    result = cli("datasets", "import", "outside", "-t", "train", "--source", str(folder))
    line = assert_one_line_error(result, "the import ended in CREATE_FAILED: ")
    assert "elsewhere" in line
