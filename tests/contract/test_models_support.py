"""Shared helpers of the model contract tests: synthetic datasets in moto S3, waiting for states."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from tests.helpers.synthetic import defect_regions, mask_png, png_image

# Small, fast training: 96x64 images, the fast preset at the images' own size.
FAST_TRAINING = {"training_preset": "fast", "training_image_size": 96, "training_threads": 2}
WIDTH, HEIGHT = 96, 64
DEFECT_COLOR = "#FF0000"


def classification_line(uri: str, label: str) -> dict[str, Any]:
    return {
        "source-ref": uri,
        "anomaly-label": 1 if label == "anomaly" else 0,
        "anomaly-label-metadata": {
            "class-name": label,
            "type": "groundtruth/image-classification",
            "human-annotated": "yes",
            "creation-date": "2024-01-01T00:00:00.000",
            "job-name": "labeling-job/tests",
        },
    }


def segmentation_line(uri: str, label: str, mask_uri: str) -> dict[str, Any]:
    line = classification_line(uri, label)
    line["anomaly-mask-ref"] = mask_uri
    line["anomaly-mask-ref-metadata"] = {
        "internal-color-map": {
            "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff", "confidence": 0.0},
            "1": {"class-name": "defect", "hex-color": DEFECT_COLOR, "confidence": 0.0},
        },
        "type": "groundtruth/semantic-segmentation",
        "human-annotated": "yes",
        "creation-date": "2024-01-01T00:00:00.000",
        "job-name": "labeling-job/tests",
    }
    return line


def upload_images(
    s3: Any, bucket: str, prefix: str, normal: int, anomaly: int, *, seed: int = 0, masks: bool = False
) -> list[str]:
    """Put synthetic images (and masks) in S3; the Ground Truth lines describing them."""
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    lines: list[str] = []
    for index in range(normal + anomaly):
        label = "normal" if index < normal else "anomaly"
        image_seed = seed + index
        key = f"{prefix}/{label}-{image_seed}.png"
        s3.put_object(
            Bucket=bucket, Key=key, Body=png_image(WIDTH, HEIGHT, seed=image_seed, defect=label == "anomaly")
        )
        uri = f"s3://{bucket}/{key}"
        if masks and label == "anomaly":
            regions = [(DEFECT_COLOR, box) for _, box in defect_regions(WIDTH, HEIGHT, seed=image_seed)]
            mask_key = f"{prefix}/masks/{label}-{image_seed}.png"
            s3.put_object(Bucket=bucket, Key=mask_key, Body=mask_png(WIDTH, HEIGHT, regions))
            lines.append(json.dumps(segmentation_line(uri, label, f"s3://{bucket}/{mask_key}")))
        else:
            lines.append(json.dumps(classification_line(uri, label)))
    return lines


def create_dataset(lv: Any, s3: Any, project: str, dataset_type: str, bucket: str, lines: list[str]) -> None:
    key = f"manifests/{project}-{dataset_type}.manifest"
    s3.put_object(Bucket=bucket, Key=key, Body="\n".join(lines).encode())
    lv.create_dataset(
        ProjectName=project,
        DatasetType=dataset_type,
        DatasetSource={"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Key": key}}},
    )
    wait_dataset(lv, project, dataset_type)


def wait_dataset(lv: Any, project: str, dataset_type: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        description = lv.describe_dataset(ProjectName=project, DatasetType=dataset_type)["DatasetDescription"]
        if not description["Status"].endswith("IN_PROGRESS"):
            assert description["Status"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), description
            return
        assert time.monotonic() < deadline, f"dataset stuck in {description['Status']}"
        time.sleep(0.05)


def wait_model(lv: Any, project: str, version: str, wanted: set[str], timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        description: dict[str, Any] = lv.describe_model(ProjectName=project, ModelVersion=version)[
            "ModelDescription"
        ]
        if description["Status"] in wanted:
            return description
        assert time.monotonic() < deadline, (
            f"model stuck in {description['Status']}: {description.get('StatusMessage')}"
        )
        time.sleep(0.1)


def classification_project(lv: Any, s3: Any, project: str, bucket: str) -> None:
    """A single-dataset classification project meeting the minimums (20 normal + 10 anomalous)."""
    lv.create_project(ProjectName=project)
    create_dataset(lv, s3, project, "train", bucket, upload_images(s3, bucket, project, 20, 10))


def insert_model_row(runtime: Any, project: str, version: int = 1, status: str = "TRAINED") -> str:
    """Record a model version directly in the store (no training) for tests that only need it to exist,
    e.g. tagging tests; returns its ARN. The project must exist in the default account and region."""
    from openlookout.service.arns import model_arn
    from openlookout.service.context import RequestContext
    from openlookout.store import models as model_store
    from openlookout.store import projects as project_store

    settings = runtime.settings
    ctx = RequestContext(account_id=settings.default_account_id, region=settings.default_region)
    now = time.time()
    with runtime.db.begin() as conn:
        row = project_store.get_project(conn, ctx.account_id, ctx.region, project)
        assert row is not None, f"project {project} does not exist"
        arn = model_arn(ctx, project, version)
        model_store.insert_model(
            conn,
            project_id=row.id,
            version=version,
            arn=arn,
            status=status,
            output_bucket="unused",
            output_prefix="",
            created_at=now,
            updated_at=now,
        )
    return arn


def scrape(server_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The server's ``/metrics`` as {(sample name, sorted labels): value}."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    answer = httpx.get(f"{server_url}/metrics", timeout=10)
    assert answer.status_code == 200, answer.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }
