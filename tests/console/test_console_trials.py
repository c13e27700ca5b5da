"""The trial detection pages against a live server: a run with a quickly trained model (httpx), and
a RUNNING trial whose state the test writes through ``store.trials`` (httpx and headless Chromium)
to check that the images already checked are shown and reviewable before the trial ends.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect, sync_playwright
from tests.console.browser import launch, screenshot
from tests.contract.test_models_support import (
    FAST_TRAINING,
    HEIGHT,
    WIDTH,
    classification_project,
    wait_model,
)
from tests.helpers.accounts import default_context
from tests.helpers.synthetic import png_image

from openlookout.client import lookoutvision_client
from openlookout.service.lookups import require_project
from openlookout.store import trials as trial_store

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def trained_server(make_server: Callable[..., Any], s3: Any, project: str) -> tuple[Any, Any]:
    """A server with ``project``: a train dataset (20 normal, 10 anomalous) and trained model 1."""
    server = make_server(**FAST_TRAINING)
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
        assert "Model version 1 of project 'fresh' does not exist" in html.unescape(refused.text)
        gone = web.get("/projects/ghost/trials")
        assert gone.status_code == 404 and "Project 'ghost' does not exist" in html.unescape(gone.text)


# --- a RUNNING trial, its state written through the store --------------------------------------


def running_trial(server: Any, project: str, files: list[str]) -> tuple[int, dict[str, int]]:
    """A RUNNING trial over ``files`` with every image pending; (trial id, file name -> image id)."""
    runtime = server.runtime
    with runtime.db.begin() as conn:
        project_id = require_project(conn, default_context(runtime), project).id
        trial_id = trial_store.insert_trial(
            conn,
            project_id=project_id,
            name="still running",
            model_version=1,
            source_uri="file:///incoming",
            source_refs=[f"file:///incoming/{file}" for file in files],
            status="RUNNING",
            now=time.time(),
        )
        rows = trial_store.page_images(conn, trial_id, offset=0, limit=100)
    return trial_id, {row.source_ref.rsplit("/", 1)[-1]: row.id for row in rows}


def predict(server: Any, image_id: int, anomalous: bool, seed: int) -> None:
    """What the trial job records for an image it judged."""
    runtime = server.runtime
    sha = runtime.blobs.put(png_image(WIDTH, HEIGHT, seed=seed, defect=anomalous))
    with runtime.db.begin() as conn:
        trial_store.record_prediction(
            conn,
            image_id,
            image_sha256=sha,
            is_anomalous=anomalous,
            confidence=0.875,
            mask_sha256=None,
            now=time.time(),
        )


def test_running_trial_shows_and_reviews_the_images_already_checked(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="belts")
    trial_id, ids = running_trial(server, "belts", ["a.png", "b.png", "c.png", "d.png"])
    predict(server, ids["a.png"], anomalous=True, seed=810)
    with server.runtime.db.begin() as conn:
        trial_store.record_error(
            conn, ids["b.png"], "cannot be used: not an image", image_sha256=None, now=1.0
        )
    page_path = f"/projects/belts/trials/{trial_id}"
    api = f"/console/api/projects/belts/trials/{trial_id}"
    with _client(server) as web:
        html = web.get(page_path).text
        assert 'id="trial-progress"' in html and "of 4 images checked" in html
        assert _tile_ids(html) == {"a.png": str(ids["a.png"])}
        assert html.count('class="trial-tile pending"') == 2 and "waiting for the model" in html
        assert "Not checked: cannot be used: not an image" in html
        assert 'class="inline trial-add"' not in html  # the project has no dataset yet

        # the polling answer carries the checked tiles of the page, not the pending ones
        progress = web.get(api, params={"tiles": "1"}, headers={"Accept": "application/json"}).json()
        assert progress["status"] == "RUNNING" and progress["counts"]["checked"] == 2
        assert sorted(tile["id"] for tile in progress["tiles"]) == sorted([ids["a.png"], ids["b.png"]])
        assert "RUNNING" in progress["summary"]
        plain = web.get(api, headers={"Accept": "application/json"}).json()
        assert "tiles" not in plain and plain["counts"]["total"] == 4

        # a checked image can be reviewed at once; a pending one is refused with the service's reason
        reviewed = web.post(
            f"{api}/images/{ids['a.png']}/verdict",
            data={"verdict": "normal"},
            headers={"Accept": "application/json"},
        )
        assert (
            reviewed.status_code == 200 and reviewed.json()["image"]["text"] == "verified normal (corrected)"
        )
        early = web.post(
            f"{api}/images/{ids['c.png']}/verdict",
            data={"verdict": "confirm"},
            headers={"Accept": "application/json"},
        )
        assert early.status_code == 409 and "has not been checked by the model yet" in early.json()["message"]

        predict(server, ids["c.png"], anomalous=False, seed=811)
        later = web.get(
            api, params={"tiles": "1", "show": "unreviewed"}, headers={"Accept": "application/json"}
        )
        assert [tile["id"] for tile in later.json()["tiles"]] == [ids["b.png"], ids["c.png"]]
        assert "show=unreviewed" in later.json()["tiles"][1]["html"]  # the verdict form returns to this view

        # the service adds verified images while a trial runs, so the page offers it then too
        lv.create_dataset(ProjectName="belts", DatasetType="train")
        with_dataset = web.get(page_path).text
        assert 'id="trial-progress"' in with_dataset
        assert 'Add <span class="ready-count">1</span> verified images' in with_dataset


def test_browser_fills_the_grid_while_the_trial_runs(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="rollers")
    trial_id, ids = running_trial(server, "rollers", ["a.png", "b.png", "c.png"])
    predict(server, ids["a.png"], anomalous=False, seed=820)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.set_default_timeout(15_000)
            page.goto(f"{server.url}/projects/rollers/trials/{trial_id}")
            tiles = page.locator(".trial-tile.reviewable")
            expect(tiles).to_have_count(1)
            expect(page.locator(".trial-tile.pending")).to_have_count(2)

            predict(server, ids["b.png"], anomalous=True, seed=821)
            expect(tiles).to_have_count(2)  # filled in by the polling, without a reload
            expect(page.locator(".trial-checked")).to_have_text("2")
            tiles.nth(0).click(position={"x": 20, "y": 20})
            page.keyboard.press("c")
            expect(tiles.nth(0)).to_have_attribute("data-verdict", "normal")
            expect(tiles.nth(1)).to_be_focused()
            screenshot(page, "trial-review-running")

            predict(server, ids["c.png"], anomalous=False, seed=822)
            with server.runtime.db.begin() as conn:
                trial_store.set_trial_status(
                    conn,
                    trial_id,
                    status="COMPLETED",
                    message="Checked 3 images.",
                    now=time.time(),
                    expect_status="RUNNING",
                )
            expect(page.locator("#trial-progress")).to_have_count(0)
            expect(page.locator(".trial-summary")).to_contain_text("COMPLETED (Checked 3 images.)")
            expect(page.locator(".trial-summary .reviewed-count")).to_have_text("1")
            expect(tiles).to_have_count(3)
            expect(tiles.nth(0)).to_have_attribute(
                "data-verdict", "normal"
            )  # the review made meanwhile stays
        finally:
            browser.close()
