"""The model pages against a live server: training through the form, metrics, the precision-recall
plot, per-image results with heatmaps, hosting, packaging and deletion.

One server and one trained model serve the whole module (training is the slow part); the tests
run in file order and the last one deletes the model.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from tests.contract.conftest import LiveServer, _start_server, s3_client
from tests.contract.test_models_support import (
    FAST_TRAINING,
    HEIGHT,
    WIDTH,
    classification_project,
    create_dataset,
    upload_images,
    wait_model,
)
from tests.helpers.synthetic import defect_regions

from openlookout.client import lookoutvision_client

DATA = "console-models-data"
OUT = "console-models-out"
PROJECT = "parts"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str) -> Iterator[dict[str, Any]]:
    server = _start_server(
        tmp_path_factory.mktemp("console-models"), s3_endpoint, {"extra": dict(FAST_TRAINING)}
    )
    lv = lookoutvision_client(server.url, retries={"total_max_attempts": 1})
    s3 = s3_client(s3_endpoint)
    s3.create_bucket(Bucket=OUT)
    classification_project(lv, s3, PROJECT, DATA)
    yield {"server": server, "lv": lv, "s3": s3}
    server.stop()


def _web(server: LiveServer) -> httpx.Client:
    headers = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    return httpx.Client(base_url=server.url, timeout=60.0, follow_redirects=True, headers=headers)


@pytest.fixture(scope="module")
def trained(live: dict[str, Any]) -> dict[str, Any]:
    """Model version 1 of PROJECT, trained through the console's form."""
    with _web(live["server"]) as web:
        form = web.get(f"/projects/{PROJECT}/models")
        assert "Ready to train a classification model" in form.text
        assert re.search(r"<button>Train model</button>", form.text), form.text
        started = web.post(
            f"/projects/{PROJECT}/models",
            data={"description": "from-console", "bucket": OUT, "prefix": "runs/"},
        )
    assert started.status_code == 200 and str(started.url).endswith(f"/projects/{PROJECT}/models/1")
    assert 'data-poll="/console/api/projects/parts/models/1"' in started.text
    described = wait_model(live["lv"], PROJECT, "1", {"TRAINED", "TRAINING_FAILED"})
    assert described["Status"] == "TRAINED", described.get("StatusMessage")
    return {**live, "model": described}


def _s3_json(s3: Any, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=OUT, Key=key)["Body"].read())


def test_training_form_refused_with_reasons_when_not_ready(live: dict[str, Any]) -> None:
    lv = live["lv"]
    lv.create_project(ProjectName="bare")
    lv.create_dataset(ProjectName="bare", DatasetType="train")
    with _web(live["server"]) as web:
        listing = web.get("/projects/bare/models")
        assert listing.status_code == 200 and "No models yet" in listing.text
        assert "Not ready to train yet" in listing.text
        assert re.search(r"<button disabled>Train model</button>", listing.text)
        missing = re.findall(r"<li>(.*?)</li>", listing.text.split('class="missing"')[1])
        assert missing and any("normal" in m for m in missing)
        refused = web.post("/projects/bare/models", data={"bucket": OUT})
        assert refused.status_code == 400 and 'class="error"' in refused.text
        assert "cannot train a model yet" in refused.text
        # the typed values stay in the form
        assert f'name="bucket" value="{OUT}"' in refused.text
        gone = web.get("/projects/nowhere/models")
        assert gone.status_code == 404 and 'class="error"' in gone.text
    assert lv.list_models(ProjectName="bare")["Models"] == []


def test_bad_output_bucket_shows_the_service_message(live: dict[str, Any]) -> None:
    with _web(live["server"]) as web:
        refused = web.post(f"/projects/{PROJECT}/models", data={"bucket": ""})
    assert refused.status_code == 400 and 'class="error"' in refused.text
    banner = re.search(r'<p class="error" role="alert">(.*?)</p>', refused.text)
    assert banner is not None and "Bucket" in banner.group(1)


def test_models_list_shows_the_trained_model(trained: dict[str, Any]) -> None:
    performance = trained["model"]["Performance"]
    with _web(trained["server"]) as web:
        listing = web.get(f"/projects/{PROJECT}/models")
        status = web.get(f"/console/api/projects/{PROJECT}/models/1", headers={"Accept": "application/json"})
        unknown = web.get(f"/console/api/projects/{PROJECT}/models/9", headers={"Accept": "application/json"})
    row = re.search(r'<tr data-version="1">(.*?)</tr>', listing.text, re.S)
    assert row is not None
    assert "TRAINED" in row.group(1) and "from-console" in row.group(1)
    f1 = re.search(r'<td class="f1">([\d.]+)%</td>', row.group(1))
    assert f1 is not None and float(f1.group(1)) == pytest.approx(100 * performance["F1Score"], abs=0.05)
    # the next training's output location is pre-filled from this model's
    assert f'name="bucket" value="{OUT}"' in listing.text and 'name="prefix" value="runs/"' in listing.text
    assert status.status_code == 200
    assert status.json()["Status"] == "TRAINED" and status.json()["Performance"] == performance
    assert unknown.status_code == 404 and "does not exist" in unknown.json()["message"]


def test_metrics_page_matches_the_stored_evaluation(trained: dict[str, Any]) -> None:
    model, s3 = trained["model"], trained["s3"]
    performance = model["Performance"]
    result = _s3_json(s3, model["EvaluationResult"]["Key"])
    manifest = [
        json.loads(line)
        for line in s3.get_object(Bucket=OUT, Key=model["EvaluationManifest"]["Key"])["Body"]
        .read()
        .splitlines()
    ]
    with _web(trained["server"]) as web:
        page = web.get(f"/projects/{PROJECT}/models/1/metrics")
        wrong = web.get(f"/projects/{PROJECT}/models/1/metrics?show=incorrect")
    assert page.status_code == 200
    values = dict(re.findall(r'<td class="metric-(\w+)" data-value="([\d.]+)">', page.text))
    assert float(values["f1"]) == pytest.approx(performance["F1Score"], abs=1e-6)
    assert float(values["precision"]) == pytest.approx(performance["Precision"], abs=1e-6)
    assert float(values["recall"]) == pytest.approx(performance["Recall"], abs=1e-6)
    metrics = result["AggregatedEvaluationResults"]["Metrics"]
    assert float(values["rocauc"]) == pytest.approx(metrics["ROCAUC"], abs=1e-6)
    assert float(values["ap"]) == pytest.approx(metrics["AveragePrecision"], abs=1e-6)

    # the plot: axis labels, the operating point at Performance, one point per distinct score
    assert "<svg" in page.text and ">Recall</text>" in page.text and ">Precision</text>" in page.text
    operating = re.search(
        r'class="operating-point" data-precision="([\d.]+)" data-recall="([\d.]+)"', page.text
    )
    assert operating is not None
    assert float(operating.group(1)) == pytest.approx(performance["Precision"], abs=1e-5)
    assert float(operating.group(2)) == pytest.approx(performance["Recall"], abs=1e-5)
    scores = {
        line["anomaly-label-detected-metadata"]["confidence"]
        if line["anomaly-label-detected"] == 1
        else 1.0 - line["anomaly-label-detected-metadata"]["confidence"]
        for line in manifest
    }
    thresholds = [float(t) for t in re.findall(r'class="pr-point" data-threshold="([\d.]+)"', page.text)]
    assert len(thresholds) == len(scores)
    assert sorted(thresholds) == pytest.approx(sorted(scores), abs=1e-6)

    # per-image results: one row per test image, truth and prediction as in the manifest
    rows = re.findall(
        r'<tr class="result (correct|incorrect)" data-number="(\d+)">.*?<td class="truth">(\w+)</td>'
        r'<td class="predicted">(\w+)</td><td class="confidence">([\d.]+)</td>',
        page.text,
        re.S,
    )
    assert len(rows) == result["EvaluationDetails"]["NumberOfTestingImages"] == len(manifest)
    for index, ((verdict, number, truth, predicted, confidence), line) in enumerate(
        zip(rows, manifest, strict=True), start=1
    ):
        assert int(number) == index
        assert truth == line["anomaly-label-metadata"]["class-name"]
        assert predicted == line["anomaly-label-detected-metadata"]["class-name"]
        assert float(confidence) == pytest.approx(
            line["anomaly-label-detected-metadata"]["confidence"], abs=5e-4
        )
        assert verdict == ("correct" if truth == predicted else "incorrect")
    incorrect = sum(1 for r in rows if r[0] == "incorrect")
    assert len(re.findall(r'<tr class="result ', wrong.text)) == incorrect
    assert f"{len(rows)} test images, {incorrect} incorrect" in page.text


def test_result_view_heatmap_and_image(trained: dict[str, Any]) -> None:
    server = trained["server"]
    base = f"/console/api/projects/{PROJECT}/models/1/results/1"
    with _web(server) as web:
        page = web.get(f"/projects/{PROJECT}/models/1/results/1")
        image = web.get(base + "/image")
        started = time.monotonic()
        heatmap = web.get(base + "/heatmap.png")
        first_took = time.monotonic() - started
        again = web.get(base + "/heatmap.png")
        truth_mask = web.get(base + "/truth-mask.png")
        predicted_mask = web.get(base + "/predicted-mask.png")
        missing = web.get(f"/projects/{PROJECT}/models/1/results/999")
        nonsense = web.get(f"/console/api/projects/{PROJECT}/models/1/results/abc/heatmap.png")
    assert page.status_code == 200
    assert f'src="{base}/image"' in page.text and f'src="{base}/heatmap.png"' in page.text
    assert 'class="opacity"' in page.text and 'class="truth-label"' in page.text
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(image.content)) as picture:
        assert picture.size == (WIDTH, HEIGHT)
    assert heatmap.status_code == 200 and heatmap.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(heatmap.content)) as picture:
        assert picture.format == "PNG" and picture.size == (WIDTH, HEIGHT)
    assert again.content == heatmap.content and first_took < 60
    cached = [n for n in _named_blobs(server.data_dir) if "console-heatmaps/" in n]
    assert len(cached) == 1
    # a classification model has no predicted mask; these images carry no ground-truth mask
    assert truth_mask.status_code == 404 and predicted_mask.status_code == 404
    assert missing.status_code == 404 and "no test image number 999" in missing.text
    assert nonsense.status_code == 404


def _named_blobs(data_dir: Path) -> list[str]:
    return [str(p.relative_to(data_dir)) for p in data_dir.rglob("*.png")]


def test_hosting_forms(trained: dict[str, Any]) -> None:
    lv = trained["lv"]
    with _web(trained["server"]) as web:
        zero = web.post(f"/projects/{PROJECT}/models/1/start", data={"min_units": "0"})
        assert zero.status_code == 400 and 'class="error"' in zero.text
        assert "MinInferenceUnits" in zero.text
        inverted = web.post(f"/projects/{PROJECT}/models/1/start", data={"min_units": "2", "max_units": "1"})
        assert inverted.status_code == 400
        assert "must not be smaller than MinInferenceUnits" in inverted.text
        words = web.post(f"/projects/{PROJECT}/models/1/start", data={"min_units": "two"})
        assert words.status_code == 400 and "whole number" in words.text
        assert (
            lv.describe_model(ProjectName=PROJECT, ModelVersion="1")["ModelDescription"]["Status"]
            == "TRAINED"
        )

        started = web.post(f"/projects/{PROJECT}/models/1/start", data={"min_units": "1"})
        assert started.status_code == 200 and "Stop hosting" in started.text
        wait_model(lv, PROJECT, "1", {"HOSTED"}, timeout=120)
        hosted = web.get(f"/projects/{PROJECT}/models/1")
        assert 'data-status="HOSTED"' in hosted.text and "Inference units</dt><dd>1</dd>" in hosted.text
        assert "Start hosting" not in hosted.text and "Stop hosting" in hosted.text
        refused = web.post(f"/projects/{PROJECT}/models/1/delete")
        assert refused.status_code == 409 and "HOSTED" in refused.text

        stopped = web.post(f"/projects/{PROJECT}/models/1/stop")
        assert stopped.status_code == 200
        wait_model(lv, PROJECT, "1", {"TRAINED"}, timeout=120)
        again = web.post(f"/projects/{PROJECT}/models/1/stop")
        assert again.status_code == 409 and "it cannot be stopped" in again.text


def test_packaging_job_started_and_listed(trained: dict[str, Any]) -> None:
    lv = trained["lv"]
    fields = {
        "component": "com.example.parts",
        "component_version": "",
        "job_name": "parts-edge-1",
        "description": "edge build",
        "bucket": OUT,
        "prefix": "edge",
        "target": "linux-x86_64",
        "compiler": '{"mcpu": "core-avx2"}',
    }
    with _web(trained["server"]) as web:
        bad = web.post(f"/projects/{PROJECT}/models/1/packages", data={**fields, "compiler": "mcpu=avx"})
        assert bad.status_code == 400 and "CompilerOptions must be a JSON object" in bad.text
        assert 'value="com.example.parts"' in bad.text
        started = web.post(f"/projects/{PROJECT}/models/1/packages", data=fields)
        assert started.status_code == 200 and 'data-job="parts-edge-1"' in started.text
        deadline = time.monotonic() + 120
        while True:
            job = lv.describe_model_packaging_job(ProjectName=PROJECT, JobName="parts-edge-1")
            status = job["ModelPackagingDescription"]["Status"]
            if status in ("SUCCEEDED", "FAILED") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status == "SUCCEEDED", job
        page = web.get(f"/projects/{PROJECT}/models/1")
        duplicate = web.post(f"/projects/{PROJECT}/models/1/packages", data=fields)
    row = re.search(r'<tr data-job="parts-edge-1">(.*?)</tr>', page.text, re.S)
    assert row is not None and '<td class="job-status">SUCCEEDED</td>' in row.group(1)
    assert f"s3://{OUT}/edge" in row.group(1) and ":components:com.example.parts:versions:1.0.0" in row.group(
        1
    )
    assert duplicate.status_code == 409 and "already has a packaging job" in duplicate.text
    listed = lv.list_model_packaging_jobs(ProjectName=PROJECT)["ModelPackagingJobs"]
    assert [j["JobName"] for j in listed] == ["parts-edge-1"]


@pytest.fixture(scope="module")
def segmented(live: dict[str, Any]) -> dict[str, Any]:
    """A segmentation model (project ``plates``: 20 normal and 20 masked anomalous images)."""
    lv, s3 = live["lv"], live["s3"]
    lv.create_project(ProjectName="plates")
    create_dataset(lv, s3, "plates", "train", DATA, upload_images(s3, DATA, "plates", 20, 20, masks=True))
    lv.create_model(ProjectName="plates", OutputConfig={"S3Location": {"Bucket": OUT, "Prefix": "seg/"}})
    described = wait_model(lv, "plates", "1", {"TRAINED", "TRAINING_FAILED"})
    assert described["Status"] == "TRAINED", described.get("StatusMessage")
    return {**live, "model": described}


def _opaque(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as picture:
        return np.asarray(picture.convert("RGBA"))[..., 3] > 0


def test_segmentation_metrics_and_masks(segmented: dict[str, Any]) -> None:
    model, s3 = segmented["model"], segmented["s3"]
    metrics = _s3_json(s3, model["EvaluationResult"]["Key"])["AggregatedEvaluationResults"]["Metrics"]
    manifest_body = s3.get_object(Bucket=OUT, Key=model["EvaluationManifest"]["Key"])["Body"].read()
    manifest = [json.loads(line) for line in manifest_body.splitlines()]
    with _web(segmented["server"]) as web:
        page = web.get("/projects/plates/models/1/metrics")
        row = re.search(r'<tr data-label="defect">(.*?)</tr>', page.text, re.S)
        assert row is not None, page.text
        (label,) = metrics["PixelAnomalyClassMetrics"]
        for key, css in (
            ("Precision", "precision"),
            ("Recall", "recall"),
            ("F1Score", "f1"),
            ("AIOU", "iou"),
        ):
            shown = re.search(rf'<td class="{css}">([\d.]+)%</td>', row.group(1))
            assert shown is not None and float(shown.group(1)) == pytest.approx(100 * label[key], abs=0.05)

        number = next(i for i, line in enumerate(manifest, start=1) if line["anomaly-label"] == 1)
        line = manifest[number - 1]
        base = f"/console/api/projects/plates/models/1/results/{number}"
        view = web.get(f"/projects/plates/models/1/results/{number}")
        predicted = web.get(base + "/predicted-mask.png")
        truth = web.get(base + "/truth-mask.png")
    assert view.status_code == 200 and 'value="predicted-mask.png" checked' in view.text
    assert f'src="{base}/truth-mask.png"' in view.text
    # the predicted mask is the one training wrote for this image and counted in the metrics (red on
    # white there), not a fresh prediction of the final model
    evaluation_key = line["anomaly-mask-ref-detected"].split("/", 3)[3]
    with Image.open(io.BytesIO(s3.get_object(Bucket=OUT, Key=evaluation_key)["Body"].read())) as written:
        painted = np.any(np.asarray(written.convert("RGB")) != 255, axis=2)
    assert predicted.status_code == 200 and predicted.headers["content-type"] == "image/png"
    ours = _opaque(predicted.content)
    assert ours.shape == (HEIGHT, WIDTH)
    assert np.array_equal(ours, painted)
    # the ground-truth mask shows exactly the defect regions drawn into that image
    seed = int(re.search(r"anomaly-(\d+)\.png$", line["source-ref"]).group(1))  # type: ignore[union-attr]
    expected = np.zeros((HEIGHT, WIDTH), dtype=bool)
    for _, (x0, y0, x1, y1) in defect_regions(WIDTH, HEIGHT, seed=seed):
        expected[y0:y1, x0:x1] = True
    assert truth.status_code == 200 and np.array_equal(_opaque(truth.content), expected)


def test_delete_model_after_confirmation(trained: dict[str, Any]) -> None:
    lv = trained["lv"]
    with _web(trained["server"]) as web:
        confirm = web.get(f"/projects/{PROJECT}/models/1/delete")
        assert confirm.status_code == 200 and "will be deleted" in confirm.text
        assert lv.list_models(ProjectName=PROJECT)["Models"]
        deleted = web.post(f"/projects/{PROJECT}/models/1/delete")
        assert deleted.status_code == 200 and str(deleted.url).endswith(f"/projects/{PROJECT}/models")
        assert "No models yet" in deleted.text
        gone = web.get(f"/projects/{PROJECT}/models/1")
        assert gone.status_code == 404 and "does not exist" in gone.text
    assert lv.list_models(ProjectName=PROJECT)["Models"] == []
