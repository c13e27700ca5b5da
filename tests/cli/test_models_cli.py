"""``openlookout models ...`` and ``openlookout detect`` against a live server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import CliResult
from tests.contract.test_models_support import FAST_TRAINING, HEIGHT, WIDTH, classification_project
from tests.helpers.synthetic import png_image
from typer.testing import CliRunner

from openlookout.cli.main import app

BUCKET = "cli-models"


def run(url: str, *args: str) -> CliResult:
    result = CliRunner().invoke(app, ["--endpoint-url", url, *args], catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def trained_server(make_server: Any, s3: Any) -> Any:
    server = make_server(**FAST_TRAINING)
    from openlookout.client import lookoutvision_client

    lv = lookoutvision_client(server.url, retries={"total_max_attempts": 1})
    s3.create_bucket(Bucket="cli-output")
    classification_project(lv, s3, "clip", BUCKET)
    return server


def test_models_commands_and_batch_detection(trained_server: Any, tmp_path: Path) -> None:
    url = trained_server.url
    created = run(
        url, "-o", "json", "models", "create", "clip", "--output-s3", "s3://cli-output/eval/", "--wait"
    )
    assert created.exit_code == 0, created.stderr
    description = created.json()["ModelDescription"]
    assert description["Status"] == "TRAINED"
    listed = run(url, "-o", "json", "models", "list", "clip").json()
    assert [m["ModelVersion"] for m in listed["Models"]] == ["1"]
    assert run(url, "models", "describe", "clip", "1").exit_code == 0

    started = run(url, "-o", "json", "models", "start", "clip", "1", "--min-units", "1", "--wait")
    assert started.exit_code == 0, started.stderr
    assert started.json()["Status"] == "HOSTED"

    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "good.png").write_bytes(png_image(WIDTH, HEIGHT, seed=950))
    (folder / "bad.png").write_bytes(png_image(WIDTH, HEIGHT, seed=951, defect=True))
    (folder / "wrong-size.png").write_bytes(png_image(WIDTH + 32, HEIGHT, seed=952))
    out = tmp_path / "results.jsonl"
    heat = tmp_path / "heat"
    batch = run(
        url, "-o", "json", "detect", "clip", "1", str(folder), "--out", str(out), "--heatmaps", str(heat)
    )
    assert batch.exit_code == 1  # one image had the wrong size
    summary = batch.json()["Summary"]
    records = {Path(r["Image"]).name: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(records) == {"good.png", "bad.png", "wrong-size.png"}
    assert records["bad.png"]["DetectAnomalyResult"]["IsAnomalous"] is True
    verdicts = [records[n]["DetectAnomalyResult"]["IsAnomalous"] for n in ("good.png", "bad.png")]
    assert summary == {"images": 3, "anomalous": sum(verdicts), "normal": 2 - sum(verdicts), "errors": 1}
    assert "exact size" in records["wrong-size.png"]["Error"]
    assert len(list(heat.glob("*.png"))) == 2

    single = run(url, "-o", "json", "detect", "clip", "latest", str(folder / "bad.png"))
    assert single.exit_code == 0
    assert single.json()["DetectAnomalyResult"]["IsAnomalous"] is True

    assert run(url, "models", "stop", "clip", "1").exit_code == 0
    for _ in range(100):
        if (
            run(url, "-o", "json", "models", "describe", "clip", "1").json()["ModelDescription"]["Status"]
            == "TRAINED"
        ):
            break
        time.sleep(0.1)
    deleted = run(url, "-o", "json", "models", "delete", "clip", "1")
    assert deleted.exit_code == 0, deleted.stderr
    assert deleted.json()["ModelArn"].endswith(":model/clip/1")
    missing = run(url, "models", "describe", "clip", "1")
    assert missing.exit_code == 1
    assert missing.stderr.startswith("error: ")
