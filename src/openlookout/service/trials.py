"""Trial detection: run a trained model over new images, review its predictions, add them to a dataset.

- ``start_trial`` checks the model (it must have been trained: an ONNX export exists) and lists
  the images of a local folder (under the allowed roots) or an ``s3://`` prefix, records a RUNNING
  trial with one pending row per image and submits the ``trial.detect`` job in the same transaction.
- The job (``service.trial_detection``) judges each pending image with the model's ONNX export;
  the trial ends COMPLETED, or FAILED when the model cannot be loaded.
- ``set_verdict`` records the reviewer's label (``normal``, ``anomaly``, or ``confirm`` = the
  prediction). ``add_verified`` sends one Ground Truth line per verified, not yet added image
  through UpdateDatasetEntries (the operation's own handler), waits for it and marks the images
  added. Images whose reference or content the project already holds are reported, not sent.
  **Decision:** a segmentation model's predicted mask goes with an image whose verdict is
  ``anomaly`` when the model also predicted an anomaly (the reviewer agreed with what was shown).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from openlookout.errors import (
    ConflictException,
    InternalServerException,
    ResourceNotFoundException,
    ValidationException,
)
from openlookout.hosting.result import BACKGROUND_COLOR
from openlookout.imaging.manifest import Label, new_entry, render_entry
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.datasets import read_dataset, update_dataset_entries, wait_until_updated
from openlookout.service.lookups import require_project, resolve_model
from openlookout.service.models import state_conflict
from openlookout.service.states import MODEL_TRAINED, DatasetStatus, TrialStatus
from openlookout.service.storage import require_room
from openlookout.service.tenancy import require_s3, source_access
from openlookout.service.trial_detection import TRIAL_JOB, trial_model
from openlookout.sources.reader import SourceError, split_s3_uri, upload_ref
from openlookout.store import entries as entry_store
from openlookout.store import models as model_store
from openlookout.store import trials as repo
from openlookout.store.models import ModelRow

# The rows a trial's readers get (the web console shows them as they are).
from openlookout.store.trials import TrialCounts as TrialCounts
from openlookout.store.trials import TrialImageRow, TrialRow

log = logging.getLogger(__name__)

MAX_TRIAL_IMAGES = 10_000
MAX_NAME_CHARS = 255
DEFAULT_PAGE = 100
MAX_PAGE = 500
ADD_WAIT_SECONDS = 300.0
VERDICTS = ("normal", "anomaly", "confirm")
DATASET_TYPES = ("train", "test")
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f]")
RESOURCE_TYPE = "TRIAL"


@dataclass(frozen=True)
class TrialPage:
    """A trial with one page of its images; ``matching`` counts the images the filter keeps."""

    trial: TrialRow
    images: list[TrialImageRow]
    offset: int
    matching: int
    segmentation: bool


@dataclass(frozen=True)
class AddedImages:
    """What ``add_verified`` did: how many images it added, and why it left others out."""

    added: int
    dataset_type: str
    skipped: list[str] = field(default_factory=list)


# --- lookups --------------------------------------------------------------------------------


def _resource_id(project_name: str, trial_id: int) -> str:
    return f"{project_name}/trials/{trial_id}"


def _require_trial(runtime: Runtime, ctx: RequestContext, project_name: str, trial_id: int) -> TrialRow:
    with runtime.db.begin() as conn:
        project = require_project(conn, ctx, project_name)
        trial = repo.get_trial(conn, int(trial_id), project.id)
    if trial is None:
        raise ResourceNotFoundException(
            f"Project '{project_name}' has no trial detection {trial_id}.",
            resource_id=_resource_id(project_name, trial_id),
            resource_type=RESOURCE_TYPE,
        )
    return trial


# --- starting -------------------------------------------------------------------------------


def _trial_name(name: str, existing: int) -> str:
    text = (name or "").strip()
    if not text:
        return f"Trial {existing + 1}"
    if len(text) > MAX_NAME_CHARS:
        raise ValidationException(
            f"The trial name is {len(text)} characters; at most {MAX_NAME_CHARS} are allowed."
        )
    if _BAD_NAME.search(text):
        raise ValidationException("The trial name must not contain control characters.")
    return text


def _source_location(source_uri: str) -> str:
    text = (source_uri or "").strip()
    if not text:
        raise ValidationException("Give the images to check: a folder on the server or an s3:// prefix.")
    if text.startswith(("s3://", "file://")):
        return text
    if "://" in text:
        raise ValidationException(
            f"Cannot read images from {text}: use a folder on the server or an s3:// prefix."
        )
    if not text.startswith("/"):
        raise ValidationException(
            f"The folder {text} is not an absolute path; give the full path on the server."
        )
    return Path(text).as_uri()


def _require_trained(project_name: str, model: ModelRow) -> None:
    if model.status not in MODEL_TRAINED:
        raise state_conflict(project_name, model, "used for trial detection (it must be trained first)")
    if not model.onnx_blob:
        raise ConflictException(
            f"Model version {model.version} of project '{project_name}' has no exported network; "
            "train it again.",
            resource_id=model.arn,
            resource_type="MODEL",
        )


def start_trial(
    runtime: Runtime,
    ctx: RequestContext,
    project_name: str,
    model_version: str | int,
    source_uri: str,
    name: str = "",
) -> int:
    """Start a trial detection of model ``model_version`` over ``source_uri``; the trial's id."""
    with runtime.db.begin() as conn:
        project, model = resolve_model(conn, ctx, project_name, str(model_version).strip())
        existing = len(repo.project_trials(conn, project.id))
    _require_trained(project_name, model)
    trial_name = _trial_name(name, existing)
    location = _source_location(source_uri)
    if location.startswith("s3://"):
        bucket, prefix = split_s3_uri(location)
        require_s3(runtime, ctx, bucket, prefix)
    try:
        access = source_access(runtime, ctx.account_id)
        found = runtime.sources.list_images(location, access=access, limit=MAX_TRIAL_IMAGES)
    except SourceError as exc:
        raise ValidationException(f"Cannot list the images to check: {exc.reason}.") from None
    if not found:
        raise ValidationException(f"{location} holds no PNG or JPEG images (.png, .jpg or .jpeg files).")
    require_room(runtime)
    now = time.time()
    with runtime.db.begin() as conn:
        trial_id = repo.insert_trial(
            conn,
            project_id=project.id,
            name=trial_name,
            model_version=model.version,
            source_uri=location,
            source_refs=[image.uri for image in found],
            status=TrialStatus.RUNNING,
            now=now,
        )
        runtime.jobs.submit(TRIAL_JOB, {"trial_id": trial_id}, conn=conn)
    return trial_id


# --- the job --------------------------------------------------------------------------------


# --- reading --------------------------------------------------------------------------------


def list_trials(runtime: Runtime, ctx: RequestContext, project_name: str) -> list[TrialRow]:
    """The project's trials, newest first, with their counts."""
    with runtime.db.begin() as conn:
        project = require_project(conn, ctx, project_name)
        return repo.project_trials(conn, project.id)


def describe_trial(
    runtime: Runtime,
    ctx: RequestContext,
    project_name: str,
    trial_id: int,
    *,
    offset: int = 0,
    limit: int = DEFAULT_PAGE,
    unreviewed_only: bool = False,
    anomalous_first: bool = False,
) -> TrialPage:
    """The trial and one page of its images (``offset``/``limit``, optionally filtered and ordered)."""
    if offset < 0:
        raise ValidationException("The page offset must be 0 or more.")
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationException(f"The page size must be between 1 and {MAX_PAGE}.")
    trial = _require_trial(runtime, ctx, project_name, trial_id)
    with runtime.db.begin() as conn:
        images = repo.page_images(
            conn,
            trial.id,
            offset=offset,
            limit=limit,
            unreviewed_only=unreviewed_only,
            anomalous_first=anomalous_first,
        )
        matching = repo.count_images(conn, trial.id, unreviewed_only=unreviewed_only)
        model = model_store.get_model(conn, trial.project_id, trial.model_version)
    segmentation = model is not None and model.kind == "segmentation"
    return TrialPage(trial, images, offset, matching, segmentation)


# --- reviewing ------------------------------------------------------------------------------


def set_verdict(
    runtime: Runtime, ctx: RequestContext, project_name: str, trial_id: int, image_id: int, verdict: str
) -> TrialImageRow:
    """Record the reviewer's label of one image: ``normal``, ``anomaly`` or ``confirm`` (= the prediction)."""
    if verdict not in VERDICTS:
        raise ValidationException(f"The verdict must be one of {', '.join(VERDICTS)}, not '{verdict[:20]}'.")
    trial = _require_trial(runtime, ctx, project_name, trial_id)
    with runtime.db.begin() as conn:
        image = repo.get_image(conn, trial.id, int(image_id))
        if image is None:
            raise ResourceNotFoundException(
                f"Trial detection {trial.id} of project '{project_name}' has no image {image_id}.",
                resource_id=f"{_resource_id(project_name, trial.id)}/images/{image_id}",
                resource_type=RESOURCE_TYPE,
            )
        where = image.source_ref
        if image.error is not None:
            raise ValidationException(f"{where} could not be checked ({image.error}); it cannot be verified.")
        if image.predicted is None:
            raise ConflictException(
                f"{where} has not been checked by the model yet; wait for the trial to reach it.",
                resource_id=_resource_id(project_name, trial.id),
                resource_type=RESOURCE_TYPE,
            )
        if image.added_to is not None:
            raise ConflictException(
                f"{where} was already added to the {image.added_to} dataset; relabel it in the gallery.",
                resource_id=_resource_id(project_name, trial.id),
                resource_type=RESOURCE_TYPE,
            )
        label = image.predicted if verdict == "confirm" else verdict
        repo.set_verdict(conn, image.id, label, now=time.time())
        updated = repo.get_image(conn, trial.id, image.id)
    assert updated is not None
    return updated


# --- adding to a dataset --------------------------------------------------------------------


def _mask_colors(model: ModelRow | None) -> dict[str, str] | None:
    """The colour map (``#RRGGBB`` -> class, background first) of the model's predicted masks."""
    if model is None or not model.colors:
        return None
    return {BACKGROUND_COLOR: "BACKGROUND", **{c.upper(): name for name, c in model.colors.items()}}


def _entry_line(trial: TrialRow, image: TrialImageRow, colors: dict[str, str] | None) -> str:
    label = cast(Label, image.verdict)
    job_name = f"openlookout/trial-detection/{trial.id}"
    if label == "anomaly" and image.is_anomalous and image.mask_sha256 and colors:
        mask_ref = upload_ref(image.mask_sha256, f"trial-{trial.id}-image-{image.id}-mask.png")
        entry = new_entry(image.source_ref, label, mask_ref=mask_ref, colors=colors, job_name=job_name)
    else:
        entry = new_entry(image.source_ref, label, job_name=job_name)
    return render_entry(entry)


def _already_held(
    runtime: Runtime, trial: TrialRow, dataset_type: str, images: list[TrialImageRow]
) -> tuple[list[TrialImageRow], list[str]]:
    """(images to send, reasons for the ones the project already holds)."""
    with runtime.db.begin() as conn:
        existing = entry_store.project_entries(conn, trial.project_id)
    refs = {e.source_ref for e in existing if e.dataset_type == dataset_type}
    contents = {e.image_sha256: f"{e.source_ref} in the {e.dataset_type} dataset" for e in existing}
    send: list[TrialImageRow] = []
    skipped: list[str] = []
    for image in images:
        if image.source_ref in refs:
            skipped.append(f"{image.source_ref} is already in the {dataset_type} dataset")
        elif image.image_sha256 in contents:
            skipped.append(f"{image.source_ref} has the same content as {contents[image.image_sha256]}")
        else:
            send.append(image)
            if image.image_sha256:
                contents[image.image_sha256] = f"{image.source_ref} of this trial"
    return send, skipped


def add_verified(
    runtime: Runtime, ctx: RequestContext, project_name: str, trial_id: int, dataset_type: str
) -> AddedImages:
    """Add the trial's verified, not yet added images to a dataset with their verdicts as labels."""
    if dataset_type not in DATASET_TYPES:
        raise ValidationException(f"The dataset type must be train or test, not '{dataset_type[:20]}'.")
    trial = _require_trial(runtime, ctx, project_name, trial_id)
    read_dataset(runtime, ctx, project_name, dataset_type)
    with runtime.db.begin() as conn:
        candidates = repo.images_to_add(conn, trial.id)
    if not candidates:
        raise ValidationException(
            "No verified images are waiting to be added; confirm or correct predictions first."
        )
    send, skipped = _already_held(runtime, trial, dataset_type, candidates)
    if not send:
        return AddedImages(0, dataset_type, skipped)
    colors = _mask_colors(trial_model(runtime, trial))
    changes = "\n".join(_entry_line(trial, image, colors) for image in send)
    target = {"ProjectName": project_name, "DatasetType": dataset_type}
    update_dataset_entries(runtime, ctx, {**target, "Changes": changes.encode("utf-8")})
    _wait_for_update(runtime, ctx, project_name, dataset_type)
    with runtime.db.begin() as conn:
        repo.mark_added(conn, [image.id for image in send], dataset_type, now=time.time())
    return AddedImages(len(send), dataset_type, skipped)


def _wait_for_update(runtime: Runtime, ctx: RequestContext, project_name: str, dataset_type: str) -> None:
    dataset = wait_until_updated(runtime, ctx, project_name, dataset_type, ADD_WAIT_SECONDS)
    if dataset is None:
        raise InternalServerException(
            f"The {dataset_type} dataset is still being updated; look at it again in a moment."
        )
    if dataset.status == DatasetStatus.ROLLBACK_COMPLETE:
        reason = dataset.status_message or "the update failed"
        raise ValidationException(f"The {dataset_type} dataset refused the images: {reason}.")
