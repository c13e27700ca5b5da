"""A classification model's whole life through real boto3: minimums, training, evaluation files,
hosting, detection, error paths, tags, stop and delete."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.contract.test_models_support import (
    FAST_TRAINING,
    HEIGHT,
    WIDTH,
    classification_line,
    create_dataset,
    scrape,
    upload_images,
    wait_dataset,
    wait_model,
)
from tests.helpers.synthetic import jpeg_image, png_image

from openlookout.client import lookoutvision_client
from openlookout.store.tables import models as models_table

BUCKET = "models-lifecycle"
OUTPUT = {"S3Location": {"Bucket": "models-output", "Prefix": "runs/"}}


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


@pytest.fixture
def trained(make_server: Any, s3: Any, engine_settings: dict[str, Any]) -> tuple[Any, Any, Any]:
    server = make_server(**FAST_TRAINING, **engine_settings)
    lv = lookoutvision_client(server.url, retries={"total_max_attempts": 1})
    s3.create_bucket(Bucket="models-output")
    lv.create_project(ProjectName="widgets")
    return server, lv, s3


def test_model_lifecycle(trained: tuple[Any, Any, Any]) -> None:
    server, lv, s3 = trained

    # no datasets, then too few anomalies: ValidationException naming what is missing
    with pytest.raises(ClientError) as excinfo:
        lv.create_model(ProjectName="widgets", OutputConfig=OUTPUT)
    assert error_code(excinfo) == "ValidationException"
    assert "train dataset" in excinfo.value.response["Error"]["Message"]
    create_dataset(lv, s3, "widgets", "train", BUCKET, upload_images(s3, BUCKET, "widgets", 20, 6))
    with pytest.raises(ClientError) as excinfo:
        lv.create_model(ProjectName="widgets", OutputConfig=OUTPUT)
    assert error_code(excinfo) == "ValidationException"
    assert "4 more anomalous images" in excinfo.value.response["Error"]["Message"]

    more = []
    for seed in range(500, 504):
        key = f"widgets/extra-{seed}.png"
        s3.put_object(Bucket=BUCKET, Key=key, Body=png_image(WIDTH, HEIGHT, seed=seed, defect=True))
        more.append(json.dumps(classification_line(f"s3://{BUCKET}/{key}", "anomaly")))
    lv.update_dataset_entries(ProjectName="widgets", DatasetType="train", Changes="\n".join(more).encode())
    wait_dataset(lv, "widgets", "train")

    metadata = lv.create_model(
        ProjectName="widgets",
        OutputConfig=OUTPUT,
        Description="first-try",
        KmsKeyId="alias/my-key",
        Tags=[{"Key": "line", "Value": "3"}],
    )["ModelMetadata"]
    assert metadata["Status"] == "TRAINING"
    assert metadata["ModelVersion"] == "1"
    arn = metadata["ModelArn"]
    assert arn.endswith(":model/widgets/1")

    # a second training of the same project waits its turn; the dataset cannot go meanwhile
    with pytest.raises(ClientError) as excinfo:
        lv.create_model(ProjectName="widgets", OutputConfig=OUTPUT)
    assert error_code(excinfo) == "ConflictException"
    with pytest.raises(ClientError) as excinfo:
        lv.delete_dataset(ProjectName="widgets", DatasetType="train")
    assert error_code(excinfo) == "ConflictException"

    described = wait_model(lv, "widgets", "1", {"TRAINED", "TRAINING_FAILED"})
    assert described["Status"] == "TRAINED", described.get("StatusMessage")
    performance = described["Performance"]
    assert set(performance) == {"F1Score", "Recall", "Precision"}
    assert all(0.0 <= v <= 1.0 for v in performance.values())
    assert described["Description"] == "first-try"
    assert described["KmsKeyId"] == "alias/my-key"
    assert described["EvaluationManifest"] == {
        "Bucket": "models-output",
        "Key": "runs/EvaluationManifest-widgets-1.json",
    }
    assert described["EvaluationEndTimestamp"] >= described["CreationTimestamp"]
    result = json.loads(
        s3.get_object(Bucket="models-output", Key=described["EvaluationResult"]["Key"])["Body"].read()
    )
    details = result["EvaluationDetails"]
    assert details["ModelArn"] == arn
    assert details["NumberOfTrainingImages"] + details["NumberOfTestingImages"] == 30
    assert details["NumberOfTestingImages"] >= 4
    metrics = result["AggregatedEvaluationResults"]["Metrics"]
    assert metrics["F1Score"] == pytest.approx(performance["F1Score"], abs=1e-5)
    manifest = s3.get_object(Bucket="models-output", Key=described["EvaluationManifest"]["Key"])[
        "Body"
    ].read()
    lines = [json.loads(line) for line in manifest.decode().splitlines()]
    assert len(lines) == details["NumberOfTestingImages"]
    assert {line["anomaly-label-detected-metadata"]["model-arn"] for line in lines} == {arn}

    assert lv.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "line", "Value": "3"}]
    assert [m["ModelVersion"] for m in lv.list_models(ProjectName="widgets")["Models"]] == ["1"]
    assert (
        lv.describe_model(ProjectName="widgets", ModelVersion="latest")["ModelDescription"]["ModelArn"] == arn
    )

    normal = png_image(WIDTH, HEIGHT, seed=900)
    anomalous = png_image(WIDTH, HEIGHT, seed=901, defect=True)

    # not hosted yet
    with pytest.raises(ClientError) as excinfo:
        lv.detect_anomalies(ProjectName="widgets", ModelVersion="1", Body=normal, ContentType="image/png")
    assert error_code(excinfo) == "ConflictException"

    with pytest.raises(ClientError) as excinfo:
        lv.start_model(ProjectName="widgets", ModelVersion="1", MinInferenceUnits=2, MaxInferenceUnits=1)
    assert error_code(excinfo) == "ValidationException"
    assert (
        lv.start_model(ProjectName="widgets", ModelVersion="1", MinInferenceUnits=1)["Status"]
        == "STARTING_HOSTING"
    )
    hosted = wait_model(lv, "widgets", "1", {"HOSTED", "HOSTING_FAILED"})
    assert hosted["Status"] == "HOSTED", hosted.get("StatusMessage")
    assert hosted["MinInferenceUnits"] == 1
    # the same start again is a no-op; different units need a stop first
    assert lv.start_model(ProjectName="widgets", ModelVersion="1", MinInferenceUnits=1)["Status"] == "HOSTED"
    with pytest.raises(ClientError) as excinfo:
        lv.start_model(ProjectName="widgets", ModelVersion="1", MinInferenceUnits=2)
    assert error_code(excinfo) == "ConflictException"

    answer = lv.detect_anomalies(
        ProjectName="widgets", ModelVersion="1", Body=normal, ContentType="image/png"
    )
    normal_result = answer["DetectAnomalyResult"]
    assert normal_result["Source"] == {"Type": "direct"}
    assert normal_result["IsAnomalous"] is False
    assert 0.5 <= normal_result["Confidence"] <= 1.0
    assert "Anomalies" not in normal_result and "AnomalyMask" not in normal_result
    anomalous_result = lv.detect_anomalies(
        ProjectName="widgets", ModelVersion="latest", Body=anomalous, ContentType="image/png"
    )["DetectAnomalyResult"]
    assert anomalous_result["IsAnomalous"] is True
    assert 0.5 <= anomalous_result["Confidence"] <= 1.0
    jpeg = lv.detect_anomalies(
        ProjectName="widgets",
        ModelVersion="1",
        Body=jpeg_image(WIDTH, HEIGHT, seed=902),
        ContentType="image/jpeg",
    )["DetectAnomalyResult"]
    assert isinstance(jpeg["IsAnomalous"], bool)

    # error paths of DetectAnomalies
    for body, content_type, expected in (
        (png_image(WIDTH * 2, HEIGHT, seed=1), "image/png", "needs that exact size"),
        (normal, "image/gif", "content type"),
        (jpeg_image(WIDTH, HEIGHT, seed=3), "image/png", "must match"),
        (b"not an image at all", "image/png", "cannot be used"),
    ):
        with pytest.raises(ClientError) as excinfo:
            lv.detect_anomalies(ProjectName="widgets", ModelVersion="1", Body=body, ContentType=content_type)
        assert error_code(excinfo) == "ValidationException", content_type
        assert expected in excinfo.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as excinfo:
        lv.detect_anomalies(ProjectName="widgets", ModelVersion="7", Body=normal, ContentType="image/png")
    assert error_code(excinfo) == "ResourceNotFoundException"

    # the metrics count what this model answered, by error code (a content type refused before
    # the model is known, and version 7, are not counted), its units and the training
    found = scrape(server.url)
    model = (("account", "000000000000"), ("project", "widgets"), ("version", "1"))
    errors = {
        code: found.get(
            ("openlookout_detect_anomalies_errors_total", (*model[:1], ("error", code), *model[1:]))
        )
        for code in ("ConflictException", "ValidationException")
    }
    assert errors == {"ConflictException": 1, "ValidationException": 3}
    assert found[("openlookout_detect_anomalies_total", model)] == 7
    assert found[("openlookout_detect_anomalies_seconds_count", model)] == 7
    assert found[("openlookout_inference_units", model)] == 1
    assert found[("openlookout_detect_queue_depth", model)] == 0
    engine = server.runtime.engine.name
    assert found[("openlookout_training_seconds_count", (("engine", engine), ("outcome", "trained")))] == 1
    assert found[("openlookout_jobs", (("kind", "model.train"), ("state", "done")))] == 1
    assert found[("openlookout_imported_images_total", ())] == 30

    # a running model cannot be deleted, nor its project
    with pytest.raises(ClientError) as excinfo:
        lv.delete_model(ProjectName="widgets", ModelVersion="1")
    assert error_code(excinfo) == "ConflictException"
    with pytest.raises(ClientError) as excinfo:
        lv.delete_project(ProjectName="widgets")
    assert error_code(excinfo) == "ConflictException"

    assert lv.stop_model(ProjectName="widgets", ModelVersion="1")["Status"] == "STOPPING_HOSTING"
    assert wait_model(lv, "widgets", "1", {"TRAINED"})["Status"] == "TRAINED"
    with pytest.raises(ClientError) as excinfo:
        lv.stop_model(ProjectName="widgets", ModelVersion="1")
    assert error_code(excinfo) == "ConflictException"
    with pytest.raises(ClientError) as excinfo:
        lv.detect_anomalies(ProjectName="widgets", ModelVersion="1", Body=normal, ContentType="image/png")
    assert error_code(excinfo) == "ConflictException"

    # a model file that cannot be loaded: HOSTING_FAILED with the reason, then stop -> TRAINED
    with server.runtime.db.begin() as conn:
        row = conn.execute(models_table.select().where(models_table.c.arn == arn)).one()
    server.runtime.blobs.put_named(row.onnx_blob, b"this is not an ONNX model")
    # the local engine keeps a copy beside its units; Ray replicas read the blob store
    (server.data_dir / "hosting" / f"model-{row.id}.onnx").unlink(missing_ok=True)
    lv.start_model(ProjectName="widgets", ModelVersion="1", MinInferenceUnits=1)
    failed = wait_model(lv, "widgets", "1", {"HOSTED", "HOSTING_FAILED"})
    assert failed["Status"] == "HOSTING_FAILED"
    assert "could not load the model" in failed["StatusMessage"]
    assert lv.stop_model(ProjectName="widgets", ModelVersion="1")["Status"] == "STOPPING_HOSTING"
    assert wait_model(lv, "widgets", "1", {"TRAINED"})["Status"] == "TRAINED"

    assert lv.delete_model(ProjectName="widgets", ModelVersion="1")["ModelArn"] == arn
    with pytest.raises(ClientError) as excinfo:
        lv.describe_model(ProjectName="widgets", ModelVersion="1")
    assert error_code(excinfo) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        lv.list_tags_for_resource(ResourceArn=arn)
    assert error_code(excinfo) == "ResourceNotFoundException"
    assert lv.list_models(ProjectName="widgets")["Models"] == []
    # with its models gone, the project can go too
    lv.delete_dataset(ProjectName="widgets", DatasetType="train")
    lv.delete_project(ProjectName="widgets")
    assert server.runtime.jobs.wait_idle(30)


def test_training_fails_with_a_reason_when_the_output_bucket_is_missing(
    trained: tuple[Any, Any, Any],
) -> None:
    _, lv, s3 = trained
    create_dataset(lv, s3, "widgets", "train", BUCKET, upload_images(s3, BUCKET, "widgets", 20, 10))
    version = lv.create_model(
        ProjectName="widgets", OutputConfig={"S3Location": {"Bucket": "no-such-bucket"}}
    )["ModelMetadata"]["ModelVersion"]
    failed = wait_model(lv, "widgets", version, {"TRAINED", "TRAINING_FAILED"})
    assert failed["Status"] == "TRAINING_FAILED"
    assert "no-such-bucket" in failed["StatusMessage"]
    # versions are never reused: the next model is 2 even after deleting 1
    lv.delete_model(ProjectName="widgets", ModelVersion=version)
    again = lv.create_model(ProjectName="widgets", OutputConfig={"S3Location": {"Bucket": "no-such-bucket"}})
    assert again["ModelMetadata"]["ModelVersion"] == "2"
    assert wait_model(lv, "widgets", "2", {"TRAINED", "TRAINING_FAILED"})["Status"] == "TRAINING_FAILED"
