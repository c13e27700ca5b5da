"""The train-and-host walk-through as AWS's published example programs do it, reading responses with
plain ``response["..."]["..."]`` indexing (never ``.get``): a member those programs read that the
server leaves out fails here with a KeyError, as it would in them.

Create a project and a dataset from a Ground Truth manifest in (moto) S3, add entries, train, list
and describe the model, host it, detect, stop, delete everything. Every status met is noted with
the StatusMessage read next to it.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

from tests.contract.test_models_support import (
    FAST_TRAINING,
    HEIGHT,
    WIDTH,
    classification_line,
    upload_images,
)
from tests.helpers.synthetic import png_image

from openlookout.client import lookoutvision_client

PROJECT = "walkthrough"
BUCKET = "walkthrough-data"
POLL_SECONDS = 0.1
TIMEOUT_SECONDS = 180


class Trail:
    """The StatusMessage read for each status, per kind of resource."""

    def __init__(self) -> None:
        self.seen: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))

    def note(self, kind: str, status: str, message: str) -> None:
        assert isinstance(message, str) and message, f"{kind} {status}: empty StatusMessage"
        self.seen[kind][status].append(message)


def poll_dataset(lv: Any, trail: Trail, busy: str) -> str:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while True:
        response = lv.describe_dataset(ProjectName=PROJECT, DatasetType="train")
        status = response["DatasetDescription"]["Status"]
        trail.note("dataset", status, response["DatasetDescription"]["StatusMessage"])
        if status != busy:
            return str(status)
        assert time.monotonic() < deadline, f"dataset still {status}"
        time.sleep(POLL_SECONDS)


def poll_model(lv: Any, trail: Trail, version: str, busy: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while True:
        response = lv.describe_model(ProjectName=PROJECT, ModelVersion=version)
        status = response["ModelDescription"]["Status"]
        trail.note("model", status, response["ModelDescription"]["StatusMessage"])
        if status != busy:
            description: dict[str, Any] = response["ModelDescription"]
            return description
        assert time.monotonic() < deadline, f"model still {status}"
        time.sleep(POLL_SECONDS)


def show_model(lv: Any, trail: Trail, version: str) -> None:
    """What the examples print for a model; a trained or hosted one also shows its evaluation."""
    model = lv.describe_model(ProjectName=PROJECT, ModelVersion=version)["ModelDescription"]
    trail.note("model", model["Status"], model["StatusMessage"])
    assert model["ModelVersion"] == version and model["ModelArn"].endswith(f"/{PROJECT}/{version}")
    assert model["CreationTimestamp"] is not None
    if model["Status"] in ("TRAINED", "HOSTED"):
        training_time = model["EvaluationEndTimestamp"] - model["CreationTimestamp"]
        assert training_time.total_seconds() >= 0
        for metric in ("Recall", "Precision", "F1Score"):
            assert 0.0 <= model["Performance"][metric] <= 1.0
        location = model["OutputConfig"]["S3Location"]
        assert (location["Bucket"], location["Prefix"]) == ("walkthrough-out", "walkthrough/output/")


def test_walkthrough_reads_every_member_the_examples_read(make_server: Any, s3: Any) -> None:
    server = make_server(**FAST_TRAINING)
    lv = lookoutvision_client(server.url, retries={"total_max_attempts": 1})
    trail = Trail()
    s3.create_bucket(Bucket="walkthrough-out")

    project_arn = lv.create_project(ProjectName=PROJECT)["ProjectMetadata"]["ProjectArn"]

    # a dataset from a Ground Truth manifest: 20 normal and 6 anomalous images
    lines = upload_images(s3, BUCKET, PROJECT, 20, 6)
    s3.put_object(Bucket=BUCKET, Key=f"{PROJECT}/manifests/train.manifest", Body="\n".join(lines).encode())
    created = lv.create_dataset(
        ProjectName=PROJECT,
        DatasetType="train",
        DatasetSource={
            "GroundTruthManifest": {
                "S3Object": {"Bucket": BUCKET, "Key": f"{PROJECT}/manifests/train.manifest"}
            }
        },
    )
    trail.note("dataset", created["DatasetMetadata"]["Status"], created["DatasetMetadata"]["StatusMessage"])
    assert created["DatasetMetadata"]["DatasetType"] == "train"
    assert poll_dataset(lv, trail, "CREATE_IN_PROGRESS") == "CREATE_COMPLETE"

    # four more anomalous images through UpdateDatasetEntries
    changes = []
    for seed in range(300, 304):
        key = f"{PROJECT}/more/anomaly-{seed}.png"
        s3.put_object(Bucket=BUCKET, Key=key, Body=png_image(WIDTH, HEIGHT, seed=seed, defect=True))
        changes.append(json.dumps(classification_line(f"s3://{BUCKET}/{key}", "anomaly")))
    updated = lv.update_dataset_entries(
        ProjectName=PROJECT, DatasetType="train", Changes="\n".join(changes).encode()
    )
    assert updated["Status"] == "UPDATE_IN_PROGRESS"
    assert poll_dataset(lv, trail, "UPDATE_IN_PROGRESS") == "UPDATE_COMPLETE"
    stats = lv.describe_dataset(ProjectName=PROJECT, DatasetType="train")["DatasetDescription"]["ImageStats"]
    assert (stats["Total"], stats["Labeled"], stats["Normal"], stats["Anomaly"]) == (30, 30, 20, 10)

    for project in lv.list_projects()["Projects"]:
        assert project["ProjectArn"] == project_arn
        for dataset in lv.describe_project(ProjectName=project["ProjectName"])["ProjectDescription"][
            "Datasets"
        ]:
            trail.note("dataset", dataset["Status"], dataset["StatusMessage"])
            assert dataset["DatasetType"] == "train"

    # train
    model = lv.create_model(
        ProjectName=PROJECT,
        OutputConfig={"S3Location": {"Bucket": "walkthrough-out", "Prefix": "walkthrough/output/"}},
        Tags=[],
    )
    version = model["ModelMetadata"]["ModelVersion"]
    assert model["ModelMetadata"]["ModelArn"].endswith(f":model/{PROJECT}/{version}")
    trail.note("model", model["ModelMetadata"]["Status"], model["ModelMetadata"]["StatusMessage"])
    trained = poll_model(lv, trail, version, "TRAINING")
    assert trained["Status"] == "TRAINED", trained["StatusMessage"]
    for listed in lv.list_models(ProjectName=PROJECT)["Models"]:
        trail.note("model", listed["Status"], listed["StatusMessage"])
        show_model(lv, trail, listed["ModelVersion"])

    # host, detect, stop
    lv.start_model(ProjectName=PROJECT, ModelVersion=version, MinInferenceUnits=1)
    hosted = poll_model(lv, trail, version, "STARTING_HOSTING")
    assert hosted["Status"] == "HOSTED", hosted["StatusMessage"]
    show_model(lv, trail, version)
    detected = lv.detect_anomalies(
        ProjectName=PROJECT,
        ModelVersion=version,
        Body=png_image(WIDTH, HEIGHT, seed=31337, defect=True),
        ContentType="image/png",
    )
    assert isinstance(detected["DetectAnomalyResult"]["IsAnomalous"], bool)
    assert 0.0 <= detected["DetectAnomalyResult"]["Confidence"] <= 1.0
    stopping = lv.stop_model(ProjectName=PROJECT, ModelVersion=version)
    assert stopping["Status"] == "STOPPING_HOSTING"
    stopped = poll_model(lv, trail, version, "STOPPING_HOSTING")
    assert stopped["Status"] == "TRAINED", stopped["StatusMessage"]

    # delete the model (wait until ListModels no longer shows it), the dataset, the project
    lv.delete_model(ProjectName=PROJECT, ModelVersion=version)
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while any(m["ModelVersion"] == version for m in lv.list_models(ProjectName=PROJECT)["Models"]):
        assert time.monotonic() < deadline
        time.sleep(POLL_SECONDS)
    lv.delete_dataset(ProjectName=PROJECT, DatasetType="train")
    assert lv.delete_project(ProjectName=PROJECT)["ProjectArn"] == project_arn

    # the walk went through these states, each with a message
    assert {"CREATE_IN_PROGRESS", "CREATE_COMPLETE", "UPDATE_COMPLETE"} <= set(trail.seen["dataset"])
    assert {"TRAINING", "TRAINED", "HOSTED"} <= set(trail.seen["model"])
