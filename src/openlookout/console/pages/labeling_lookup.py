"""Finding one image of a dataset for the labeling page: its entry, its files, its neighbours.

Read from the store for display (the stored Ground Truth line is the one ListDatasetEntries
returns; the blob keys are the service's own copies of the image and mask). Neighbours follow the
gallery's order (ListDatasetEntries order: entries in the order they were first added) among the
entries that match the gallery's filters, read with the gallery's own filter clauses.
"""

from __future__ import annotations

from dataclasses import dataclass

from openlookout.console.calls import console_context
from openlookout.console.dataset_updates import apply_lines
from openlookout.console.pages.gallery import gallery_filter
from openlookout.errors import ResourceNotFoundException, ValidationException
from openlookout.imaging.manifest import ManifestEntry, ManifestError, parse_line
from openlookout.service.context import Runtime
from openlookout.service.datasets import read_dataset as require_dataset
from openlookout.service.lookups import dataset_resource_id
from openlookout.store.gallery import entry_lines, filter_clauses, neighbours, page_images
from openlookout.store.projects import get_project_by_id


@dataclass(frozen=True)
class StoredImage:
    """One image of a dataset: its Ground Truth entry and the service's copies of its files."""

    project_id: int
    dataset_id: int
    entry: ManifestEntry
    image_sha256: str
    mask_sha256: str | None
    width: int
    height: int


@dataclass(frozen=True)
class DatasetImage:
    """An image and where it sits in the (filtered) order: ``position`` 1-based, ``None`` when the
    image no longer matches the filters."""

    image: StoredImage
    position: int | None
    total: int
    previous_ref: str | None
    next_ref: str | None


def find_entry(runtime: Runtime, name: str, dataset_type: str, ref: str) -> StoredImage:
    """The image ``ref`` of the dataset (two indexed lookups); ResourceNotFoundException if absent."""
    if not ref:
        raise ValidationException("Name the image to label (the ref parameter is missing).")
    ctx = console_context(runtime)
    dataset = require_dataset(runtime, ctx, name, dataset_type)
    with runtime.db.begin() as conn:
        project = get_project_by_id(conn, dataset.project_id)
        assert project is not None
        files = page_images(conn, dataset.id, [ref]).get(ref)
        line = entry_lines(conn, dataset.id, [ref]).get(ref)
    entry = None
    if files is not None and line is not None:
        try:
            entry = parse_line(line, 1)
        except ManifestError:
            entry = None
    if files is None or entry is None:
        raise ResourceNotFoundException(
            f"The {dataset_type} dataset of project {name} has no image {ref}.",
            resource_id=dataset_resource_id(name, dataset_type),
            resource_type="DATASET",
        )
    return StoredImage(
        project_id=project.id,
        dataset_id=dataset.id,
        entry=entry,
        image_sha256=files.image_sha256,
        mask_sha256=files.mask_sha256,
        width=project.image_width or 0,
        height=project.image_height or 0,
    )


def find_image(
    runtime: Runtime, name: str, dataset_type: str, ref: str, filters: dict[str, str]
) -> DatasetImage:
    """``find_entry`` plus the previous and next images among those the gallery's ``filters`` show."""
    image = find_entry(runtime, name, dataset_type, ref)
    wanted = gallery_filter(filters)
    with runtime.db.begin() as conn:
        around = neighbours(conn, image.dataset_id, filter_clauses(conn, image.dataset_id, wanted), ref)
    if around is None:  # removed between the two reads
        raise ResourceNotFoundException(
            f"The {dataset_type} dataset of project {name} has no image {ref}.",
            resource_id=dataset_resource_id(name, dataset_type),
            resource_type="DATASET",
        )
    return DatasetImage(
        image=image,
        position=around.position,
        total=around.total,
        previous_ref=around.previous_ref,
        next_ref=around.next_ref,
    )


def apply_line(runtime: Runtime, name: str, dataset_type: str, line: str) -> None:
    """UpdateDatasetEntries with one Ground Truth line; waits for the update to end."""
    apply_lines(runtime, name, dataset_type, [line])
