"""What the model pages read about a trained model's test: per-image results and the metrics file.

Training keeps copies of its evaluation files in the blob store next to the model's ONNX export
(``<base>/EvaluationManifest.json`` and ``<base>/EvaluationResult.json``). Each manifest line gives
the test image's truth label, the predicted label and ``confidence``, the confidence in the
predicted class; the anomaly score of the image is therefore ``confidence`` when it was predicted
anomalous and ``1 - confidence`` when predicted normal (the detector's calibrated score, 0.5
being its threshold, rounded to six decimals in the manifest). The precision-recall curve uses
exactly these scores. Images are matched to the project's labeled entries by source-ref to find
their stored bytes and ground-truth masks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from openlookout.blobs.base import BlobNotFound
from openlookout.console.calls import console_context
from openlookout.service import models as model_service
from openlookout.service.context import Runtime
from openlookout.store import models as model_store
from openlookout.store.models import ModelRow, TrainingEntry


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


def load_model(runtime: Runtime, project: str, version: str) -> ModelRow:
    """The model row (ServiceError when the project or version does not exist)."""
    with runtime.db.begin() as conn:
        _, model = model_service.resolve_model(conn, console_context(runtime), project, version)
    return model


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
