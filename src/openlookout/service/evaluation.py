"""A trained model's test, read back: per-image results, the metrics document and each result's pictures.

Training keeps copies of its evaluation files in the blob store next to the model's ONNX export
(``<base>/EvaluationManifest.json`` and ``<base>/EvaluationResult.json``). Each manifest line gives
the test image's truth label, the predicted label and ``confidence``, the confidence in the
predicted class; the anomaly score of the image is therefore ``confidence`` when it was predicted
anomalous and ``1 - confidence`` when predicted normal (the detector's calibrated score, 0.5
being its threshold, rounded to six decimals in the manifest). The precision-recall curve uses
exactly these scores. Images are matched to the project's labeled entries by source-ref to find
their stored bytes and ground-truth masks; ``result_picture`` serves a result's image, its
predicted heatmap or mask and its ground-truth mask (see ``result_overlays``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from openlookout.blobs.base import BlobNotFound
from openlookout.service import result_overlays
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.lookups import resolve_model
from openlookout.store import models as model_store
from openlookout.store.models import ModelRow, TrainingEntry

PICTURES = ("image", "heatmap.png", "predicted-mask.png", "truth-mask.png")


class NoSuchResult(LookupError):
    """The model has no test results, or none with that number, or the image is gone."""


@dataclass(frozen=True)
class ImageResult:
    """One test image: the truth, the model's answer, and where its bytes and mask are."""

    number: int
    source_ref: str
    truth: str
    predicted: str
    confidence: float
    entry: TrainingEntry | None

    @property
    def score(self) -> float:
        """The calibrated anomaly score (0.5 is the model's threshold)."""
        return self.confidence if self.predicted == "anomaly" else 1.0 - self.confidence

    @property
    def correct(self) -> bool:
        return self.truth == self.predicted


@dataclass(frozen=True)
class Evaluation:
    """A trained model's test results and its evaluation metrics document."""

    results: list[ImageResult]
    metrics: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelResult:
    """One test image of a model with how many the test holds and whether the model segments."""

    result: ImageResult
    total: int
    segmentation: bool


def load_model(runtime: Runtime, ctx: RequestContext, project: str, version: str) -> ModelRow:
    """The model row (ServiceError when the project or version does not exist)."""
    with runtime.db.begin() as conn:
        _, model = resolve_model(conn, ctx, project, version)
    return model


def model_evaluation(runtime: Runtime, ctx: RequestContext, project: str, version: str) -> Evaluation | None:
    """The evaluation of model ``version``; None until training stored one."""
    return load_evaluation(runtime, load_model(runtime, ctx, project, version))


def model_result(
    runtime: Runtime, ctx: RequestContext, project: str, version: str, number: str
) -> tuple[ModelRow, ModelResult]:
    """Test image ``number`` (from 1) of model ``version``; NoSuchResult when there is none."""
    model = load_model(runtime, ctx, project, version)
    found = load_result(runtime, model, int(number) if number.isdigit() and len(number) < 10 else 0)
    if found is None:
        raise NoSuchResult(f"model version {version} has no test results")
    result, total = found
    if result is None:
        raise NoSuchResult(f"model version {version} has no test image number {number[:12]}")
    return model, ModelResult(result, total, model.kind == "segmentation")


def result_picture(
    runtime: Runtime, ctx: RequestContext, project: str, version: str, number: str, picture: str
) -> tuple[bytes, str] | None:
    """One of ``PICTURES`` of test image ``number`` and its media type; None when the model or the
    image has no such mask. NoSuchResult (a LookupError) when the result or its image is missing."""
    if picture not in PICTURES:
        raise NoSuchResult("No such picture.")
    model, found = model_result(runtime, ctx, project, version, number)
    entry = found.result.entry
    if entry is None:
        raise NoSuchResult(f"the image {found.result.source_ref} is no longer in the project's datasets")
    try:
        return _picture(runtime, model, entry, picture, found.result.number)
    except BlobNotFound as exc:
        raise NoSuchResult(f"a stored file of {found.result.source_ref} is missing ({exc})") from None


def _picture(
    runtime: Runtime, model: ModelRow, entry: TrainingEntry, picture: str, number: int
) -> tuple[bytes, str] | None:
    if picture == "image":
        data = runtime.blobs.get(entry.image_sha256)
        return data, "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    if picture == "heatmap.png":
        return result_overlays.heatmap_overlay(runtime.blobs, model, entry.image_sha256), "image/png"
    if picture == "predicted-mask.png":
        evaluated = _evaluation_mask(runtime, model, number)
        drawn = (
            evaluated
            if evaluated is not None
            else result_overlays.predicted_mask_overlay(runtime.blobs, model, entry.image_sha256)
        )
    else:
        drawn = result_overlays.truth_mask_overlay(runtime.blobs, entry)
    return (drawn, "image/png") if drawn is not None else None


def _evaluation_mask(runtime: Runtime, model: ModelRow, number: int) -> bytes | None:
    """The mask training predicted for test image ``number`` (counted in the metrics); None when
    training stored none (a classification model, or one trained before masks were stored)."""
    base = evaluation_blob_base(model)
    if base is None or model.kind != "segmentation":
        return None
    try:
        return runtime.blobs.get_named(f"{base}/EvaluationMasks/{number}.png")
    except BlobNotFound:
        return None


def evaluation_blob_base(model: ModelRow) -> str | None:
    """The named-blob folder training wrote the model's files to (None before training ends)."""
    if not model.onnx_blob or "/" not in model.onnx_blob:
        return None
    return model.onnx_blob.rsplit("/", 1)[0]


def _evaluation_files(runtime: Runtime, model: ModelRow) -> tuple[list[str], dict[str, Any]] | None:
    """The manifest's non-empty lines and the parsed metrics document; None when training stored none."""
    base = evaluation_blob_base(model)
    if base is None:
        return None
    try:
        manifest = runtime.blobs.get_named(f"{base}/EvaluationManifest.json").decode("utf-8")
        document = json.loads(runtime.blobs.get_named(f"{base}/EvaluationResult.json"))
    except BlobNotFound:
        return None
    return [t for t in manifest.splitlines() if t.strip()], document


def _image_result(number: int, text: str, entries: dict[str, TrainingEntry]) -> ImageResult:
    line = json.loads(text)
    source_ref = str(line["source-ref"])
    detected = line.get("anomaly-label-detected-metadata", {})
    return ImageResult(
        number=number,
        source_ref=source_ref,
        truth="anomaly" if line.get("anomaly-label") == 1 else "normal",
        predicted="anomaly" if line.get("anomaly-label-detected") == 1 else "normal",
        confidence=float(detected.get("confidence", 0.0)),
        entry=entries.get(source_ref),
    )


def load_evaluation(runtime: Runtime, model: ModelRow) -> Evaluation | None:
    """The evaluation of a trained model; None when training stored none."""
    files = _evaluation_files(runtime, model)
    if files is None:
        return None
    lines, document = files
    with runtime.db.begin() as conn:
        entries = {e.source_ref: e for e in model_store.labeled_entries(conn, model.project_id)}
    return Evaluation(
        results=[_image_result(n, text, entries) for n, text in enumerate(lines, start=1)],
        metrics=dict(document.get("AggregatedEvaluationResults", {}).get("Metrics", {})),
        details=dict(document.get("EvaluationDetails", {})),
    )


def load_result(runtime: Runtime, model: ModelRow, number: int) -> tuple[ImageResult | None, int] | None:
    """Test image ``number`` (from 1, None if out of range) and how many there are; None without results.

    Reads the one entry it needs, not every labeled entry of the project as ``load_evaluation``.
    """
    files = _evaluation_files(runtime, model)
    if files is None:
        return None
    if not 1 <= number <= len(files[0]):
        return None, len(files[0])
    text = files[0][number - 1]
    source_ref = str(json.loads(text)["source-ref"])
    with runtime.db.begin() as conn:
        found = model_store.labeled_entries(conn, model.project_id, source_ref=source_ref)
    return _image_result(number, text, {e.source_ref: e for e in found}), len(files[0])


def short_name(source_ref: str) -> str:
    """The last path part of a source-ref (what a person recognises)."""
    return source_ref.rstrip("/").rsplit("/", 1)[-1] or source_ref
