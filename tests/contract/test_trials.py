"""Trial detection (``openlookout.service.trials``) on a live server with a quickly trained model.

One classification model is trained per module (20 normal + 10 anomalous synthetic images in
moto S3); each test runs its own trials over new synthetic images in a local folder under the
server's allowed root, or in an S3 prefix.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.contract.conftest import LiveServer, _start_server, s3_client
from tests.contract.test_models_support import (
    FAST_TRAINING,
    HEIGHT,
    WIDTH,
    classification_project,
    insert_model_row,
    wait_model,
)
from tests.helpers.synthetic import jpeg_image, png_image

from openlookout.client import lookoutvision_client
from openlookout.errors import ConflictException, ResourceNotFoundException, ValidationException
from openlookout.service import trial_detection, trials
from openlookout.service.context import RequestContext
from openlookout.store import trials as trial_store

PROJECT = "trialparts"
BUCKET = "trial-data"


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str
) -> Iterator[tuple[LiveServer, Any, Any]]:
    live = _start_server(tmp_path_factory.mktemp("trials"), s3_endpoint, {"extra": dict(FAST_TRAINING)})
    lv = lookoutvision_client(live.url, retries={"total_max_attempts": 1})
    s3 = s3_client(s3_endpoint)
    s3.create_bucket(Bucket="trial-output")
    classification_project(lv, s3, PROJECT, BUCKET)
    lv.create_model(ProjectName=PROJECT, OutputConfig={"S3Location": {"Bucket": "trial-output"}})
    model = wait_model(lv, PROJECT, "1", {"TRAINED", "TRAINING_FAILED"})
    assert model["Status"] == "TRAINED", model.get("StatusMessage")
    yield live, lv, s3
    live.stop()


def ctx_of(live: LiveServer) -> RequestContext:
    settings = live.runtime.settings
    return RequestContext(settings.default_account_id, settings.default_region)


def wait_trial(live: LiveServer, trial_id: int, timeout: float = 60) -> trials.TrialPage:
    deadline = time.monotonic() + timeout
    while True:
        view = trials.describe_trial(live.runtime, ctx_of(live), PROJECT, trial_id, limit=500)
        if view.trial.status != "RUNNING":
            return view
        assert time.monotonic() < deadline, f"trial stuck: {view.trial.status_message}"
        time.sleep(0.05)


def write_batch(folder: Path, normal: list[int], defect: list[int]) -> None:
    folder.mkdir(parents=True)
    for seed in normal:
        (folder / f"good-{seed}.png").write_bytes(png_image(WIDTH, HEIGHT, seed=seed))
    for seed in defect:
        (folder / f"bad-{seed}.jpg").write_bytes(jpeg_image(WIDTH, HEIGHT, seed=seed, defect=True))


def stats(lv: Any) -> dict[str, int]:
    found: dict[str, int] = lv.describe_dataset(ProjectName=PROJECT, DatasetType="train")[
        "DatasetDescription"
    ]["ImageStats"]
    return found


def test_folder_trial_predicts_reports_bad_images_and_adds_verified(
    trained: tuple[LiveServer, Any, Any],
) -> None:
    live, lv, _ = trained
    runtime, ctx = live.runtime, ctx_of(live)
    folder = live.local_root / "batch-one"
    write_batch(folder, normal=[900, 901, 902], defect=[910, 911, 912])
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not really a PNG")
    (folder / "wide.png").write_bytes(png_image(128, HEIGHT, seed=920))
    (folder / "notes.txt").write_text("not an image, not listed")

    trial_id = trials.start_trial(runtime, ctx, PROJECT, "1", str(folder), "first batch")
    view = wait_trial(live, trial_id)
    assert view.trial.status == "COMPLETED", view.trial.status_message
    assert view.trial.name == "first batch" and view.trial.model_version == 1
    assert view.trial.source_uri == folder.as_uri()
    counts = view.trial.counts
    assert (counts.total, counts.checked, counts.errors) == (8, 8, 2)
    by_name = {image.source_ref.rsplit("/", 1)[-1]: image for image in view.images}
    assert "notes.txt" not in by_name
    assert by_name["broken.png"].error is not None and by_name["broken.png"].error.startswith(
        "cannot be used:"
    )
    assert by_name["broken.png"].image_sha256 is None
    assert by_name["wide.png"].error == (
        f"the image is 128x{HEIGHT} pixels; model version 1 was trained on {WIDTH}x{HEIGHT} images "
        "and needs that exact size"
    )
    assert by_name["wide.png"].image_sha256 is not None  # still shown as a thumbnail
    judged = [by_name[f"good-{s}.png"] for s in (900, 901, 902)] + [
        by_name[f"bad-{s}.jpg"] for s in (910, 911, 912)
    ]
    for image in judged:
        assert image.error is None and image.confidence is not None and 0.0 <= image.confidence <= 1.0
        assert image.image_sha256 is not None and runtime.blobs.exists(image.image_sha256)
        assert image.mask_sha256 is None  # a classification model has no masks
    assert [i.predicted for i in judged] == ["normal"] * 3 + ["anomaly"] * 3
    assert counts.anomalous == 3
    assert view.trial.status_message == (
        "Checked 8 images: 3 predicted anomalous, 3 normal, 2 could not be checked."
    )
    # the prediction is the hosting code's answer for the same bytes
    from openlookout.hosting.result import detect_image
    from openlookout.ml.runtime import OnnxDetector

    model_path = next((live.data_dir / "hosting").glob("model-*.onnx"))
    expected = detect_image(
        OnnxDetector(model_path, threads=1), (folder / "bad-910.jpg").read_bytes(), WIDTH, HEIGHT, {}, False
    )
    assert by_name["bad-910.jpg"].confidence == pytest.approx(expected["Confidence"])

    first_anomalous = trials.describe_trial(runtime, ctx, PROJECT, trial_id, anomalous_first=True, limit=3)
    assert {i.source_ref.rsplit("/", 1)[-1] for i in first_anomalous.images} == {
        "bad-910.jpg",
        "bad-911.jpg",
        "bad-912.jpg",
    }
    assert first_anomalous.matching == 8

    # verdicts: confirm one, correct one, agree explicitly with a third
    confirmed = trials.set_verdict(runtime, ctx, PROJECT, trial_id, by_name["bad-910.jpg"].id, "confirm")
    assert confirmed.verdict == "anomaly"
    corrected = trials.set_verdict(runtime, ctx, PROJECT, trial_id, by_name["good-900.png"].id, "anomaly")
    assert corrected.verdict == "anomaly"
    trials.set_verdict(runtime, ctx, PROJECT, trial_id, by_name["good-901.png"].id, "normal")
    with pytest.raises(ValidationException, match="could not be checked"):
        trials.set_verdict(runtime, ctx, PROJECT, trial_id, by_name["broken.png"].id, "normal")
    with pytest.raises(ValidationException, match="must be one of normal, anomaly, confirm"):
        trials.set_verdict(runtime, ctx, PROJECT, trial_id, by_name["good-902.png"].id, "maybe")
    with pytest.raises(ResourceNotFoundException, match="has no image 999999"):
        trials.set_verdict(runtime, ctx, PROJECT, trial_id, 999999, "normal")
    unreviewed = trials.describe_trial(runtime, ctx, PROJECT, trial_id, unreviewed_only=True)
    assert unreviewed.matching == 5 and all(i.verdict is None for i in unreviewed.images)

    before = stats(lv)
    added = trials.add_verified(runtime, ctx, PROJECT, trial_id, "train")
    assert (added.added, added.skipped) == (3, [])
    after = stats(lv)
    assert after["Total"] == before["Total"] + 3
    assert after["Anomaly"] == before["Anomaly"] + 2 and after["Normal"] == before["Normal"] + 1
    lines = lv.list_dataset_entries(ProjectName=PROJECT, DatasetType="train", SourceRefContains="batch-one")[
        "DatasetEntries"
    ]
    labels = {
        json.loads(line)["source-ref"].rsplit("/", 1)[-1]: json.loads(line)["anomaly-label"] for line in lines
    }
    assert labels == {"bad-910.jpg": 1, "good-900.png": 1, "good-901.png": 0}
    view = wait_trial(live, trial_id)
    assert {i.source_ref.rsplit("/", 1)[-1] for i in view.images if i.added_to == "train"} == set(labels)
    assert view.trial.counts.added == 3 and view.trial.counts.ready_to_add == 0

    # a second add has nothing new to send; an added image keeps its verdict
    with pytest.raises(ValidationException, match="No verified images are waiting"):
        trials.add_verified(runtime, ctx, PROJECT, trial_id, "train")
    assert stats(lv) == after
    with pytest.raises(ConflictException, match="already added to the train dataset"):
        trials.set_verdict(runtime, ctx, PROJECT, trial_id, by_name["good-900.png"].id, "normal")

    # a second trial over a copy of an image the dataset holds: reported, not duplicated
    again = live.local_root / "batch-two"
    again.mkdir()
    (again / "copy.png").write_bytes(png_image(WIDTH, HEIGHT, seed=900))
    (again / "fresh.png").write_bytes(png_image(WIDTH, HEIGHT, seed=930))
    second = trials.start_trial(runtime, ctx, PROJECT, "latest", f"file://{again}", "")
    view = wait_trial(live, second)
    assert view.trial.name == "Trial 2" and view.trial.status == "COMPLETED"
    for image in view.images:
        trials.set_verdict(runtime, ctx, PROJECT, second, image.id, "confirm")
    result = trials.add_verified(runtime, ctx, PROJECT, second, "train")
    assert result.added == 1
    assert len(result.skipped) == 1 and result.skipped[0].startswith(
        f"{(again / 'copy.png').as_uri()} has the same content as"
    )
    assert stats(lv)["Total"] == after["Total"] + 1
    listed = [t.id for t in trials.list_trials(runtime, ctx, PROJECT)]
    assert listed == [second, trial_id]


def test_trial_from_an_s3_prefix(trained: tuple[LiveServer, Any, Any]) -> None:
    live, _, s3 = trained
    s3.put_object(Bucket=BUCKET, Key="incoming/a.png", Body=png_image(WIDTH, HEIGHT, seed=940))
    s3.put_object(Bucket=BUCKET, Key="incoming/b.png", Body=png_image(WIDTH, HEIGHT, seed=941, defect=True))
    trial_id = trials.start_trial(
        live.runtime, ctx_of(live), PROJECT, "1", f"s3://{BUCKET}/incoming", "from s3"
    )
    view = wait_trial(live, trial_id)
    assert view.trial.status == "COMPLETED", view.trial.status_message
    assert [i.source_ref for i in view.images] == [
        f"s3://{BUCKET}/incoming/a.png",
        f"s3://{BUCKET}/incoming/b.png",
    ]
    assert [i.predicted for i in view.images] == ["normal", "anomaly"]


def test_bad_inputs_give_precise_errors(trained: tuple[LiveServer, Any, Any], tmp_path: Path) -> None:
    live, lv, _ = trained
    runtime, ctx = live.runtime, ctx_of(live)
    folder = live.local_root / "few"
    write_batch(folder, normal=[950], defect=[])
    with pytest.raises(ResourceNotFoundException, match="Project 'nope' does not exist"):
        trials.start_trial(runtime, ctx, "nope", "1", str(folder), "")
    with pytest.raises(ResourceNotFoundException, match="Model version 7 of project"):
        trials.start_trial(runtime, ctx, PROJECT, "7", str(folder), "")
    with pytest.raises(ValidationException, match="is not a model version"):
        trials.start_trial(runtime, ctx, PROJECT, "one", str(folder), "")

    lv.create_project(ProjectName="untrained")
    insert_model_row(runtime, "untrained", 1, status="TRAINING")
    with pytest.raises(ConflictException, match="is TRAINING; it cannot be used for trial detection"):
        trials.start_trial(runtime, ctx, "untrained", "1", str(folder), "")

    outside = tmp_path / "elsewhere"
    write_batch(outside, normal=[951], defect=[])
    with pytest.raises(ValidationException, match="outside the folders this server may read"):
        trials.start_trial(runtime, ctx, PROJECT, "1", str(outside), "")
    with pytest.raises(ValidationException, match="not an absolute path"):
        trials.start_trial(runtime, ctx, PROJECT, "1", "relative/folder", "")
    with pytest.raises(ValidationException, match="Give the images to check"):
        trials.start_trial(runtime, ctx, PROJECT, "1", "  ", "")
    with pytest.raises(ValidationException, match="use a folder on the server or an s3:// prefix"):
        trials.start_trial(runtime, ctx, PROJECT, "1", "http://example.com/images", "")
    empty = live.local_root / "empty"
    empty.mkdir()
    with pytest.raises(ValidationException, match="holds no PNG or JPEG images"):
        trials.start_trial(runtime, ctx, PROJECT, "1", str(empty), "")
    with pytest.raises(ValidationException, match="at most 255"):
        trials.start_trial(runtime, ctx, PROJECT, "1", str(folder), "x" * 256)

    with pytest.raises(ResourceNotFoundException, match="has no trial detection 424242"):
        trials.describe_trial(runtime, ctx, PROJECT, 424242)
    with pytest.raises(ResourceNotFoundException, match="has no trial detection 424242"):
        trials.add_verified(runtime, ctx, PROJECT, 424242, "train")
    trial_id = trials.start_trial(runtime, ctx, PROJECT, "1", str(folder), "")
    wait_trial(live, trial_id)
    with pytest.raises(ResourceNotFoundException, match="has no test dataset"):
        trials.add_verified(runtime, ctx, PROJECT, trial_id, "test")
    with pytest.raises(ValidationException, match="must be train or test"):
        trials.add_verified(runtime, ctx, PROJECT, trial_id, "validation")
    with pytest.raises(ValidationException, match="No verified images are waiting"):
        trials.add_verified(runtime, ctx, PROJECT, trial_id, "train")


def test_a_trial_always_ends_in_a_final_state(trained: tuple[LiveServer, Any, Any]) -> None:
    live, _, _ = trained
    runtime = live.runtime
    with runtime.db.begin() as conn:
        from openlookout.store.projects import get_project

        project = get_project(conn, ctx_of(live).account_id, ctx_of(live).region, PROJECT)
        assert project is not None
        orphan = trial_store.insert_trial(
            conn,
            project_id=project.id,
            name="gone model",
            model_version=99,
            source_uri="file:///nowhere",
            source_refs=["file:///nowhere/a.png"],
            status="RUNNING",
            now=time.time(),
        )
        interrupted = trial_store.insert_trial(
            conn,
            project_id=project.id,
            name="interrupted",
            model_version=1,
            source_uri="file:///nowhere",
            source_refs=["file:///nowhere/b.png"],
            status="RUNNING",
            now=time.time(),
        )
    trial_detection.run_trial(runtime, {"trial_id": orphan})
    with runtime.db.begin() as conn:
        gone = trial_store.get_trial(conn, orphan)
    assert gone is not None and gone.status == "FAILED"
    assert gone.status_message == "The trial could not run: model version 99 no longer exists."

    trial_detection.on_trial_failure(
        runtime, {"trial_id": interrupted}, "interrupted by a server stop 3 times"
    )
    with runtime.db.begin() as conn:
        stopped = trial_store.get_trial(conn, interrupted)
    assert stopped is not None and stopped.status == "FAILED"
    assert stopped.status_message == trial_detection.INTERRUPTED
    # the job of an ended trial does nothing
    trial_detection.run_trial(runtime, {"trial_id": interrupted})
    with runtime.db.begin() as conn:
        unchanged = trial_store.get_trial(conn, interrupted)
    assert unchanged is not None and unchanged.counts.checked == 0


def test_segmentation_trial_keeps_predicted_masks_and_adds_confirmed_ones(make_server: Any, s3: Any) -> None:
    import io

    import httpx
    from PIL import Image
    from tests.contract.test_models_support import DEFECT_COLOR, create_dataset, upload_images

    live = make_server(**FAST_TRAINING)
    lv = lookoutvision_client(live.url, retries={"total_max_attempts": 1})
    s3.create_bucket(Bucket="seg-trial-output")
    lv.create_project(ProjectName="segparts")
    lines = upload_images(s3, "seg-trial-data", "segparts", 20, 20, masks=True)
    create_dataset(lv, s3, "segparts", "train", "seg-trial-data", lines)
    lv.create_model(ProjectName="segparts", OutputConfig={"S3Location": {"Bucket": "seg-trial-output"}})
    model = wait_model(lv, "segparts", "1", {"TRAINED", "TRAINING_FAILED"})
    assert model["Status"] == "TRAINED", model.get("StatusMessage")

    runtime, ctx = live.runtime, ctx_of(live)
    folder = live.local_root / "seg-batch"
    folder.mkdir()
    (folder / "good-960.png").write_bytes(png_image(WIDTH, HEIGHT, seed=960))
    for seed in (961, 962, 963):
        (folder / f"bad-{seed}.png").write_bytes(png_image(WIDTH, HEIGHT, seed=seed, defect=True))
    trial_id = trials.start_trial(runtime, ctx, "segparts", "1", str(folder), "masks")
    deadline = time.monotonic() + 60
    while (view := trials.describe_trial(runtime, ctx, "segparts", trial_id)).trial.status == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert view.trial.status == "COMPLETED" and view.segmentation
    by_name = {image.source_ref.rsplit("/", 1)[-1]: image for image in view.images}
    normal = by_name["good-960.png"]
    assert normal.predicted == "normal"
    with_masks = [i for i in view.images if i.predicted == "anomaly" and i.mask_sha256 is not None]
    assert len(with_masks) >= 2, [(i.source_ref, i.predicted, i.mask_sha256) for i in view.images]
    for image in with_masks:
        assert image.mask_sha256 is not None
        mask = Image.open(io.BytesIO(runtime.blobs.get(image.mask_sha256))).convert("RGB")
        assert mask.size == (WIDTH, HEIGHT)
        colours = {colour for _, colour in mask.getcolors(maxcolors=WIDTH * HEIGHT) or []}
        assert colours == {(255, 255, 255), (255, 0, 0)}  # background and the 'defect' type
    shown, corrected = with_masks[0], with_masks[1]

    with httpx.Client(base_url=live.url, headers={"Accept": "text/html"}) as web:
        review = web.get(f"/projects/segparts/trials/{trial_id}")
    assert review.text.count('class="trial-mask"') == len(with_masks)
    assert f"/console/thumbs/{shown.mask_sha256}.jpg" in review.text

    trials.set_verdict(runtime, ctx, "segparts", trial_id, shown.id, "confirm")
    trials.set_verdict(runtime, ctx, "segparts", trial_id, corrected.id, "normal")  # no mask with 'normal'
    trials.set_verdict(runtime, ctx, "segparts", trial_id, normal.id, "anomaly")  # no predicted mask to use
    assert trials.add_verified(runtime, ctx, "segparts", trial_id, "train").added == 3
    entries = [
        json.loads(line)
        for line in lv.list_dataset_entries(
            ProjectName="segparts", DatasetType="train", SourceRefContains="seg-batch"
        )["DatasetEntries"]
    ]
    by_ref = {entry["source-ref"]: entry for entry in entries}
    confirmed, relabeled, marked = (
        by_ref[shown.source_ref],
        by_ref[corrected.source_ref],
        by_ref[normal.source_ref],
    )
    assert (confirmed["anomaly-label"], relabeled["anomaly-label"], marked["anomaly-label"]) == (1, 0, 1)
    assert "anomaly-mask-ref" not in relabeled and "anomaly-mask-ref" not in marked
    assert confirmed["anomaly-mask-ref"].startswith(f"upload://{shown.mask_sha256}/")
    colour_map = confirmed["anomaly-mask-ref-metadata"]["internal-color-map"]
    assert {v["class-name"]: v["hex-color"].upper() for v in colour_map.values()} == {
        "BACKGROUND": "#FFFFFF",
        "defect": DEFECT_COLOR,
    }
    stats = lv.describe_dataset(ProjectName="segparts", DatasetType="train")["DatasetDescription"][
        "ImageStats"
    ]
    assert (stats["Total"], stats["Anomaly"], stats["Normal"]) == (43, 22, 21)


def test_a_rerun_job_continues_where_the_trial_stopped(trained: tuple[LiveServer, Any, Any]) -> None:
    live, _, _ = trained
    runtime = live.runtime
    folder = live.local_root / "resume"
    write_batch(folder, normal=[970, 971], defect=[])
    refs = [(folder / "good-970.png").as_uri(), (folder / "good-971.png").as_uri()]
    with runtime.db.begin() as conn:
        from openlookout.store.projects import get_project

        project = get_project(conn, ctx_of(live).account_id, ctx_of(live).region, PROJECT)
        assert project is not None
        trial_id = trial_store.insert_trial(
            conn,
            project_id=project.id,
            name="cut short",
            model_version=1,
            source_uri=folder.as_uri(),
            source_refs=refs,
            status="RUNNING",
            now=time.time(),
        )
        done_before = trial_store.pending_images(conn, trial_id)[0]
        # as if a previous run had judged the first image before the server stopped
        trial_store.record_prediction(
            conn,
            done_before.id,
            image_sha256="0" * 64,
            is_anomalous=True,
            confidence=0.5,
            mask_sha256=None,
            now=time.time(),
        )
    trial_detection.run_trial(runtime, {"trial_id": trial_id})
    view = trials.describe_trial(runtime, ctx_of(live), PROJECT, trial_id)
    assert view.trial.status == "COMPLETED"
    assert view.trial.status_message == (
        "Checked 2 images: 1 predicted anomalous, 1 normal, 0 could not be checked."
    )
    first, second = view.images
    assert (first.image_sha256, first.confidence, first.predicted) == ("0" * 64, 0.5, "anomaly")
    assert (
        second.predicted == "normal" and second.image_sha256 is not None and second.image_sha256 != "0" * 64
    )
