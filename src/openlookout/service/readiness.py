"""Whether a project holds enough labeled images to train, and what is missing if not.

The minimums (counted over labeled images only; unlabeled ones never count):

- single-dataset project (train only): 20 normal and 10 anomalous images in train;
- separate datasets: 10 normal in train, 10 normal and 10 anomalous in test;
- segmentation (the train dataset's anomalous images carry masks): for every anomaly type, images
  showing exactly that one type: 20 in train (single) or 10 in each dataset (separate); and every
  anomalous image needs a mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Connection

from openlookout.service.context import RequestContext, Runtime
from openlookout.service.lookups import require_project
from openlookout.service.states import DATASET_STABLE
from openlookout.store import entries as repo

ModelKind = Literal["classification", "segmentation"]

SINGLE_MINIMUMS = {"normal": 20, "anomaly": 10}
SEPARATE_MINIMUMS = {"train": {"normal": 10, "anomaly": 0}, "test": {"normal": 10, "anomaly": 10}}
SINGLE_PER_TYPE = 20
SEPARATE_PER_TYPE = 10


@dataclass(frozen=True)
class DatasetCounts:
    normal: int
    anomaly: int
    # Anomaly type -> anomalous images whose mask shows that type and no other.
    single_type: dict[str, int]
    masked: int
    unmasked_anomalies: int
    # Every anomaly type some mask of the dataset shows.
    all_types: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Readiness:
    ready: bool
    kind: ModelKind
    missing: list[str]
    separate: bool = False
    # "train_normal", "train_anomaly", "test_normal", "test_anomaly" (test only when it exists).
    counts: dict[str, int] = field(default_factory=dict)
    # Dataset type -> anomaly type -> images showing only that type (segmentation).
    type_counts: dict[str, dict[str, int]] = field(default_factory=dict)


def training_readiness(runtime: Runtime, ctx: RequestContext, project_name: str) -> Readiness:
    """Check the project's datasets against the minimums (ResourceNotFoundException without project)."""
    with runtime.db.begin() as conn:
        project = require_project(conn, ctx, project_name)
        datasets = {d.dataset_type: d for d in repo.list_project_datasets(conn, project.id)}
        counts = {name: _dataset_counts(conn, d.id) for name, d in datasets.items()}
    missing: list[str] = []
    for dataset_type, dataset in sorted(datasets.items()):
        if dataset.status not in DATASET_STABLE:
            missing.append(f"the {dataset_type} dataset is {dataset.status}; it must finish importing first")
    train = counts.get("train")
    if train is None:
        return Readiness(False, "classification", ["the project has no train dataset", *missing])
    test = counts.get("test")
    kind: ModelKind = "segmentation" if train.masked else "classification"
    if test is None:
        _require(missing, "train", "normal", train.normal, SINGLE_MINIMUMS["normal"])
        _require(missing, "train", "anomalous", train.anomaly, SINGLE_MINIMUMS["anomaly"])
    else:
        for name, found in (("train", train), ("test", test)):
            minimums = SEPARATE_MINIMUMS[name]
            _require(missing, name, "normal", found.normal, minimums["normal"])
            _require(missing, name, "anomalous", found.anomaly, minimums["anomaly"])
    if kind == "segmentation":
        _segmentation_needs(missing, train, test)
    summary = {"train_normal": train.normal, "train_anomaly": train.anomaly}
    type_counts = {"train": dict(train.single_type)}
    if test is not None:
        summary.update(test_normal=test.normal, test_anomaly=test.anomaly)
        type_counts["test"] = dict(test.single_type)
    return Readiness(
        ready=not missing,
        kind=kind,
        missing=missing,
        separate=test is not None,
        counts=summary,
        type_counts=type_counts if kind == "segmentation" else {},
    )


def _dataset_counts(conn: Connection, dataset_id: int) -> DatasetCounts:
    stats = repo.image_stats(conn, dataset_id)
    masks, unmasked = repo.anomaly_mask_types(conn, dataset_id)
    single: dict[str, int] = {}
    seen: set[str] = set()
    for types in masks:
        seen.update(types)
        if len(types) == 1:
            single[types[0]] = single.get(types[0], 0) + 1
    return DatasetCounts(stats.normal, stats.anomaly, single, len(masks), unmasked, frozenset(seen))


def _require(missing: list[str], dataset: str, what: str, has: int, needs: int) -> None:
    if has < needs:
        missing.append(
            f"{dataset} dataset needs {needs - has} more {what} image{'s' if needs - has != 1 else ''} "
            f"(has {has} of {needs})"
        )


def _segmentation_needs(missing: list[str], train: DatasetCounts, test: DatasetCounts | None) -> None:
    # Types that only ever appear together with others still need their own single-type images.
    names = set(train.all_types) | (set(test.all_types) if test is not None else set())
    datasets = [("train", train)] if test is None else [("train", train), ("test", test)]
    per_type = SINGLE_PER_TYPE if test is None else SEPARATE_PER_TYPE
    for name, counts in datasets:
        if counts.unmasked_anomalies:
            missing.append(
                f"{name} dataset has {counts.unmasked_anomalies} anomalous image"
                f"{'s' if counts.unmasked_anomalies != 1 else ''} without a mask; in a segmentation "
                "project every anomalous image needs one"
            )
        for anomaly_type in sorted(names):
            _require(
                missing, name, f"'{anomaly_type}'-only", counts.single_type.get(anomaly_type, 0), per_type
            )
