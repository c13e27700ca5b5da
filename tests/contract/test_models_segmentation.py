"""A segmentation model through real boto3: masks with a colour map in, Anomalies and AnomalyMask
out; the hosted model comes back after a server restart. On both engines (``engine_settings``)."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
from PIL import Image
from tests.contract.test_models_support import (
    DEFECT_COLOR,
    FAST_TRAINING,
    HEIGHT,
    WIDTH,
    create_dataset,
    upload_images,
    wait_model,
)
from tests.helpers.synthetic import png_image

from openlookout.client import lookoutvision_client

BUCKET = "models-segmentation"


def check_segmentation_result(result: dict[str, Any]) -> None:
    anomalies = result["Anomalies"]
    assert anomalies[0]["Name"] == "background"
    assert anomalies[0]["PixelAnomaly"]["Color"] == "#FFFFFF"
    assert sum(a["PixelAnomaly"]["TotalPercentageArea"] for a in anomalies) == pyapprox(1.0)
    assert all(a["PixelAnomaly"]["TotalPercentageArea"] > 0 for a in anomalies)
    assert {a["Name"] for a in anomalies[1:]} <= {"defect"}
    mask = np.asarray(Image.open(io.BytesIO(result["AnomalyMask"])).convert("RGB"))
    assert mask.shape == (HEIGHT, WIDTH, 3)
    white = np.all(mask == 255, axis=2).mean()
    assert white == pyapprox(anomalies[0]["PixelAnomaly"]["TotalPercentageArea"])
    if len(anomalies) > 1:
        red = np.all(mask == (255, 0, 0), axis=2).mean()
        assert red == pyapprox(anomalies[1]["PixelAnomaly"]["TotalPercentageArea"])


def pyapprox(value: float) -> Any:
    import pytest

    return pytest.approx(value, abs=1e-6)


def test_segmentation_model_and_hosting_across_a_restart(
    make_server: Any, s3: Any, engine_settings: dict[str, Any]
) -> None:
    first = make_server(**FAST_TRAINING, **engine_settings)
    lv = lookoutvision_client(first.url, retries={"total_max_attempts": 1})
    s3.create_bucket(Bucket="seg-output")
    lv.create_project(ProjectName="plates")
    create_dataset(lv, s3, "plates", "train", BUCKET, upload_images(s3, BUCKET, "plates", 20, 20, masks=True))
    lv.create_model(ProjectName="plates", OutputConfig={"S3Location": {"Bucket": "seg-output"}})
    trained = wait_model(lv, "plates", "1", {"TRAINED", "TRAINING_FAILED"})
    assert trained["Status"] == "TRAINED", trained.get("StatusMessage")
    result = json.loads(
        s3.get_object(Bucket="seg-output", Key="EvaluationResult-plates-1.json")["Body"].read()
    )
    classes = result["AggregatedEvaluationResults"]["Metrics"]["PixelAnomalyClassMetrics"]
    assert [c["ClassName"] for c in classes] == ["defect"]
    assert 0.0 <= classes[0]["AIOU"] <= 1.0
    manifest = (
        s3.get_object(Bucket="seg-output", Key="EvaluationManifest-plates-1.json")["Body"].read().decode()
    )
    first_line = json.loads(manifest.splitlines()[0])
    color_map = first_line["anomaly-mask-ref-detected-metadata"]["internal-color-map"]
    assert color_map["1"] == {"class-name": "defect", "hex-color": DEFECT_COLOR, "confidence": 0.0}
    mask_uri = first_line["anomaly-mask-ref-detected"]
    assert mask_uri.startswith("s3://seg-output/EvaluationMasks-plates-1/")
    mask_png = s3.get_object(Bucket="seg-output", Key=mask_uri.split("/", 3)[3])["Body"].read()
    assert Image.open(io.BytesIO(mask_png)).size == (WIDTH, HEIGHT)

    lv.start_model(ProjectName="plates", ModelVersion="1", MinInferenceUnits=1, MaxInferenceUnits=2)
    hosted = wait_model(lv, "plates", "1", {"HOSTED", "HOSTING_FAILED"})
    assert hosted["Status"] == "HOSTED", hosted.get("StatusMessage")
    assert (hosted["MinInferenceUnits"], hosted["MaxInferenceUnits"]) == (1, 2)

    anomalous = png_image(WIDTH, HEIGHT, seed=700, defect=True)
    normal = png_image(WIDTH, HEIGHT, seed=701)
    found = lv.detect_anomalies(
        ProjectName="plates", ModelVersion="1", Body=anomalous, ContentType="image/png"
    )["DetectAnomalyResult"]
    assert found["IsAnomalous"] is True
    check_segmentation_result(found)
    assert [a["Name"] for a in found["Anomalies"]] == ["background", "defect"]
    assert found["Anomalies"][1]["PixelAnomaly"]["Color"] == DEFECT_COLOR
    clean = lv.detect_anomalies(ProjectName="plates", ModelVersion="1", Body=normal, ContentType="image/png")[
        "DetectAnomalyResult"
    ]
    check_segmentation_result(clean)
    # the classification head decides IsAnomalous on its own (spec e.4); the mask of a clean part
    # must show less defect than the mask of a damaged one
    assert (
        clean["Anomalies"][0]["PixelAnomaly"]["TotalPercentageArea"]
        > found["Anomalies"][0]["PixelAnomaly"]["TotalPercentageArea"]
    )

    # restart: the model is still HOSTED and answers the same
    first.stop()
    second = make_server(data_dir=first.data_dir, **FAST_TRAINING, **engine_settings)
    again = lookoutvision_client(second.url, retries={"total_max_attempts": 1})
    assert (
        again.describe_model(ProjectName="plates", ModelVersion="1")["ModelDescription"]["Status"] == "HOSTED"
    )
    repeated = again.detect_anomalies(
        ProjectName="plates", ModelVersion="1", Body=anomalous, ContentType="image/png"
    )["DetectAnomalyResult"]
    assert repeated == found
    again.stop_model(ProjectName="plates", ModelVersion="1")
    assert wait_model(again, "plates", "1", {"TRAINED"})["Status"] == "TRAINED"
