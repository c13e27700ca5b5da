"""The ``trial.detect`` job: judge every pending image of a trial with the model's ONNX export.

For each pending image it reads the reference (8 MiB limit), admits it like DetectAnomalies does
(a PNG/JPEG that decodes in full, turned upright by its EXIF orientation, of the model's exact
size), runs the model in-process and builds the
result with the hosting code (``hosting.result.detect_image``), stores the image (and a
segmentation model's predicted mask) in the blob store and records the row. An image that cannot
be judged gets a precise error and the job goes on. The trial ends COMPLETED, or FAILED when the
model cannot be loaded. Rows are written one by one, so a job re-run after a server stop continues
where it stopped; if the runner gives up, ``on_trial_failure`` marks the trial FAILED.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from openlookout.hosting.pool import HostingError
from openlookout.hosting.result import detect_image
from openlookout.imaging.admission import admit_image
from openlookout.imaging.images import MAX_IMAGE_BYTES, ImageRejected
from openlookout.jobs.runner import JobRunner
from openlookout.service.context import Runtime
from openlookout.service.hosting_control import model_file
from openlookout.service.states import TrialStatus
from openlookout.service.tenancy import project_access, record_blobs
from openlookout.sources.access import SourceAccess
from openlookout.sources.reader import SourceError
from openlookout.store import models as model_store
from openlookout.store import trials as repo
from openlookout.store.models import ModelRow
from openlookout.store.trials import TrialImageRow, TrialRow

log = logging.getLogger(__name__)

TRIAL_JOB = "trial.detect"
INTERRUPTED = "trial detection was interrupted by server restarts too often; start a new trial"


def register_jobs(runner: JobRunner) -> None:
    """Register ``trial.detect`` on a ``JobRunner`` (the runtime does it at start-up)."""
    runner.register(TRIAL_JOB, run_trial, on_failure=on_trial_failure)


def trial_model(runtime: Runtime, trial: TrialRow) -> ModelRow | None:
    """The model version the trial runs (None when it was deleted)."""
    with runtime.db.begin() as conn:
        return model_store.get_model(conn, trial.project_id, trial.model_version)


def _threads(runtime: Runtime) -> int:
    """onnxruntime threads: the ``trial_threads`` setting, else up to two cores."""
    configured = runtime.settings.trial_threads
    if configured > 0:
        return configured
    return max(1, min(2, os.cpu_count() or 1))


def _finish(runtime: Runtime, trial_id: int, status: str, message: str) -> None:
    with runtime.db.begin() as conn:
        repo.set_trial_status(
            conn, trial_id, status=status, message=message, now=time.time(), expect_status=TrialStatus.RUNNING
        )


def on_trial_failure(runtime: Runtime, payload: dict[str, Any], message: str) -> None:
    """The runner gave up on the job: the trial must not stay RUNNING."""
    text = INTERRUPTED if "interrupt" in message.lower() else f"trial detection failed: {message}"
    _finish(runtime, int(payload["trial_id"]), TrialStatus.FAILED, text)


def run_trial(runtime: Runtime, payload: dict[str, Any]) -> None:
    """The ``trial.detect`` job: judge every pending image, then COMPLETED (or FAILED)."""
    trial_id = int(payload["trial_id"])
    with runtime.db.begin() as conn:
        trial = repo.get_trial(conn, trial_id)
    if trial is None or trial.status != TrialStatus.RUNNING:
        return
    try:
        _run(runtime, trial)
    except Exception as exc:  # never leave a trial RUNNING because of a bug
        log.exception("trial detection %s failed unexpectedly", trial_id)
        _finish(
            runtime,
            trial_id,
            TrialStatus.FAILED,
            f"trial detection failed unexpectedly ({type(exc).__name__}: {exc})",
        )


def _load_detector(runtime: Runtime, trial: TrialRow) -> tuple[ModelRow, Any] | str:
    """(model, OnnxDetector), or why the model cannot be used."""
    model = trial_model(runtime, trial)
    if model is None:
        return f"model version {trial.model_version} no longer exists"
    try:
        path = model_file(runtime, model)
    except HostingError as exc:
        return f"model version {model.version} cannot be used: {exc}"
    try:
        from openlookout.ml.runtime import OnnxDetector  # onnxruntime: loaded only when a trial runs

        return model, OnnxDetector(path, threads=_threads(runtime))
    except Exception as exc:
        return f"model version {model.version} cannot be loaded ({type(exc).__name__}: {exc})"


def _run(runtime: Runtime, trial: TrialRow) -> None:
    loaded = _load_detector(runtime, trial)
    if isinstance(loaded, str):
        _finish(runtime, trial.id, TrialStatus.FAILED, f"The trial could not run: {loaded}.")
        return
    model, detector = loaded
    with runtime.db.begin() as conn:
        pending = repo.pending_images(conn, trial.id)
    total = trial.counts.total
    done = total - len(pending)
    access = project_access(runtime, trial.project_id)
    for image in pending:
        _judge(runtime, model, detector, image, access)
        done += 1
        with runtime.db.begin() as conn:
            still = repo.set_trial_status(
                conn,
                trial.id,
                message=f"Checked {done} of {total} images.",
                now=time.time(),
                expect_status=TrialStatus.RUNNING,
            )
        if not still:
            return  # the trial was ended elsewhere
    with runtime.db.begin() as conn:
        counts = repo.get_trial(conn, trial.id)
    assert counts is not None
    c = counts.counts
    summary = (
        f"Checked {c.total} images: {c.anomalous} predicted anomalous, "
        f"{c.checked - c.errors - c.anomalous} normal, {c.errors} could not be checked."
    )
    _finish(runtime, trial.id, TrialStatus.COMPLETED, summary)


def _judge(
    runtime: Runtime, model: ModelRow, detector: Any, image: TrialImageRow, access: SourceAccess
) -> None:
    """Predict one image and record the outcome (the prediction, or why there is none); the trial's
    account may read the stored image and predicted mask from then on."""
    now = time.time()

    def error(reason: str, sha: str | None = None) -> None:
        with runtime.db.begin() as conn:
            record_blobs(conn, access.account_id, sha)
            repo.record_error(conn, image.id, reason, image_sha256=sha, now=now)

    try:
        data = runtime.sources.read(image.source_ref, access=access, max_bytes=MAX_IMAGE_BYTES)
    except SourceError as exc:
        error(f"cannot be read: {exc.reason}")
        return
    try:
        admitted = admit_image(data, name=image.source_ref.rsplit("/", 1)[-1])
    except ImageRejected as exc:
        error(f"cannot be used: {exc.reason}")
        return
    data, info = admitted.data, admitted.info
    sha = runtime.blobs.put(data)
    if (info.width, info.height) != (model.image_width, model.image_height):
        error(
            f"the image is {info.width}x{info.height} pixels; model version {model.version} was trained on "
            f"{model.image_width}x{model.image_height} images and needs that exact size",
            sha,
        )
        return
    try:
        result = detect_image(detector, data, info.width, info.height, dict(model.colors or {}), False)
    except Exception as exc:
        error(f"the model could not judge it ({type(exc).__name__}: {exc})", sha)
        return
    mask_sha = None
    if result.get("AnomalyMask") is not None and len(result.get("Anomalies", [])) > 1:
        mask_sha = runtime.blobs.put(result["AnomalyMask"])
    with runtime.db.begin() as conn:
        record_blobs(conn, access.account_id, sha, mask_sha)
        repo.record_prediction(
            conn,
            image.id,
            image_sha256=sha,
            is_anomalous=bool(result["IsAnomalous"]),
            confidence=float(result["Confidence"]),
            mask_sha256=mask_sha,
            now=now,
        )
