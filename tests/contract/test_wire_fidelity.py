"""Every operation's output carries the members Lookout for Vision always filled in (docs/wire-fidelity.md).

One test per operation, through real boto3 with the project's API model against a live server. One
classification model is trained per module (20 normal + 10 anomalous synthetic images in moto S3)
and packaged once; tests that delete or fail things use projects of their own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from tests.contract.conftest import LiveServer, _start_server, s3_client
from tests.contract.test_models_support import (
    FAST_TRAINING,
    HEIGHT,
    WIDTH,
    classification_line,
    upload_images,
    wait_dataset,
    wait_model,
)
from tests.contract.test_packaging_bundle import wait_job
from tests.helpers.synthetic import png_image

from openlookout.client import lookoutvision_client

PROJECT = "fidelity"
BUCKET = "fidelity-data"
OUTPUT_BUCKET = "fidelity-out"
MANIFEST_KEY = "manifests/fidelity.manifest"
JOB = "fidelity-job"

DATASET_METADATA = {"DatasetType", "CreationTimestamp", "Status", "StatusMessage"}
DATASET_DESCRIPTION = DATASET_METADATA | {"ProjectName", "LastUpdatedTimestamp", "ImageStats"}
MODEL_METADATA = {"CreationTimestamp", "ModelVersion", "ModelArn", "Status", "StatusMessage"}
TRAINED_MODEL = MODEL_METADATA | {
    "Performance",
    "OutputConfig",
    "EvaluationManifest",
    "EvaluationResult",
    "EvaluationEndTimestamp",
}
PACKAGING_METADATA = {
    "JobName",
    "ProjectName",
    "ModelVersion",
    "ModelPackagingMethod",
    "Status",
    "StatusMessage",
    "CreationTimestamp",
    "LastUpdatedTimestamp",
}


@dataclass
class World:
    server: LiveServer
    lv: Any
    s3: Any
    model_arn: str


def assert_members(shape: dict[str, Any], required: Iterable[str], where: str) -> None:
    missing = sorted(set(required) - set(shape))
    assert not missing, f"{where} lacks {missing}: {shape}"


def assert_sentence(shape: dict[str, Any], where: str) -> None:
    message = shape["StatusMessage"]
    assert isinstance(message, str) and message.strip(), f"{where}: empty StatusMessage in {shape}"


def body_members(response: dict[str, Any]) -> set[str]:
    return set(response) - {"ResponseMetadata"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str) -> Iterator[World]:
    live = _start_server(tmp_path_factory.mktemp("fidelity"), s3_endpoint, {"extra": dict(FAST_TRAINING)})
    lv = lookoutvision_client(live.url, retries={"total_max_attempts": 1})
    s3 = s3_client(s3_endpoint)
    s3.create_bucket(Bucket=OUTPUT_BUCKET)
    lines = upload_images(s3, BUCKET, PROJECT, 20, 10)
    s3.put_object(Bucket=BUCKET, Key=MANIFEST_KEY, Body="\n".join(lines).encode())
    lv.create_project(ProjectName=PROJECT)
    create_from_manifest(lv, PROJECT)
    wait_dataset(lv, PROJECT, "train")
    arn = lv.create_model(
        ProjectName=PROJECT,
        Description="fidelity-model",
        OutputConfig={"S3Location": {"Bucket": OUTPUT_BUCKET, "Prefix": "eval/"}},
    )["ModelMetadata"]["ModelArn"]
    trained = wait_model(lv, PROJECT, "1", {"TRAINED", "TRAINING_FAILED"})
    assert trained["Status"] == "TRAINED", trained["StatusMessage"]
    lv.start_model_packaging_job(
        ProjectName=PROJECT,
        ModelVersion="1",
        JobName=JOB,
        Configuration={
            "Greengrass": {
                "ComponentName": "com.example.fidelity",
                "S3OutputLocation": {"Bucket": OUTPUT_BUCKET, "Prefix": "edge"},
                "TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"},
            }
        },
    )
    assert wait_job(lv, PROJECT, JOB)["Status"] == "SUCCEEDED"
    yield World(live, lv, s3, arn)
    live.stop()


def create_from_manifest(lv: Any, project: str) -> dict[str, Any]:
    response: dict[str, Any] = lv.create_dataset(
        ProjectName=project,
        DatasetType="train",
        DatasetSource={"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Key": MANIFEST_KEY}}},
    )
    return response


def project_with_dataset(world: World, project: str) -> None:
    world.lv.create_project(ProjectName=project)
    create_from_manifest(world.lv, project)
    wait_dataset(world.lv, project, "train")


def failed_model(world: World, project: str) -> dict[str, Any]:
    """A model of ``project`` whose training fails at once (its output bucket does not exist)."""
    project_with_dataset(world, project)
    created: dict[str, Any] = world.lv.create_model(
        ProjectName=project, OutputConfig={"S3Location": {"Bucket": "fidelity-missing-bucket"}}
    )
    return created


@pytest.fixture
def hosted(world: World) -> World:
    """The module's model, HOSTED on one inference unit (started here unless it already is)."""
    world.lv.start_model(ProjectName=PROJECT, ModelVersion="1", MinInferenceUnits=1)
    described = wait_model(world.lv, PROJECT, "1", {"HOSTED", "HOSTING_FAILED"})
    assert described["Status"] == "HOSTED", described["StatusMessage"]
    return world


# --- projects -------------------------------------------------------------------------------


def test_create_project(world: World) -> None:
    metadata = world.lv.create_project(ProjectName="fidelity-new")["ProjectMetadata"]
    assert_members(metadata, {"ProjectArn", "ProjectName", "CreationTimestamp"}, "ProjectMetadata")


def test_describe_project(world: World) -> None:
    world.lv.create_project(ProjectName="fidelity-two")
    world.lv.create_dataset(ProjectName="fidelity-two", DatasetType="test")
    create_from_manifest(world.lv, "fidelity-two")
    for name in (PROJECT, "fidelity-two"):
        description = world.lv.describe_project(ProjectName=name)["ProjectDescription"]
        assert_members(description, {"ProjectArn", "ProjectName", "CreationTimestamp", "Datasets"}, name)
        assert description["Datasets"], name
        for dataset in description["Datasets"]:
            assert_members(dataset, DATASET_METADATA, f"{name} dataset")
            assert_sentence(dataset, f"{name} {dataset['Status']}")
    wait_dataset(world.lv, "fidelity-two", "train")


def test_list_projects(world: World) -> None:
    world.lv.create_project(ProjectName="fidelity-listed")
    page = world.lv.list_projects(MaxResults=1)
    assert_members(page, {"Projects", "NextToken"}, "ListProjects page")
    for project in page["Projects"] + world.lv.list_projects()["Projects"]:
        assert_members(project, {"ProjectArn", "ProjectName", "CreationTimestamp"}, "ProjectMetadata")


def test_delete_project(world: World) -> None:
    arn = world.lv.create_project(ProjectName="fidelity-gone")["ProjectMetadata"]["ProjectArn"]
    assert world.lv.delete_project(ProjectName="fidelity-gone")["ProjectArn"] == arn


# --- datasets -------------------------------------------------------------------------------


def test_create_dataset(world: World) -> None:
    world.lv.create_project(ProjectName="fidelity-data")
    empty = world.lv.create_dataset(ProjectName="fidelity-data", DatasetType="test")["DatasetMetadata"]
    importing = create_from_manifest(world.lv, "fidelity-data")["DatasetMetadata"]
    for metadata in (empty, importing):
        assert_members(metadata, DATASET_METADATA, f"CreateDataset {metadata['Status']}")
        assert_sentence(metadata, f"CreateDataset {metadata['Status']}")
    assert (empty["Status"], importing["Status"]) == ("CREATE_COMPLETE", "CREATE_IN_PROGRESS")
    wait_dataset(world.lv, "fidelity-data", "train")


def test_describe_dataset(world: World) -> None:
    description = world.lv.describe_dataset(ProjectName=PROJECT, DatasetType="train")["DatasetDescription"]
    assert_members(description, DATASET_DESCRIPTION, "DatasetDescription")
    assert_sentence(description, description["Status"])
    assert_members(description["ImageStats"], {"Total", "Labeled", "Normal", "Anomaly"}, "ImageStats")
    assert description["ImageStats"]["Total"] >= 30


def test_describe_failed_dataset_gives_the_reason(world: World) -> None:
    world.lv.create_project(ProjectName="fidelity-bad")
    world.s3.put_object(Bucket=BUCKET, Key="manifests/bad.manifest", Body=b"this is not json\n")
    world.lv.create_dataset(
        ProjectName="fidelity-bad",
        DatasetType="train",
        DatasetSource={
            "GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Key": "manifests/bad.manifest"}}
        },
    )
    deadline = time.monotonic() + 30
    while True:
        description = world.lv.describe_dataset(ProjectName="fidelity-bad", DatasetType="train")[
            "DatasetDescription"
        ]
        assert_members(description, DATASET_DESCRIPTION, description["Status"])
        if description["Status"] != "CREATE_IN_PROGRESS":
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert description["Status"] == "CREATE_FAILED"
    assert "line 1" in description["StatusMessage"]


def test_delete_dataset(world: World) -> None:
    world.lv.create_project(ProjectName="fidelity-drop")
    world.lv.create_dataset(ProjectName="fidelity-drop", DatasetType="train")
    response = world.lv.delete_dataset(ProjectName="fidelity-drop", DatasetType="train")
    assert body_members(response) == set()
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202


def test_list_dataset_entries(world: World) -> None:
    page = world.lv.list_dataset_entries(ProjectName=PROJECT, DatasetType="train", MaxResults=2)
    assert_members(page, {"DatasetEntries", "NextToken"}, "ListDatasetEntries page")
    assert all(json.loads(line)["source-ref"] for line in page["DatasetEntries"])
    none = world.lv.list_dataset_entries(ProjectName=PROJECT, DatasetType="train", Labeled=False)
    assert none["DatasetEntries"] == []


def test_update_dataset_entries(world: World) -> None:
    project_with_dataset(world, "fidelity-update")
    key = "fidelity-update/extra.png"
    world.s3.put_object(Bucket=BUCKET, Key=key, Body=png_image(WIDTH, HEIGHT, seed=777))
    line = json.dumps(classification_line(f"s3://{BUCKET}/{key}", "normal"))
    response = world.lv.update_dataset_entries(
        ProjectName="fidelity-update", DatasetType="train", Changes=line.encode()
    )
    assert response["Status"] == "UPDATE_IN_PROGRESS"
    deadline = time.monotonic() + 30
    while True:
        description = world.lv.describe_dataset(ProjectName="fidelity-update", DatasetType="train")[
            "DatasetDescription"
        ]
        assert_members(description, DATASET_DESCRIPTION, description["Status"])
        assert_sentence(description, description["Status"])
        if description["Status"] != "UPDATE_IN_PROGRESS":
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert description["Status"] == "UPDATE_COMPLETE"
    assert description["ImageStats"]["Total"] == 31


# --- models ---------------------------------------------------------------------------------


def test_create_model(world: World) -> None:
    metadata = failed_model(world, "fidelity-create")["ModelMetadata"]
    assert_members(metadata, MODEL_METADATA, "CreateModel")
    assert_sentence(metadata, "CreateModel")
    assert metadata["Status"] == "TRAINING"
    assert "Performance" not in metadata and "Description" not in metadata
    failed = wait_model(world.lv, "fidelity-create", "1", {"TRAINED", "TRAINING_FAILED"})
    assert failed["Status"] == "TRAINING_FAILED"
    assert "fidelity-missing-bucket" in failed["StatusMessage"]
    assert_members(failed, MODEL_METADATA | {"OutputConfig"}, "TRAINING_FAILED model")
    assert not {"Performance", "EvaluationManifest", "EvaluationEndTimestamp"} & set(failed)


def test_describe_model(world: World) -> None:
    described = world.lv.describe_model(ProjectName=PROJECT, ModelVersion="1")["ModelDescription"]
    assert_members(described, TRAINED_MODEL | {"Description"}, f"DescribeModel {described['Status']}")
    assert_sentence(described, described["Status"])
    assert_members(described["Performance"], {"F1Score", "Recall", "Precision"}, "Performance")
    assert described["OutputConfig"] == {"S3Location": {"Bucket": OUTPUT_BUCKET, "Prefix": "eval/"}}
    for member in ("EvaluationManifest", "EvaluationResult"):
        assert_members(described[member], {"Bucket", "Key"}, member)
    assert "KmsKeyId" not in described  # none was given


def test_list_models(world: World) -> None:
    models = world.lv.list_models(ProjectName=PROJECT)["Models"]
    assert [m["ModelVersion"] for m in models] == ["1"]
    assert_members(models[0], MODEL_METADATA | {"Performance", "Description"}, "ModelMetadata")
    assert_sentence(models[0], models[0]["Status"])


def test_delete_model(world: World) -> None:
    arn = failed_model(world, "fidelity-delete")["ModelMetadata"]["ModelArn"]
    wait_model(world.lv, "fidelity-delete", "1", {"TRAINED", "TRAINING_FAILED"})
    response = world.lv.delete_model(ProjectName="fidelity-delete", ModelVersion="1")
    assert body_members(response) == {"ModelArn"}
    assert response["ModelArn"] == arn


def test_start_model(hosted: World) -> None:
    response = hosted.lv.start_model(ProjectName=PROJECT, ModelVersion="1", MinInferenceUnits=1)
    assert body_members(response) == {"Status"}
    described = hosted.lv.describe_model(ProjectName=PROJECT, ModelVersion="1")["ModelDescription"]
    assert described["Status"] == "HOSTED"
    assert_members(described, TRAINED_MODEL | {"MinInferenceUnits", "MaxInferenceUnits"}, "HOSTED model")
    assert_sentence(described, "HOSTED")
    assert (described["MinInferenceUnits"], described["MaxInferenceUnits"]) == (1, 1)


def test_detect_anomalies(hosted: World) -> None:
    result = hosted.lv.detect_anomalies(
        ProjectName=PROJECT,
        ModelVersion="1",
        Body=png_image(WIDTH, HEIGHT, seed=4242),
        ContentType="image/png",
    )["DetectAnomalyResult"]
    assert_members(result, {"Source", "IsAnomalous", "Confidence"}, "DetectAnomalyResult")
    assert result["Source"] == {"Type": "direct"}
    assert "Anomalies" not in result and "AnomalyMask" not in result  # a classification model


def test_stop_model(hosted: World) -> None:
    response = hosted.lv.stop_model(ProjectName=PROJECT, ModelVersion="1")
    assert body_members(response) == {"Status"}
    assert response["Status"] == "STOPPING_HOSTING"
    stopped = wait_model(hosted.lv, PROJECT, "1", {"TRAINED"})
    assert_members(stopped, TRAINED_MODEL, "TRAINED after stop")
    assert_sentence(stopped, "TRAINED after stop")


# --- packaging ------------------------------------------------------------------------------


def test_start_model_packaging_job(world: World) -> None:
    response = world.lv.start_model_packaging_job(
        ProjectName=PROJECT,
        ModelVersion="1",
        Configuration={
            "Greengrass": {
                "ComponentName": "com.example.fidelity",
                "ComponentVersion": "9.0.0",
                "S3OutputLocation": {"Bucket": OUTPUT_BUCKET},
                "TargetDevice": "jetson_xavier",
            }
        },
    )
    assert body_members(response) == {"JobName"}
    assert wait_job(world.lv, PROJECT, response["JobName"])["Status"] == "SUCCEEDED"


def test_describe_model_packaging_job(world: World) -> None:
    description = world.lv.describe_model_packaging_job(ProjectName=PROJECT, JobName=JOB)[
        "ModelPackagingDescription"
    ]
    required = PACKAGING_METADATA | {"ModelPackagingConfiguration", "ModelPackagingOutputDetails"}
    assert_members(description, required, "ModelPackagingDescription")
    assert_sentence(description, description["Status"])
    greengrass = description["ModelPackagingConfiguration"]["Greengrass"]
    assert greengrass["ComponentVersion"] == "1.0.0"  # not given: the version the job chose
    details = description["ModelPackagingOutputDetails"]["Greengrass"]
    assert_members(details, {"ComponentVersionArn", "ComponentName", "ComponentVersion"}, "output")


def test_list_model_packaging_jobs(world: World) -> None:
    jobs = world.lv.list_model_packaging_jobs(ProjectName=PROJECT)["ModelPackagingJobs"]
    assert JOB in [j["JobName"] for j in jobs]
    for job in jobs:
        assert_members(job, PACKAGING_METADATA, "ModelPackagingJobMetadata")
        assert_sentence(job, job["Status"])


# --- tags -----------------------------------------------------------------------------------


def test_tag_resource(world: World) -> None:
    response = world.lv.tag_resource(ResourceArn=world.model_arn, Tags=[{"Key": "line", "Value": "7"}])
    assert body_members(response) == set()


def test_untag_resource(world: World) -> None:
    world.lv.tag_resource(ResourceArn=world.model_arn, Tags=[{"Key": "temporary", "Value": "x"}])
    response = world.lv.untag_resource(ResourceArn=world.model_arn, TagKeys=["temporary"])
    assert body_members(response) == set()


def test_list_tags_for_resource(world: World) -> None:
    response = world.lv.list_tags_for_resource(ResourceArn=world.model_arn)
    assert body_members(response) == {"Tags"}
    for tag in response["Tags"]:
        assert_members(tag, {"Key", "Value"}, "Tag")
