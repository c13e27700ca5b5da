"""The ``model.train`` job: dataset -> fitted detector -> evaluation -> TRAINED or TRAINING_FAILED.

Steps: read the project's labeled entries (unlabeled ones never count); split (the test dataset
when there is one, else a stratified 80/20 split with a fixed seed, recorded on the model);
decode images (and, for segmentation, masks with each entry's own colour map, mapped onto the
project's anomaly types); fit ``AnomalyDetector`` with the configured preset; score the test
images; write ``EvaluationManifest-<project>-<version>.json`` and
``EvaluationResult-<project>-<version>.json`` under the OutputConfig location (S3 through the
configured endpoint; copies in the blob store too); keep the detector and its ONNX export as
named blobs.

Where it runs: the job reads the model, its project and its labeled entries from the database
(``TrainingPlan``) and hands a ``Training`` (the plan, picklable) to the engine
(``runtime.engine.run_training``): the local engine runs it in the job worker's thread on the
server's own blob store, the Ray engine as a Ray actor on a cluster node that opens the same
(shared) blob store and S3 endpoint itself. Either way the training reads images and masks from
the blob store, writes its artefacts there and its evaluation files to S3, reports its progress
sentences (recorded as the StatusMessage by the server) and returns the outcome the server
records.

Every expected problem ends in TRAINING_FAILED with a message saying what to fix. A job
interrupted by a server stop is re-run from the start by the job runner (training is
deterministic for a given dataset; the Ray engine re-attaches to the training still running on
the cluster instead); after the runner gives up, ``on_train_failure`` marks the model
TRAINING_FAILED, so no model stays TRAINING.

Settings (typed fields of ``Settings``): ``training_preset`` (one of ``openlookout.ml.PRESETS``;
empty means the detector's own default), ``training_image_size`` (working long side, multiple of
32; 0 means the detector's default), ``training_threads`` (0 means up to four cores).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from openlookout.engine.base import EngineStopped, Progress, Storage
from openlookout.hosting.result import detect_result
from openlookout.imaging.images import ImageRejected, decode_rgb
from openlookout.imaging.manifest import ManifestError, parse_line
from openlookout.imaging.masks import decode_mask
from openlookout.jobs.runner import JobInterrupted, JobRunner
from openlookout.service import models as model_service
from openlookout.service.context import Runtime
from openlookout.service.result_overlays import type_mask_png
from openlookout.store import entries as entry_store
from openlookout.store import models as repo
from openlookout.store.models import ModelRow, TrainingEntry

log = logging.getLogger(__name__)

TEST_FRACTION = 0.2
SPLIT_SEED = 20201120
MIN_SPLIT_TEST = {"normal": 2, "anomaly": 2}
INTERRUPTED = "training was interrupted by a server restart; start a new model version"


class TrainingFailed(Exception):
    """Training cannot go on; the message is what the user reads in StatusMessage."""


@dataclass
class _Sample:
    entry: TrainingEntry
    image: np.ndarray
    mask: np.ndarray | None
    # (width, height) of the stored image; ``image``/``mask`` are kept at the working size only.
    size: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class TrainingPlan:
    """Everything a training needs from the database, read by the server before it starts."""

    model: ModelRow
    project_name: str
    entries: tuple[TrainingEntry, ...]
    # the project's anomaly types: name -> colour
    labels: dict[str, str] = field(default_factory=dict)
    preset: str = ""
    image_size: int = 0
    threads: int = 0


@dataclass(frozen=True)
class Training:
    """The engine's unit of work (``engine.base.TrainingWork``): train ``plan`` on ``storage``.

    Returns the model's new columns, or ``{"failed": message}`` for an expected failure; anything
    else it raises is a bug the server reports as such."""

    plan: TrainingPlan

    def __call__(self, storage: Storage, progress: Progress, cpus: int) -> dict[str, Any]:
        try:
            return _train(self.plan, storage, progress, cpus)
        except TrainingFailed as exc:
            return {"failed": str(exc)}


def register_jobs(runner: JobRunner) -> None:
    """Register the training job kind on a ``JobRunner``."""
    runner.register(model_service.TRAIN_JOB, run_training, on_failure=on_train_failure)


def training_key(model_id: int) -> str:
    """The name the engine knows a model's training by (a re-run attaches to it)."""
    return f"model-{model_id}"


def on_train_failure(runtime: Runtime, payload: dict[str, Any], message: str) -> None:
    model_id = int(payload["model_id"])
    runtime.engine.cancel_training(training_key(model_id))
    _fail(
        runtime,
        model_id,
        INTERRUPTED if "interrupt" in message.lower() else f"training failed: {message}",
    )


def _fail(runtime: Runtime, model_id: int, message: str) -> None:
    with runtime.db.begin() as conn:
        repo.update_model(
            conn,
            model_id,
            expect_status=[model_service.TRAINING],
            status=model_service.TRAINING_FAILED,
            status_message=message,
            updated_at=time.time(),
        )


def _note(runtime: Runtime, model_id: int, message: str) -> None:
    with runtime.db.begin() as conn:
        repo.update_model(
            conn,
            model_id,
            expect_status=[model_service.TRAINING],
            status_message=message,
            updated_at=time.time(),
        )


def run_training(runtime: Runtime, payload: dict[str, Any]) -> None:
    model_id = int(payload["model_id"])
    with runtime.db.begin() as conn:
        model = repo.get_model_by_id(conn, model_id)
        if model is None or model.status != model_service.TRAINING:
            return
        _, _, project_name = repo.project_of_model(conn, model)
        entries = repo.labeled_entries(conn, model.project_id)
        labels = entry_store.project_labels(conn, model.project_id)
    settings = runtime.settings
    plan = TrainingPlan(
        model=model,
        project_name=project_name,
        entries=tuple(entries),
        labels=labels,
        preset=settings.training_preset,
        image_size=settings.training_image_size,
        threads=settings.training_threads,
    )
    started = time.monotonic()
    try:
        outcome = runtime.engine.run_training(
            training_key(model_id), Training(plan), lambda message: _note(runtime, model_id, message)
        )
    except EngineStopped as exc:  # the training carries on (or restarts) after this server's stop
        raise JobInterrupted(str(exc)) from None
    except Exception as exc:  # never leave the model TRAINING because of a bug
        log.exception("training of model %s failed unexpectedly", model_id)
        runtime.metrics.observe_training(runtime.engine.name, "failed", time.monotonic() - started)
        _fail(runtime, model_id, f"training failed unexpectedly ({type(exc).__name__}: {exc}); try again")
        return
    failed = "failed" in outcome
    runtime.metrics.observe_training(
        runtime.engine.name, "failed" if failed else "trained", time.monotonic() - started
    )
    if failed:
        _fail(runtime, model_id, str(outcome["failed"]))
        return
    with runtime.db.begin() as conn:
        repo.update_model(conn, model_id, expect_status=[model_service.TRAINING], **outcome)


def _train(plan: TrainingPlan, storage: Storage, progress: Progress, cpus: int) -> dict[str, Any]:
    from openlookout.ml.detector import AnomalyDetector, Validation
    from openlookout.ml.export import export_onnx
    from openlookout.ml.metrics import evaluate

    model, project_name = plan.model, plan.project_name
    progress("Checking the output location.")
    _check_output_bucket(storage, model.output_bucket)
    progress("Reading the datasets.")
    entries = list(plan.entries)
    labels = plan.labels
    anomaly_types = sorted(labels)
    colors_by_type = {name: labels[name].upper() for name in anomaly_types}
    segmentation = model.kind == "segmentation"
    train_entries, test_entries, split = split_entries(entries)
    if not train_entries or not test_entries:
        raise TrainingFailed("the datasets hold no labeled images to train and test with; label images first")
    preset = plan.preset
    image_size = plan.image_size
    options: dict[str, Any] = {"preset": preset} if preset else {}
    detector = AnomalyDetector(**options, image_size=int(image_size) if image_size else None)
    working: list[tuple[int, int]] = []
    # small defects get a larger working size: the masks of the training anomalies tell their size
    typical_defect = _typical_defect_area(storage, train_entries, anomaly_types) if segmentation else None

    def load(entry: TrainingEntry) -> _Sample:
        # Keep only the detector's working resolution in memory (the detector would resize anyway).
        sample = _load(storage, entry, anomaly_types, segmentation)
        if not working:
            height, width = sample.image.shape[:2]
            working.append(detector.working_size_for(height, width, defect_area=typical_defect))
        return _shrink(sample, working[0])

    train = [load(e) for e in train_entries]
    test = [load(e) for e in test_entries]
    sizes = {s.size for s in train + test}
    if len(sizes) != 1:
        raise TrainingFailed(
            "the images do not all have the same width and height ("
            + ", ".join(f"{w}x{h}" for w, h in sorted(sizes)[:4])
            + "); every image of a project must have one size"
        )
    width, height = sizes.pop()

    progress(f"Training on {len(train)} images; the {len(test)} test images set the threshold.")
    _limit_threads(plan.threads or cpus)
    test_masks = [s.mask for s in test] if segmentation else None
    detector.fit(
        [s.image for s in train],
        [1 if s.entry.label == "anomaly" else 0 for s in train],
        masks=[s.mask for s in train] if segmentation else None,
        anomaly_types=anomaly_types if segmentation else None,
        validation=Validation(
            [s.image for s in test], [1 if s.entry.label == "anomaly" else 0 for s in test], test_masks
        ),
        progress=progress,
    )
    progress(f"Testing on {len(test)} images.")
    # Each test image's result comes from a decision (fusion, threshold) fitted without it: the test
    # dataset helps set the threshold, and the reported metrics stay honest (docs/detector.md).
    predictions = detector.validation_predictions_
    truth = [1 if s.entry.label == "anomaly" else 0 for s in test]
    report = evaluate(
        predictions,
        truth,
        masks=test_masks,
        anomaly_types=anomaly_types if segmentation else None,
    )

    base = f"models/{model.project_id}/{model.version}-{model.id}"
    with tempfile.TemporaryDirectory(prefix="openlookout-train-") as folder:
        detector_path = Path(folder) / "detector.pt"
        detector.save(detector_path)
        onnx_path = export_onnx(detector, Path(folder) / "model.onnx")
        detector_blob = storage.blobs.put_named(f"{base}/detector.pt", detector_path.read_bytes())
        onnx_blob = storage.blobs.put_named(f"{base}/model.onnx", onnx_path.read_bytes())
    del detector_blob, onnx_blob  # put_named returns the stored name; we keep our own names

    ended = time.time()
    performance = {
        "F1Score": round(float(report.f1), 6),
        "Recall": round(float(report.recall), 6),
        "Precision": round(float(report.precision), 6),
    }
    manifest_key = f"{model.output_prefix}EvaluationManifest-{project_name}-{model.version}.json"
    result_key = f"{model.output_prefix}EvaluationResult-{project_name}-{model.version}.json"
    manifest_lines = _evaluation_manifest(
        storage, model, project_name, test, predictions, anomaly_types, colors_by_type, width, height
    )
    if segmentation:
        _store_evaluation_masks(storage, base, test, predictions, anomaly_types, colors_by_type)
    result_document = _evaluation_result(model, report, ended, len(train), len(test), segmentation)
    result_text = json.dumps(result_document, indent=2)
    storage.blobs.put_named(f"{base}/EvaluationManifest.json", manifest_lines.encode())
    storage.blobs.put_named(f"{base}/EvaluationResult.json", result_text.encode())
    _write_s3(storage, model.output_bucket, manifest_key, manifest_lines.encode())
    _write_s3(storage, model.output_bucket, result_key, result_text.encode())
    return {
        "status": model_service.TRAINED,
        "status_message": "Training completed successfully.",
        "updated_at": time.time(),
        "performance": performance,
        "evaluation_manifest_key": manifest_key,
        "evaluation_result_key": result_key,
        "evaluation_end_at": ended,
        "image_width": width,
        "image_height": height,
        "colors": colors_by_type if segmentation else {},
        "split": split,
        "detector_blob": f"{base}/detector.pt",
        "onnx_blob": f"{base}/model.onnx",
    }


def split_entries(
    entries: list[TrainingEntry],
) -> tuple[list[TrainingEntry], list[TrainingEntry], dict[str, Any]]:
    """(train, test, record): the test dataset when present, else a stratified 80/20 split of train."""
    train = [e for e in entries if e.dataset_type == "train"]
    test = [e for e in entries if e.dataset_type == "test"]
    if test:
        return train, test, {"mode": "datasets", "train": len(train), "test": len(test)}
    rng = np.random.default_rng(SPLIT_SEED)
    chosen: list[TrainingEntry] = []
    kept: list[TrainingEntry] = []
    for label in ("normal", "anomaly"):
        group = [e for e in train if e.label == label]
        order = rng.permutation(len(group))
        n_test = (
            min(len(group) - 1, max(MIN_SPLIT_TEST[label], round(len(group) * TEST_FRACTION))) if group else 0
        )
        for rank, index in enumerate(order):
            (chosen if rank < n_test else kept).append(group[int(index)])
    record = {
        "mode": "automatic",
        "seed": SPLIT_SEED,
        "test_fraction": TEST_FRACTION,
        "train": len(kept),
        "test": len(chosen),
        "test_source_refs": [e.source_ref for e in chosen],
    }
    return kept, chosen, record


def _load(storage: Storage, entry: TrainingEntry, anomaly_types: list[str], segmentation: bool) -> _Sample:
    try:
        image = decode_rgb(storage.blobs.get(entry.image_sha256), name=entry.source_ref)
    except ImageRejected as exc:
        raise TrainingFailed(f"image {entry.source_ref} cannot be used: {exc.reason}") from None
    except Exception as exc:
        raise TrainingFailed(f"image {entry.source_ref} cannot be read from storage ({exc})") from None
    mask: np.ndarray | None = None
    if segmentation and entry.mask_sha256:
        try:
            colors = parse_line(entry.entry_json, 1).colors
        except ManifestError as exc:
            raise TrainingFailed(f"entry {entry.source_ref} has an unreadable colour map: {exc}") from None
        try:
            own = decode_mask(
                storage.blobs.get(entry.mask_sha256),
                colors,
                name=f"mask of {entry.source_ref}",
                width=image.shape[1],
                height=image.shape[0],
            )
        except ImageRejected as exc:
            raise TrainingFailed(
                f"the mask of {entry.source_ref} does not match its colour map: {exc.reason}"
            ) from None
        from openlookout.imaging.masks import class_names

        lookup = np.zeros(len(class_names(colors)) + 1, dtype=np.int64)
        for k, name in enumerate(class_names(colors), start=1):
            lookup[k] = anomaly_types.index(name) + 1 if name in anomaly_types else 0
        mask = lookup[np.asarray(own, dtype=np.int64)]
    elif segmentation and entry.label == "normal":
        mask = np.zeros(image.shape[:2], dtype=np.int64)
    elif segmentation:
        raise TrainingFailed(
            f"anomalous image {entry.source_ref} has no mask; "
            "segmentation models need one per anomalous image"
        )
    return _Sample(entry, image, mask)


def _typical_defect_area(
    storage: Storage, entries: list[TrainingEntry], anomaly_types: list[str]
) -> float | None:
    """Median share of the image the training anomalies' masks cover, at full resolution."""
    from openlookout.ml.detector import defect_area

    masks = [_load(storage, e, anomaly_types, True).mask for e in entries if e.label == "anomaly"]
    return defect_area(masks)


def _shrink(sample: _Sample, working: tuple[int, int]) -> _Sample:
    from openlookout.ml.imageio import resize_image, resize_mask

    height, width = sample.image.shape[:2]
    image = resize_image(sample.image, working)
    mask = resize_mask(sample.mask, working) if sample.mask is not None else None
    return _Sample(sample.entry, image, mask, (width, height))


def _limit_threads(threads: int) -> None:
    """torch threads: ``threads`` (the setting, else the cores the engine gave), else up to four."""
    import torch

    wanted = threads or min(4, os.cpu_count() or 1)
    torch.set_num_threads(max(1, wanted))


def _now_iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _store_evaluation_masks(
    storage: Storage,
    base: str,
    test: list[_Sample],
    predictions: list[Any],
    anomaly_types: list[str],
    colors_by_type: dict[str, str],
) -> None:
    """Each test image's predicted mask at its stored size, transparent background, numbered as the
    evaluation manifest's lines: the console shows these beside the metrics they were counted in."""
    for number, (sample, prediction) in enumerate(zip(test, predictions, strict=True), start=1):
        if prediction.type_mask is None:
            continue
        width, height = sample.size if sample.size != (0, 0) else sample.image.shape[1::-1]
        png = type_mask_png(prediction.type_mask, width, height, anomaly_types, colors_by_type)
        storage.blobs.put_named(f"{base}/EvaluationMasks/{number}.png", png)


def _evaluation_manifest(
    storage: Storage,
    model: ModelRow,
    project_name: str,
    test: list[_Sample],
    predictions: list[Any],
    anomaly_types: list[str],
    colors_by_type: dict[str, str],
    width: int,
    height: int,
) -> str:
    lines: list[str] = []
    stamp = _now_iso(time.time())
    for sample, prediction in zip(test, predictions, strict=True):
        truth = sample.entry.label
        line: dict[str, Any] = {
            "source-ref": sample.entry.source_ref,
            "source-ref-metadata": {"creation-date": stamp},
            "anomaly-label": 1 if truth == "anomaly" else 0,
            "anomaly-label-metadata": {
                "class-name": truth,
                "type": "groundtruth/image-classification",
                "human-annotated": "yes",
                "creation-date": stamp,
                "job-name": "labeling-job/anomaly-detection",
            },
            "anomaly-label-detected": 1 if prediction.is_anomalous else 0,
            "anomaly-label-detected-metadata": {
                "class-name": "anomaly" if prediction.is_anomalous else "normal",
                "confidence": round(float(prediction.confidence), 6),
                "type": "groundtruth/image-classification",
                "human-annotated": "no",
                "creation-date": stamp,
                "job-name": "training-job/anomaly-detection",
                "model-arn": model.arn,
                "project-name": project_name,
                "model-version": str(model.version),
            },
        }
        if prediction.type_mask is not None:
            built = detect_result(
                is_anomalous=prediction.is_anomalous,
                confidence=prediction.confidence,
                type_mask=prediction.type_mask,
                width=width,
                height=height,
                anomaly_types=anomaly_types,
                colors=colors_by_type,
            )
            key = f"{model.output_prefix}EvaluationMasks-{project_name}-{model.version}/{len(lines) + 1}.png"
            _write_s3(storage, model.output_bucket, key, built["AnomalyMask"], content_type="image/png")
            line["anomaly-mask-ref-detected"] = f"s3://{model.output_bucket}/{key}"
            line["anomaly-mask-ref-detected-metadata"] = {
                "internal-color-map": {
                    "0": {"class-name": "BACKGROUND", "hex-color": "#FFFFFF", "confidence": 0.0},
                    **{
                        str(k): {"class-name": t, "hex-color": colors_by_type[t], "confidence": 0.0}
                        for k, t in enumerate(anomaly_types, start=1)
                    },
                },
                "type": "groundtruth/semantic-segmentation",
                "human-annotated": "no",
                "creation-date": stamp,
                "job-name": "training-job/anomaly-detection",
            }
        lines.append(json.dumps(line, separators=(",", ":")))
    return "\n".join(lines) + "\n"


def _evaluation_result(
    model: ModelRow, report: Any, ended: float, n_train: int, n_test: int, segmentation: bool
) -> dict[str, Any]:
    metrics: dict[str, Any] = {
        "ROCAUC": float(report.image_auroc),
        "AveragePrecision": float(report.average_precision),
        "Precision": float(report.precision),
        "Recall": float(report.recall),
        "F1Score": float(report.f1),
    }
    if segmentation:
        metrics["PixelAnomalyClassMetrics"] = [
            {
                "Precision": float(label.precision),
                "Recall": float(label.recall),
                "F1Score": float(label.f1),
                "AIOU": float(label.mean_iou),
                "ClassName": label.label,
            }
            for label in report.labels
        ]
    return {
        "Version": 1,
        "EvaluationDetails": {
            "ModelArn": model.arn,
            "EvaluationEndTimestamp": _now_iso(ended),
            "NumberOfTrainingImages": n_train,
            "NumberOfTestingImages": n_test,
        },
        "AggregatedEvaluationResults": {"Metrics": metrics},
    }


def _write_s3(
    storage: Storage, bucket: str, key: str, data: bytes, *, content_type: str = "application/json"
) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        storage.s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise TrainingFailed(
            f"the evaluation results cannot be written to s3://{bucket}/{key} ({code}); "
            "check that the output bucket exists and can be written"
        ) from None
    except BotoCoreError as exc:
        raise TrainingFailed(
            f"the evaluation results cannot be written to s3://{bucket}/{key} ({exc})"
        ) from None


def _check_output_bucket(storage: Storage, bucket: str) -> None:
    """Fail before training when the output bucket cannot be reached (it is written at the end)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        storage.s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise TrainingFailed(
            f"the output bucket {bucket} cannot be used ({code}); create it or choose another OutputConfig"
        ) from None
    except BotoCoreError as exc:
        raise TrainingFailed(f"the output bucket {bucket} cannot be reached ({exc})") from None
