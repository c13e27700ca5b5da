"""The whole console flow in one headless Chromium session, through the browser only.

A user creates a project from ``/``, creates separate train and test datasets, uploads synthetic
images (one file is not an image: its reason is listed and the page keeps working), labels them
in the gallery with multi-select and the ``n`` / ``a`` keys, adds an anomaly type, paints a mask
on one anomalous test image with the brush and the polygon tool, trains a model from the models
page and watches it turn TRAINED, reads the metrics and one test result, runs a trial detection
over a folder of new images, confirms one prediction, corrects another and adds the verified
images to the train dataset. The API (boto3 ``lv``) and the blob store are only read at the end,
to check what the browser did: the labels, the mask's pixels, the metrics and the image stats.

The mask is in the test dataset on purpose: a mask in the train dataset would make the project a
segmentation project, whose minimums would need dozens of painted masks. Screenshots are
``e2e-NN-<page>`` in the artifacts folder.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
from PIL import Image
from playwright.sync_api import expect, sync_playwright
from tests.console.browser import drag_on_mask, launch, screenshot
from tests.contract.test_models_support import FAST_TRAINING, HEIGHT, WIDTH
from tests.helpers.synthetic import png_image

from openlookout.client import lookoutvision_client

PROJECT = "e2e-parts"
OUTPUT_BUCKET = "console-e2e-output"
TYPE_NAME, TYPE_COLOUR, TYPE_RGB = "scratch", "#e6194b", (230, 25, 75)
PER_GROUP = 10  # separate datasets: 10 normal in train, 10 normal and 10 anomalous in test
BAD_NAME, BAD_BYTES = "notes.png", b"these are meeting notes, not a picture"
BRUSH_ROW, BRUSH_FROM, BRUSH_TO, BRUSH_SIZE = 12, 10, 40, 5
POLYGON = ((50, 30), (80, 30), (80, 50), (50, 50))


def _write_images(folder: Path, prefix: str, seed: int, defect: bool) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(PER_GROUP):
        path = folder / f"{prefix}-{index:02d}.png"
        path.write_bytes(png_image(WIDTH, HEIGHT, seed=seed + index, defect=defect))
        paths.append(path)
    return paths


def _expected_mask() -> np.ndarray:
    """The label map the strokes paint, by the editor's documented rules.

    A brush of size s paints the pixels within (s - 1) / 2 of each pixel the pointer crosses; a
    polygon with vertices on pixel centres fills the pixels whose centres lie inside it (top and
    left edges in, bottom edge out, right edge in, as the even-odd scan fills).
    """
    labels = np.zeros((HEIGHT, WIDTH), dtype=bool)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    radius = (BRUSH_SIZE - 1) / 2
    for x in range(BRUSH_FROM, BRUSH_TO + 1):
        labels[(xx - x) ** 2 + (yy - BRUSH_ROW) ** 2 <= radius * radius] = True
    (x0, y0), (x1, y1) = POLYGON[0], POLYGON[2]
    labels[y0:y1, x0 : x1 + 1] = True
    return labels


def _upload(page: Any, dataset_type: str, files: list[Path], total: int) -> None:
    """Upload through the project page's file picker, unlabeled; the page reloads when all succeed.

    ``total``: the dataset's image count the reloaded page must then show.
    """
    page.select_option("#upload select[name=type]", dataset_type)
    page.select_option("#upload select[name=label]", "")
    with page.expect_navigation():
        page.set_input_files("#upload input[type=file]", [str(f) for f in files])
    expect(page.locator(f"tr[data-dataset={dataset_type}] .total")).to_have_text(str(total))


def _checked_names(page: Any) -> list[str]:
    return list(
        page.eval_on_selector_all(
            ".tile input[name=ref]:checked",
            "boxes => boxes.map(b => b.closest('.tile').querySelector('.name').textContent)",
        )
    )


def _create_and_upload(page: Any, url: str, train: list[Path], test: list[Path], bad: Path) -> str:
    """Project and datasets from the UI; images uploaded; the bad file's listed reason returned."""
    page.goto(url + "/")
    expect(page.locator("main p", has_text="No projects yet.")).to_be_visible()
    screenshot(page, "e2e-01-projects")
    page.fill("input[name=name]", PROJECT)
    page.click("text=Create")
    page.wait_for_url(f"**/projects/{PROJECT}")
    page.check("input[name=layout][value=separate]")
    with page.expect_navigation():
        page.click("text=Create datasets")
    expect(page.locator("tr[data-dataset=train]")).to_have_count(1)
    expect(page.locator("tr[data-dataset=test]")).to_have_count(1)
    screenshot(page, "e2e-02-project")

    # One batch with a file that is not an image: it is listed, the others go in, no reload.
    page.select_option("#upload select[name=type]", "train")
    batch = [*train[:5], bad, *train[5:]]
    page.set_input_files("#upload input[type=file]", [str(f) for f in batch])
    expect(page.locator("#upload .progress")).to_have_text(
        f"Uploaded {len(train)} of {len(batch)} (1 failed)"
    )
    errors = page.locator("#upload .upload-errors li")
    expect(errors).to_have_count(1)
    reason = errors.first.inner_text()
    screenshot(page, "e2e-03-project-upload-refused")

    # The page keeps working: the next uploads (normal images first, then the defective ones, so
    # the gallery lists them in that order) go through on the same page.
    _upload(page, "test", test[:PER_GROUP], PER_GROUP)
    _upload(page, "test", test[PER_GROUP:], 2 * PER_GROUP)
    expect(page.locator("tr[data-dataset=train] .total")).to_have_text(str(len(train)))
    expect(page.locator("tr[data-dataset=train] .labeled")).to_have_text("0")
    expect(page.locator(".readiness")).to_contain_text("Not ready to train yet")
    screenshot(page, "e2e-04-project-uploaded")
    return reason


def _label_in_gallery(page: Any) -> None:
    """Train: select all, ``n``. Test: shift-click the defective range, ``a``; the rest ``n``."""
    page.click("nav.project-nav >> text=Gallery")
    page.wait_for_url("**/datasets/train/gallery")
    expect(page.locator(".tile")).to_have_count(PER_GROUP)
    page.click("button.select-all")
    expect(page.locator(".tile input[name=ref]:checked")).to_have_count(PER_GROUP)
    with page.expect_navigation():
        page.keyboard.press("n")
    expect(page.locator(".tile.normal")).to_have_count(PER_GROUP)
    screenshot(page, "e2e-05-gallery-train")

    page.click(".dataset-switch >> text=test")
    page.wait_for_url("**/datasets/test/gallery")
    expect(page.locator(".tile")).to_have_count(2 * PER_GROUP)
    boxes = page.locator(".tile input[name=ref]")
    boxes.nth(PER_GROUP).click()
    boxes.nth(2 * PER_GROUP - 1).click(modifiers=["Shift"])
    checked = _checked_names(page)
    assert sorted(checked) == [f"test-defect-{i:02d}.png" for i in range(PER_GROUP)]
    with page.expect_navigation():
        page.keyboard.press("a")
    expect(page.locator(".tile.anomaly")).to_have_count(PER_GROUP)

    page.select_option("select[name=labeled]", "no")
    with page.expect_navigation():
        page.click("form.filters button")
    expect(page.locator(".tile")).to_have_count(PER_GROUP)
    page.click("button.select-all")
    assert all(name.startswith("test-normal-") for name in _checked_names(page))
    with page.expect_navigation():
        page.keyboard.press("n")
    expect(page.locator(".grid p", has_text="No images match.")).to_be_visible()
    expect(page.locator(".tile")).to_have_count(0)
    page.select_option("select[name=labeled]", "")
    with page.expect_navigation():
        page.click("form.filters button")
    expect(page.locator(".tile.normal")).to_have_count(PER_GROUP)
    expect(page.locator(".tile.anomaly")).to_have_count(PER_GROUP)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.tile img')).every(i => i.naturalWidth > 0)"
    )
    screenshot(page, "e2e-06-gallery-test-labeled")


def _add_anomaly_type(page: Any) -> None:
    page.click("nav.project-nav >> text=Anomaly types")
    page.wait_for_url("**/anomaly-types")
    page.fill("form.add-type input[name=name]", TYPE_NAME)
    page.fill("form.add-type input[name=color]", TYPE_COLOUR)
    page.click("button:has-text('Add anomaly type')")
    row = page.locator(f'tr[data-type="{TYPE_NAME}"]')
    expect(row).to_have_count(1)
    expect(row.locator(".colour")).to_have_text(TYPE_COLOUR, ignore_case=True)
    screenshot(page, "e2e-07-anomaly-types")


def _paint_mask(page: Any, url: str) -> str:
    """Open one defective test image from the gallery, paint, save, reload; its source-ref."""
    page.goto(url + f"/projects/{PROJECT}/datasets/test/gallery?class=anomaly")
    tile = page.locator(".tile", has=page.locator(".name", has_text="test-defect-03.png"))
    with page.expect_navigation():
        tile.locator("a.open").click()
    ref = parse_qs(urlsplit(page.url).query)["ref"][0]
    expect(page.locator(".current-label")).to_have_text("anomaly")
    expect(page.locator("#mask-editor[data-ready=yes]")).to_have_count(1)
    page.check("input[name=anomaly-type][value='1']")
    page.click("[data-tool=brush]")
    page.fill(".brush-size", str(BRUSH_SIZE))
    drag_on_mask(page, [(BRUSH_FROM, BRUSH_ROW), (BRUSH_TO, BRUSH_ROW)])
    page.click("[data-tool=polygon]")
    for x, y in (*POLYGON, POLYGON[0]):
        drag_on_mask(page, [(x, y)])
    painted = int(_expected_mask().sum())
    assert page.evaluate("maskEditor.counts()") == {TYPE_NAME: painted}
    page.click("button.save")
    expect(page.locator("#mask-editor .status")).to_have_text(f"Saved: {painted} mask pixels.")
    page.reload()
    expect(page.locator("#mask-editor[data-ready=yes]")).to_have_count(1)
    assert page.evaluate("maskEditor.counts()") == {TYPE_NAME: painted}
    screenshot(page, "e2e-08-label-editor")
    return ref


def _train(page: Any) -> None:
    page.click("nav.project-nav >> text=Models")
    page.wait_for_url("**/models")
    expect(page.locator("#train .readiness.ready")).to_contain_text("Ready to train a classification model")
    page.fill("input[name=bucket]", OUTPUT_BUCKET)
    page.fill("input[name=description]", "e2e-run")
    screenshot(page, "e2e-09-models")
    page.click("#train button")
    page.wait_for_url(f"**/projects/{PROJECT}/models/1")
    status = page.locator(".model-status")
    expect(status).to_have_text("TRAINING")
    page.evaluate("window.stillThisPage = true")
    screenshot(page, "e2e-10-model-training")
    expect(status).to_have_text("TRAINED", timeout=180_000)
    assert page.evaluate("window.stillThisPage") is True  # the status changed live, no navigation
    expect(page.locator("#hosting button", has_text="Start hosting")).to_be_visible()
    screenshot(page, "e2e-11-model-trained")


def _metrics(page: Any) -> dict[str, float]:
    """The metrics page's precision / recall / F1; one test result opened with its heatmap."""
    page.click("text=Metrics and test results")
    page.wait_for_url("**/models/1/metrics")
    expect(page.locator("svg.pr-plot")).to_have_count(1)
    expect(page.locator("svg.pr-plot .operating-point")).to_have_count(1)
    expect(page.locator("tr.result")).to_have_count(2 * PER_GROUP)
    shown = {}
    for key in ("precision", "recall", "f1"):
        cell = page.locator(f".metric-{key}")
        expect(cell).to_be_visible()
        value = cell.get_attribute("data-value")
        assert value is not None, f"the metrics page shows no {key}"
        shown[key] = float(value)
    screenshot(page, "e2e-12-model-metrics")

    first = page.locator("tr.result").first
    truth, predicted = first.locator(".truth").inner_text(), first.locator(".predicted").inner_text()
    first.locator("a").last.click()
    page.wait_for_url("**/models/1/results/1")
    page.wait_for_function(
        "() => { const i = document.querySelector('.overlay.predicted'); "
        "return i !== null && i.complete && i.naturalWidth > 0; }",
        timeout=60_000,
    )
    expect(page.locator(".truth-label")).to_have_text(truth)
    expect(page.locator("figcaption strong.predicted")).to_have_text(predicted)
    screenshot(page, "e2e-13-model-result")
    return shown


def _trial(page: Any, folder: Path) -> tuple[str, str]:
    """Run a trial over ``folder``; confirm the first prediction, correct the second, add both."""
    page.click("nav.project-nav >> text=Trial detection")
    page.wait_for_url("**/trials")
    page.select_option("select[name=model]", "1")
    page.fill("input[name=source]", str(folder))
    page.fill("input[name=name]", "e2e trial")
    screenshot(page, "e2e-14-trials-start")
    page.click("text=Start trial")
    page.wait_for_url(f"**/projects/{PROJECT}/trials/*")
    tiles = page.locator(".trial-tile.reviewable")
    expect(tiles).to_have_count(2, timeout=60_000)
    expect(page.locator(".trial-tile.has-error .trial-error")).to_contain_text("cannot be used:")
    first, second = tiles.nth(0), tiles.nth(1)
    expect(first.locator(".name")).to_have_text("a-new-normal.png")
    expect(second.locator(".name")).to_have_text("b-new-defect.png")
    confirmed = first.get_attribute("data-predicted")
    predicted_second = second.get_attribute("data-predicted")
    assert confirmed in ("normal", "anomaly") and predicted_second in ("normal", "anomaly")
    corrected = "normal" if predicted_second == "anomaly" else "anomaly"

    first.click(position={"x": 20, "y": 20})
    page.keyboard.press("c")
    expect(first).to_have_attribute("data-verdict", confirmed)
    expect(second).to_be_focused()
    page.keyboard.press(corrected[0])
    expect(second).to_have_attribute("data-verdict", corrected)
    expect(second.locator(".verdict")).to_have_text(f"verified {corrected} (corrected)")

    page.select_option(".trial-add select[name=dataset]", "train")
    add = page.locator("button.add-verified")
    expect(add).to_have_text("Add 2 verified images to the train dataset")
    screenshot(page, "e2e-15-trial-review")
    add.click()
    expect(page.locator(".trial-notice")).to_contain_text("Added 2 images to the train dataset.")
    expect(page.locator(".trial-tile.added")).to_have_count(2)
    screenshot(page, "e2e-16-trial-added")

    page.click("text=All trials")
    row = page.locator("table.trials tbody tr")
    expect(row.locator(".trial-status")).to_contain_text("COMPLETED")
    expect(row.locator(".added")).to_have_text("2")
    screenshot(page, "e2e-17-trials")
    return str(confirmed), corrected


def _stats(lv: Any, dataset_type: str) -> tuple[int, int, int, int]:
    stats = lv.describe_dataset(ProjectName=PROJECT, DatasetType=dataset_type)["DatasetDescription"][
        "ImageStats"
    ]
    return stats["Total"], stats["Labeled"], stats["Normal"], stats["Anomaly"]


def _entry(lv: Any, dataset_type: str, ref: str) -> dict[str, Any]:
    lines = lv.list_dataset_entries(ProjectName=PROJECT, DatasetType=dataset_type)["DatasetEntries"]
    found = [json.loads(line) for line in lines if json.loads(line)["source-ref"] == ref]
    assert len(found) == 1, f"{ref} is not in the {dataset_type} dataset once"
    return found[0]


def _labels_by_name(lv: Any, dataset_type: str) -> dict[str, str]:
    """File name -> label of every entry of the dataset (names are unique in this test)."""
    lines = lv.list_dataset_entries(ProjectName=PROJECT, DatasetType=dataset_type)["DatasetEntries"]
    labels: dict[str, str] = {}
    for line in map(json.loads, lines):
        name = line["source-ref"].rsplit("/", 1)[-1]
        assert name not in labels, f"{name} is in the {dataset_type} dataset twice"
        labels[name] = line["anomaly-label-metadata"]["class-name"]
    return labels


def _check_mask(server: Any, lv: Any, ref: str) -> None:
    """The stored mask: the painted pixels in the type's exact colour, all others background."""
    line = _entry(lv, "test", ref)
    assert line["anomaly-label-metadata"]["class-name"] == "anomaly"
    mask_ref = line["anomaly-mask-ref"]
    colours = line["anomaly-mask-ref-metadata"]["internal-color-map"]
    named = {c["class-name"]: c["hex-color"].lower() for c in colours.values()}
    assert named[TYPE_NAME] == TYPE_COLOUR
    sha = mask_ref[len("upload://") :].split("/", 1)[0]
    rgba = np.asarray(Image.open(io.BytesIO(server.runtime.blobs.get(sha))).convert("RGBA"))
    assert rgba.shape == (HEIGHT, WIDTH, 4)
    expected = _expected_mask()
    assert set(map(tuple, rgba[expected].tolist())) == {(*TYPE_RGB, 255)}
    assert set(map(tuple, rgba[~expected].tolist())) == {(0, 0, 0, 0)}


def _wait_datasets_settled(lv: Any) -> None:
    deadline = time.monotonic() + 30
    for dataset_type in ("train", "test"):
        while True:
            status = lv.describe_dataset(ProjectName=PROJECT, DatasetType=dataset_type)["DatasetDescription"][
                "Status"
            ]
            if not status.endswith("IN_PROGRESS"):
                break
            assert time.monotonic() < deadline, f"the {dataset_type} dataset stays {status}"
            time.sleep(0.05)


def test_console_end_to_end(make_server: Any, s3: Any, tmp_path: Path) -> None:
    server = make_server(**FAST_TRAINING)
    lv = lookoutvision_client(server.url, retries={"total_max_attempts": 1})
    s3.create_bucket(Bucket=OUTPUT_BUCKET)  # the output location training writes to (no console page)
    train = _write_images(tmp_path / "pictures", "train-normal", 1000, defect=False)
    test = _write_images(tmp_path / "pictures", "test-normal", 2000, defect=False)
    test += _write_images(tmp_path / "pictures", "test-defect", 3000, defect=True)
    bad = tmp_path / "pictures" / BAD_NAME
    bad.write_bytes(BAD_BYTES)
    trial_folder = server.local_root / "incoming"
    trial_folder.mkdir()
    (trial_folder / "a-new-normal.png").write_bytes(png_image(WIDTH, HEIGHT, seed=4000))
    (trial_folder / "b-new-defect.png").write_bytes(png_image(WIDTH, HEIGHT, seed=4001, defect=True))
    (trial_folder / "c-broken.png").write_bytes(b"not a picture either")

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            reason = _create_and_upload(page, server.url, train, test, bad)
            _label_in_gallery(page)
            _add_anomaly_type(page)
            masked_ref = _paint_mask(page, server.url)
            _train(page)
            shown = _metrics(page)
            confirmed, corrected = _trial(page, trial_folder)
        finally:
            browser.close()

    # The refusal listed is the API's own reason for that file.
    api = httpx.post(
        f"{server.url}/openlookout/v1/projects/{PROJECT}/datasets/train/images",
        params={"name": BAD_NAME},
        content=BAD_BYTES,
        headers={"Content-Type": "application/octet-stream"},
        timeout=30.0,
    )
    assert api.status_code == 400
    message = api.json()["message"]
    assert message.startswith(f"image {BAD_NAME}: ")  # the service names the file once ...
    assert reason == f"{BAD_NAME}: {message.removeprefix(f'image {BAD_NAME}: ')}"  # ... and so does the page

    _wait_datasets_settled(lv)
    assert _stats(lv, "test") == (2 * PER_GROUP, 2 * PER_GROUP, PER_GROUP, PER_GROUP)
    test_labels = _labels_by_name(lv, "test")
    assert test_labels == {p.name: "anomaly" if "defect" in p.name else "normal" for p in test}
    _check_mask(server, lv, masked_ref)

    performance = lv.describe_model(ProjectName=PROJECT, ModelVersion="1")["ModelDescription"]["Performance"]
    assert abs(shown["precision"] - performance["Precision"]) < 1e-6
    assert abs(shown["recall"] - performance["Recall"]) < 1e-6
    assert abs(shown["f1"] - performance["F1Score"]) < 1e-6

    labels = [confirmed, corrected]
    added = {"normal": labels.count("normal"), "anomaly": labels.count("anomaly")}
    assert _stats(lv, "train") == (
        PER_GROUP + 2,
        PER_GROUP + 2,
        PER_GROUP + added["normal"],
        added["anomaly"],
    )
    train_labels = _labels_by_name(lv, "train")
    assert train_labels == {
        **{p.name: "normal" for p in train},
        "a-new-normal.png": confirmed,
        "b-new-defect.png": corrected,
    }
