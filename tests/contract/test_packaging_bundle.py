"""Model packaging jobs through real boto3, and the edge bundle run in a bare virtual environment
(only onnxruntime, numpy and Pillow importable) giving the server's own answers."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.contract.test_models_support import (
    FAST_TRAINING,
    HEIGHT,
    WIDTH,
    classification_project,
    wait_model,
)
from tests.helpers.synthetic import jpeg_image, png_image

from openlookout.client import lookoutvision_client
from openlookout.packaging.bundle import unpack

BUCKET = "packaging-data"
OUT = "packaging-out"
EDGE_PACKAGES = ("numpy", "numpy.libs", "onnxruntime", "PIL", "pillow.libs")


def greengrass(name: str, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "ComponentName": name,
        "S3OutputLocation": {"Bucket": OUT, "Prefix": "edge"},
        "TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"},
        "CompilerOptions": '{"mcpu": "core-avx2"}',
    }
    config.update(extra)
    return {"Greengrass": config}


def bare_venv(folder: Path) -> Path:
    """A virtual environment without pip whose only third-party packages are the edge runner's."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    ours = Path(sysconfig.get_paths()["purelib"])
    target = next((folder / "lib").glob("python3*/site-packages"))
    for name in EDGE_PACKAGES:
        if (ours / name).exists():
            (target / name).symlink_to(ours / name)
    return folder / "bin" / "python"


def wait_job(lv: Any, project: str, name: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, Any] = lv.describe_model_packaging_job(ProjectName=project, JobName=name)[
            "ModelPackagingDescription"
        ]
        if found["Status"] in ("SUCCEEDED", "FAILED"):
            return found
        assert time.monotonic() < deadline, f"packaging job stuck in {found['Status']}"
        time.sleep(0.1)


def test_packaging_job_and_bundle_parity(make_server: Any, s3: Any, tmp_path: Path) -> None:
    server = make_server(**FAST_TRAINING)
    lv = lookoutvision_client(server.url, retries={"total_max_attempts": 1})
    s3.create_bucket(Bucket=OUT)
    classification_project(lv, s3, "edge", BUCKET)
    lv.create_model(ProjectName="edge", OutputConfig={"S3Location": {"Bucket": OUT, "Prefix": "eval/"}})

    # a model still training cannot be packaged
    with pytest.raises(ClientError) as excinfo:
        lv.start_model_packaging_job(ProjectName="edge", ModelVersion="1", Configuration=greengrass("early"))
    assert excinfo.value.response["Error"]["Code"] == "ConflictException"
    assert wait_model(lv, "edge", "1", {"TRAINED", "TRAINING_FAILED"})["Status"] == "TRAINED"

    bad_configs = [
        greengrass("both", TargetDevice="jetson_xavier"),
        {"Greengrass": {"ComponentName": "neither", "S3OutputLocation": {"Bucket": OUT}}},
        greengrass("gpu", TargetPlatform={"Os": "LINUX", "Arch": "X86_64", "Accelerator": "NVIDIA"}),
        greengrass("notjson", CompilerOptions="mcpu=core-avx2"),
    ]
    for config in bad_configs:
        with pytest.raises(ClientError) as excinfo:
            lv.start_model_packaging_job(ProjectName="edge", ModelVersion="1", Configuration=config)
        assert excinfo.value.response["Error"]["Code"] == "ValidationException", config

    job = lv.start_model_packaging_job(
        ProjectName="edge",
        ModelVersion="latest",
        JobName="edge-job-1",
        Description="first package",
        Configuration=greengrass("com.example.edge", Tags=[{"Key": "team", "Value": "qa"}]),
    )
    assert job["JobName"] == "edge-job-1"
    done = wait_job(lv, "edge", "edge-job-1")
    assert done["Status"] == "SUCCEEDED", done.get("StatusMessage")
    assert done["ModelVersion"] == "1"
    assert done["ModelPackagingMethod"] == "Greengrass"
    assert done["ModelPackagingJobDescription"] == "first package"
    assert done["ModelPackagingConfiguration"]["Greengrass"]["Tags"] == [{"Key": "team", "Value": "qa"}]
    details = done["ModelPackagingOutputDetails"]["Greengrass"]
    assert details["ComponentName"] == "com.example.edge"
    assert details["ComponentVersion"] == "1.0.0"
    assert details["ComponentVersionArn"].endswith(":components:com.example.edge:versions:1.0.0")
    listed = lv.list_model_packaging_jobs(ProjectName="edge")["ModelPackagingJobs"]
    assert [j["JobName"] for j in listed] == ["edge-job-1"]
    # the same component version again, or the same job name, is a conflict
    for name, component in (("edge-job-2", "com.example.edge"), ("edge-job-1", "other")):
        with pytest.raises(ClientError) as excinfo:
            lv.start_model_packaging_job(
                ProjectName="edge", ModelVersion="1", JobName=name, Configuration=greengrass(component)
            )
        assert excinfo.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as excinfo:
        lv.describe_model_packaging_job(ProjectName="edge", JobName="missing")
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"

    recipe = json.loads(
        s3.get_object(Bucket=OUT, Key="edge/com.example.edge/1.0.0/recipe.json")["Body"].read()
    )
    assert recipe["ComponentName"] == "com.example.edge"
    assert (
        recipe["Manifests"][0]["Artifacts"][0]["URI"]
        == "s3://packaging-out/edge/com.example.edge/1.0.0/bundle.zip"
    )
    bundle = s3.get_object(Bucket=OUT, Key="edge/com.example.edge/1.0.0/bundle.zip")["Body"].read()
    folder = unpack(bundle, tmp_path / "bundle")
    python = bare_venv(tmp_path / "venv")

    images = {
        "normal.png": png_image(WIDTH, HEIGHT, seed=800),
        "anomalous.png": png_image(WIDTH, HEIGHT, seed=801, defect=True),
        "photo.jpg": jpeg_image(WIDTH, HEIGHT, seed=802, defect=True),
    }
    for name, data in images.items():
        (tmp_path / name).write_bytes(data)
    run = subprocess.run(
        [str(python), "-I", str(folder / "run_detect.py"), *[str(tmp_path / n) for n in images]],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr + run.stdout
    edge = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(edge) == len(images)

    # StartModel is idempotent per ClientToken: the repeat answers the original result
    first = lv.start_model(
        ProjectName="edge", ModelVersion="1", MinInferenceUnits=1, ClientToken="start-edge-1"
    )
    assert wait_model(lv, "edge", "1", {"HOSTED", "HOSTING_FAILED"})["Status"] == "HOSTED"
    again = lv.start_model(
        ProjectName="edge", ModelVersion="1", MinInferenceUnits=1, ClientToken="start-edge-1"
    )
    assert first["Status"] == again["Status"] == "STARTING_HOSTING"
    for answer, (name, data) in zip(edge, images.items(), strict=True):
        content_type = "image/jpeg" if name.endswith(".jpg") else "image/png"
        served = lv.detect_anomalies(
            ProjectName="edge", ModelVersion="1", Body=data, ContentType=content_type
        )
        result = served["DetectAnomalyResult"]
        local = answer["DetectAnomalyResult"]
        assert local["IsAnomalous"] == result["IsAnomalous"], name
        assert local["Confidence"] == pytest.approx(result["Confidence"], abs=1e-6), name
        if "AnomalyMask" in result:
            assert base64.b64decode(local["AnomalyMask"]) == result["AnomalyMask"]
    lv.stop_model(ProjectName="edge", ModelVersion="1")
    wait_model(lv, "edge", "1", {"TRAINED"})
