"""What the web console's gallery and labeling pages read: pages of images, one image, its bytes.

Pages come from ListDatasetEntries (run with the API's own checks, its paging token and its
filters) except for the anomaly-type filter, which ListDatasetEntries does not offer: that one
pages by entry id over the same filter clauses plus the type test. Every read names the caller's
project and dataset like the API does (ResourceNotFoundException when either is missing), and the
anomaly class is checked as ListDatasetEntries checks it. One image is found by its source-ref,
with its neighbours in the gallery's order (entries in the order they were first added) among the
entries the same filters keep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openlookout.errors import ResourceNotFoundException, ValidationException
from openlookout.imaging.images import sniff_format
from openlookout.imaging.manifest import ManifestEntry, ManifestError, parse_line
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.lookups import dataset_resource_id, require_dataset
from openlookout.service.operations import run_operation
from openlookout.store import entry_queries as queries
from openlookout.store.projects import get_project_by_id

PAGE_SIZE = 60
LABELS = ("normal", "anomaly")


@dataclass(frozen=True)
class GalleryFilter:
    """The gallery's filters; ``None`` means the filter is absent."""

    labeled: bool | None = None
    anomaly_class: str | None = None
    type_name: str | None = None
    ref_contains: str | None = None

    def entry_filter(self) -> queries.EntryFilter:
        """The filter as the entry queries read it (the class checked like ListDatasetEntries)."""
        if self.anomaly_class is not None and self.anomaly_class not in LABELS:
            raise ValidationException("anomalyClass must be normal or anomaly.")
        return queries.EntryFilter(
            labeled=self.labeled,
            anomaly_class=self.anomaly_class,
            source_ref_contains=self.ref_contains,
            type_name=self.type_name,
        )


@dataclass(frozen=True)
class GalleryTile:
    """One image of a page: its label and the blob keys behind its thumbnail."""

    source_ref: str
    label: str | None
    image_sha256: str
    has_mask: bool


@dataclass(frozen=True)
class GalleryPage:
    """A page of a dataset's images, the token of the next page ("" at the end) and the project's
    anomaly types (for the type filter)."""

    tiles: list[GalleryTile]
    next_token: str
    anomaly_types: list[str]


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
class GalleryImage:
    """An image and where it sits among the images the gallery's filters keep: ``position`` is
    1-based, or None when the image itself no longer matches them."""

    image: StoredImage
    position: int | None
    total: int
    previous_ref: str | None
    next_ref: str | None


def gallery_page(
    runtime: Runtime,
    ctx: RequestContext,
    project_name: str,
    dataset_type: str,
    wanted: GalleryFilter,
    token: str = "",
    limit: int = PAGE_SIZE,
) -> GalleryPage:
    """One page of the dataset's images under ``wanted``, after the page ``token`` ended."""
    if wanted.type_name:
        lines, next_token = _type_page(runtime, ctx, project_name, dataset_type, wanted, token, limit)
    else:
        params = _list_params(project_name, dataset_type, wanted, token, limit)
        listed = run_operation(runtime, ctx, "ListDatasetEntries", params)
        lines, next_token = listed.get("DatasetEntries", []), listed.get("NextToken", "")
    parsed = [_parsed(line) for line in lines]
    shown = [entry for entry in parsed if entry is not None]
    with runtime.db.begin() as conn:
        dataset = require_dataset(conn, ctx, project_name, dataset_type)
        stored = queries.stored_entries(conn, dataset.id, [e.source_ref for e in shown])
        types = queries.anomaly_type_names(conn, dataset.project_id)
    tiles = [_tile(entry, stored.get(entry.source_ref)) for entry in shown]
    return GalleryPage(tiles, next_token, types)


def _list_params(
    project_name: str, dataset_type: str, wanted: GalleryFilter, token: str, limit: int
) -> dict[str, Any]:
    params: dict[str, Any] = {"ProjectName": project_name, "DatasetType": dataset_type, "MaxResults": limit}
    if wanted.labeled is not None:
        params["Labeled"] = wanted.labeled
    if wanted.anomaly_class:
        params["AnomalyClass"] = wanted.anomaly_class
    if wanted.ref_contains:
        params["SourceRefContains"] = wanted.ref_contains
    if token:
        params["NextToken"] = token
    return params


def _type_page(
    runtime: Runtime,
    ctx: RequestContext,
    project_name: str,
    dataset_type: str,
    wanted: GalleryFilter,
    token: str,
    limit: int,
) -> tuple[list[str], str]:
    """A page of the anomaly-type filter; its token is the last entry id shown."""
    with runtime.db.begin() as conn:
        dataset = require_dataset(conn, ctx, project_name, dataset_type)
        entries = wanted.entry_filter()
        if token and not (token.isdigit() and len(token) < 19):
            raise ValidationException("The page link is not valid; start again from the first page.")
        lines, last_id = queries.entry_page(conn, dataset.id, entries, int(token) if token else None, limit)
    return lines, "" if last_id is None else str(last_id)


def _parsed(line: str) -> ManifestEntry | None:
    try:
        return parse_line(line, 1)
    except ManifestError:
        return None


def _tile(entry: ManifestEntry, stored: queries.StoredEntry | None) -> GalleryTile:
    return GalleryTile(
        source_ref=entry.source_ref,
        label=entry.label,
        image_sha256=stored.image_sha256 if stored else "",
        has_mask=bool(stored and stored.mask_sha256),
    )


def find_image(
    runtime: Runtime, ctx: RequestContext, project_name: str, dataset_type: str, ref: str
) -> StoredImage:
    """Image ``ref`` of the dataset (one indexed lookup); ResourceNotFoundException if absent."""
    if not ref:
        raise ValidationException("Name the image to label (the ref parameter is missing).")
    with runtime.db.begin() as conn:
        dataset = require_dataset(conn, ctx, project_name, dataset_type)
        project = get_project_by_id(conn, dataset.project_id)
        stored = queries.stored_entries(conn, dataset.id, [ref]).get(ref)
    entry = _parsed(stored.entry_json) if stored is not None else None
    if project is None or stored is None or entry is None:
        raise _no_such_image(project_name, dataset_type, ref)
    return StoredImage(
        project_id=project.id,
        dataset_id=dataset.id,
        entry=entry,
        image_sha256=stored.image_sha256,
        mask_sha256=stored.mask_sha256,
        width=project.image_width or 0,
        height=project.image_height or 0,
    )


def gallery_image(
    runtime: Runtime,
    ctx: RequestContext,
    project_name: str,
    dataset_type: str,
    ref: str,
    wanted: GalleryFilter,
) -> GalleryImage:
    """``find_image`` plus the previous and next images among those ``wanted`` keeps."""
    image = find_image(runtime, ctx, project_name, dataset_type, ref)
    entries = wanted.entry_filter()
    with runtime.db.begin() as conn:
        around = queries.neighbours(conn, image.dataset_id, entries, ref)
    if around is None:  # removed between the two reads
        raise _no_such_image(project_name, dataset_type, ref)
    return GalleryImage(image, around.position, around.total, around.previous_ref, around.next_ref)


def image_file(
    runtime: Runtime, ctx: RequestContext, project_name: str, dataset_type: str, ref: str
) -> tuple[bytes, str]:
    """The stored copy of image ``ref`` and its media type."""
    image = find_image(runtime, ctx, project_name, dataset_type, ref)
    data = runtime.blobs.get(image.image_sha256)
    return data, "image/png" if sniff_format(data[:16]) == "png" else "image/jpeg"


def _no_such_image(project_name: str, dataset_type: str, ref: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(
        f"The {dataset_type} dataset of project {project_name} has no image {ref}.",
        resource_id=dataset_resource_id(project_name, dataset_type),
        resource_type="DATASET",
    )
