"""The trial detection pages against a live server with a quickly trained model (httpx, no browser)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from tests.contract.test_models_support import (
    FAST_TRAINING,
    HEIGHT,
    WIDTH,
    classification_project,
    wait_model,
)
from tests.helpers.synthetic import png_image

from openlookout.client import lookoutvision_client

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def trained_server(make_server: Callable[..., Any], s3: Any, project: str) -> tuple[Any, Any]:
    """A server with ``project``: a train dataset (20 normal, 10 anomalous) and trained model 1."""
    server = make_server(extra=dict(FAST_TRAINING))
    lv = lookoutvision_client(server.url, retries={"total_max_attempts": 1})
    s3.create_bucket(Bucket=f"{project}-output")
    classification_project(lv, s3, project, f"{project}-data")
    lv.create_model(ProjectName=project, OutputConfig={"S3Location": {"Bucket": f"{project}-output"}})
    model = wait_model(lv, project, "1", {"TRAINED", "TRAINING_FAILED"})
    assert model["Status"] == "TRAINED", model.get("StatusMessage")
    return server, lv


def new_images(folder: Path) -> None:
    """One normal and one defective image the model has not seen, plus a broken file."""
    folder.mkdir(parents=True)
    (folder / "a-good.png").write_bytes(png_image(WIDTH, HEIGHT, seed=800))
    (folder / "b-bad.png").write_bytes(png_image(WIDTH, HEIGHT, seed=801, defect=True))
    (folder / "c-broken.png").write_bytes(b"definitely not a picture")


def _client(server: Any) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30.0, follow_redirects=True, headers=HTML)


def _wait_done(web: httpx.Client, api: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        body: dict[str, Any] = web.get(api, headers={"Accept": "application/json"}).json()
        if body["status"] != "RUNNING":
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def _tile_ids(html: str) -> dict[str, str]:
    """file name -> image id, for every reviewable tile."""
    found = re.findall(
        r'data-image="(\d+)" data-predicted="\w+" data-verdict="\w*">.*?class="name"[^>]*>([^<]+)<', html
    )
    return {name: image_id for image_id, name in found}


def test_trial_pages_start_review_and_add(make_server: Callable[..., Any], s3: Any, tmp_path: Path) -> None:
    server, lv = trained_server(make_server, s3, "valves")
    folder = server.local_root / "new-valves"
    new_images(folder)
    with _client(server) as web:
        empty = web.get("/projects/valves/trials")
        assert empty.status_code == 200 and "No trial detections yet" in empty.text
        assert '<option value="1">version 1 (TRAINED)</option>' in empty.text
        assert f"Local folders must lie under <code>{server.local_root}</code>" in empty.text
        assert web.get("/console/static/trials.js").status_code == 200
        assert web.get("/console/static/trials.css").status_code == 200

        outside = web.post(
            "/projects/valves/trials", data={"model": "1", "source": str(tmp_path), "name": "x"}
        )
        assert outside.status_code == 400 and "outside the folders this server may read" in outside.text
        assert f'value="{tmp_path}"' in outside.text  # the form keeps what was typed
        missing = web.post("/projects/valves/trials", data={"model": "9", "source": str(folder)})
        assert missing.status_code == 404 and "Model version 9" in missing.text

        started = web.post(
            "/projects/valves/trials", data={"model": "1", "source": str(folder), "name": "batch A"}
        )
        assert started.status_code == 200
        match = re.search(r"/projects/valves/trials/(\d+)$", str(started.url))
        assert match is not None, started.url
        trial_id = match.group(1)
        api = f"/console/api/projects/valves/trials/{trial_id}"
        done = _wait_done(web, api)
        assert (
            done["status"] == "COMPLETED" and done["counts"]["total"] == 3 and done["counts"]["errors"] == 1
        )

        listing = web.get("/projects/valves/trials")
        assert "batch A" in listing.text and "COMPLETED" in listing.text
        assert re.search(
            r'<td class="images">3</td><td class="anomalous">1</td><td class="errors">1</td>', listing.text
        )

        review = web.get(f"/projects/valves/trials/{trial_id}")
        assert review.status_code == 200
        tiles = _tile_ids(review.text)
        assert set(tiles) == {"a-good.png", "b-bad.png"}
        assert 'data-predicted="normal"' in review.text and 'data-predicted="anomaly"' in review.text
        assert "Not checked: cannot be used:" in review.text
        assert review.text.count("/console/thumbs/") == 2  # the broken file has no preview
        assert 'Add <span class="ready-count">0</span> verified images' in review.text

        confirmed = web.post(
            f"/projects/valves/trials/{trial_id}/verdicts",
            data={"image": tiles["b-bad.png"], "verdict": "confirm", "back": "https://evil.example/"},
        )
        assert confirmed.status_code == 200 and confirmed.url.path == f"/projects/valves/trials/{trial_id}"
        assert "verified anomaly" in confirmed.text
        bad_verdict = web.post(
            f"/projects/valves/trials/{trial_id}/verdicts",
            data={"image": tiles["a-good.png"], "verdict": "perhaps"},
        )
        assert (
            bad_verdict.status_code == 400 and "must be one of normal, anomaly, confirm" in bad_verdict.text
        )
        as_json = web.post(
            f"{api}/images/{tiles['a-good.png']}/verdict",
            data={"verdict": "anomaly"},
            headers={"Accept": "application/json"},
        )
        assert as_json.status_code == 200
        assert as_json.json()["image"]["verdict"] == "anomaly" and as_json.json()["counts"]["ready"] == 2

        unreviewed = web.get(f"/projects/valves/trials/{trial_id}", params={"show": "unreviewed"})
        assert _tile_ids(unreviewed.text) == {} and "c-broken.png" in unreviewed.text

        added = web.post(f"/projects/valves/trials/{trial_id}/add", data={"dataset": "train"})
        assert added.status_code == 200 and "Added 2 images to the train dataset." in added.text
        assert added.text.count("added to train") == 2
        again = web.post(f"/projects/valves/trials/{trial_id}/add", data={"dataset": "train"})
        assert again.status_code == 400 and "No verified images are waiting" in again.text
        no_test = web.post(f"/projects/valves/trials/{trial_id}/add", data={"dataset": "test"})
        assert no_test.status_code == 404 and "has no test dataset" in no_test.text

        unknown = web.get("/projects/valves/trials/999")
        assert unknown.status_code == 404 and "has no trial detection 999" in unknown.text
        assert web.get("/projects/valves/trials/abc").status_code == 404
        assert web.get("/console/api/projects/valves/trials/999").json()["message"]
    stats = lv.describe_dataset(ProjectName="valves", DatasetType="train")["DatasetDescription"]["ImageStats"]
    assert (stats["Total"], stats["Normal"], stats["Anomaly"]) == (32, 20, 12)


def test_trials_page_without_a_trained_model(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="fresh")
    with _client(server) as web:
        page = web.get("/projects/fresh/trials")
        assert page.status_code == 200 and "No trained model yet" in page.text
        refused = web.post("/projects/fresh/trials", data={"model": "1", "source": "/tmp"})
        assert refused.status_code == 404
        assert "Model version 1 of project &#x27;fresh&#x27; does not exist" in refused.text
        gone = web.get("/projects/ghost/trials")
        assert gone.status_code == 404 and "Project &#x27;ghost&#x27; does not exist" in gone.text
