"""Ingestion, step 3: the rules that need the whole project, and the write (see ``service.entries``).

``apply_candidates`` checks, in line order, one image size per project, no two images with the same
content, each anomaly type with one colour (and each colour with one type) and the per-project
limit on types, then the dataset quotas, inside one database transaction holding the project's
lock, and writes every row at once or nothing. ``ingest`` runs the three steps for a parsed batch.
The limits themselves (``MAX_TYPES_PER_PROJECT``, ``DATASET_QUOTAS``) live in ``service.entries``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection

from openlookout.imaging.manifest import render_entry
from openlookout.service import entries
from openlookout.service.context import Runtime
from openlookout.service.entries import Fetched, IngestError, ParsedBatch, ProgressCallback, fetch_candidates
from openlookout.service.tenancy import dataset_access, record_blobs
from openlookout.store import entries as repo
from openlookout.store import projects as project_store
from openlookout.store.projects import ProjectRow


@dataclass(frozen=True)
class IngestResult:
    added: int
    replaced: int


@dataclass
class _ProjectState:
    """What the project holds now, minus the entries this batch replaces."""

    size: tuple[int, int] | None
    size_origin: str
    hashes: dict[str, str]
    labels: dict[str, str]
    colours: dict[str, str]
    dataset_count: int
    dataset_masks: int
    replaced: dict[str, int]


def _project_state(
    conn: Connection, project: ProjectRow, dataset: repo.DatasetRow, refs: set[str]
) -> _ProjectState:
    existing = repo.project_entries(conn, project.id)
    replaced = {
        e.source_ref: e.id
        for e in existing
        if e.dataset_type == dataset.dataset_type and e.source_ref in refs
    }
    kept = [e for e in existing if not (e.dataset_type == dataset.dataset_type and e.source_ref in replaced)]
    size = None
    if kept and project.image_width and project.image_height:
        size = (project.image_width, project.image_height)
    labels = repo.project_labels(conn, project.id)
    in_dataset = [e for e in kept if e.dataset_type == dataset.dataset_type]
    return _ProjectState(
        size=size,
        size_origin="the project's images are",
        hashes={e.image_sha256: f"{e.source_ref} (in the {e.dataset_type} dataset)" for e in kept},
        labels=labels,
        colours={colour: name for name, colour in labels.items()},
        dataset_count=len(in_dataset),
        dataset_masks=sum(1 for e in in_dataset if e.has_mask),
        replaced=replaced,
    )


def _check_project_rules(state: _ProjectState, item: Fetched, new_labels: dict[str, str]) -> None:
    entry = item.candidate.entry
    size = (item.width, item.height)
    if state.size is None:
        state.size = size
        state.size_origin = f"{item.candidate.where}'s image is"
    elif size != state.size:
        raise IngestError(
            f"image {entry.source_ref} is {item.width}x{item.height} pixels but {state.size_origin} "
            f"{state.size[0]}x{state.size[1]}; all images of a project must have the same size"
        )
    other = state.hashes.get(item.image_sha256)
    if other is not None:
        raise IngestError(f"image {entry.source_ref} has the same content as {other}")
    state.hashes[item.image_sha256] = f"{entry.source_ref} ({item.candidate.where})"
    if item.mask_sha256 is None:
        return
    own: dict[str, str] = {}
    for colour, name in entry.colors.items():
        if name in own:
            raise IngestError(
                f"the colour map of mask {entry.mask_ref} gives anomaly type '{name}' two colours "
                f"({own[name]} and {colour}); each anomaly type has one colour"
            )
        own[name] = colour
    for colour, name in entry.colors.items():
        if name not in item.anomaly_types:
            continue
        known = state.labels.get(name)
        if known is not None and known != colour:
            raise IngestError(
                f"anomaly type '{name}' has colour {colour} in mask {entry.mask_ref} but the project "
                f"already uses {known} for it"
            )
        holder = state.colours.get(colour)
        if holder is not None and holder != name:
            raise IngestError(
                f"colour {colour} names anomaly type '{name}' in mask {entry.mask_ref} but the project "
                f"already uses it for '{holder}'"
            )
        if known is None:
            if len(state.labels) >= entries.MAX_TYPES_PER_PROJECT:
                raise IngestError(
                    f"anomaly type '{name}' is new but the project already has "
                    f"{entries.MAX_TYPES_PER_PROJECT} anomaly types, the most a project may have"
                )
            state.labels[name] = colour
            state.colours[colour] = name
            new_labels[name] = colour


def _check_quota(state: _ProjectState, dataset_type: str, items: list[Fetched]) -> None:
    count = state.dataset_count + len(items)
    masks = state.dataset_masks + sum(1 for i in items if i.mask_sha256 is not None)
    classification, segmentation = entries.DATASET_QUOTAS[dataset_type]
    if masks and count > segmentation:
        raise IngestError(
            f"the {dataset_type} dataset would hold {count:,} images; a {dataset_type} dataset with "
            f"segmentation masks holds at most {segmentation:,}"
        )
    if count > classification:
        raise IngestError(
            f"the {dataset_type} dataset would hold {count:,} images; a {dataset_type} dataset holds "
            f"at most {classification:,}"
        )


def apply_candidates(
    runtime: Runtime,
    dataset_id: int,
    fetched: list[Fetched],
    pending_error: IngestError | None,
    *,
    replace_all: bool = False,
    finish: Callable[[Connection, repo.DatasetRow], None] | None = None,
) -> IngestResult:
    """Check the project-wide rules in order and write every entry in one transaction.

    ``pending_error`` is the first error the earlier steps found; it is raised unless a rule fails
    on an earlier line. ``replace_all`` empties the dataset first (a re-run import). ``finish``
    runs inside the same transaction after the write (to set the final status).
    """
    now = time.time()
    with runtime.db.begin() as conn:
        found = repo.get_dataset_by_id(conn, dataset_id)
        project = project_store.lock_project(conn, found.project_id) if found is not None else None
        # Read the dataset again now that the project is locked: its status may have moved.
        dataset = repo.get_dataset_by_id(conn, dataset_id)
        if dataset is None or project is None:
            raise IngestError("the dataset was deleted while its images were being imported")
        if replace_all:
            repo.delete_all_entries(conn, dataset_id)
        refs = {f.candidate.entry.source_ref for f in fetched}
        state = _project_state(conn, project, dataset, refs)
        new_labels: dict[str, str] = {}
        rows: list[repo.NewEntry] = []
        for item in fetched:
            try:
                _check_project_rules(state, item, new_labels)
            except IngestError as exc:
                raise IngestError(f"{item.candidate.where}: {exc.message}", item.candidate.position) from None
            rows.append(_new_entry(item))
        if pending_error is not None:
            raise pending_error
        _check_quota(state, dataset.dataset_type, fetched)
        repo.write_entries(conn, dataset_id, rows, state.replaced, now)
        record_blobs(conn, project.account_id, *(h for i in fetched for h in (i.image_sha256, i.mask_sha256)))
        repo.add_labels(conn, project.id, new_labels)
        if rows and (project.image_width, project.image_height) != state.size:
            project_store.set_image_size(conn, project.id, state.size)
        repo.bump_revision(conn, dataset_id, now)
        if finish is not None:
            finish(conn, dataset)
    return IngestResult(added=len(rows) - len(state.replaced), replaced=len(state.replaced))


def _new_entry(item: Fetched) -> repo.NewEntry:
    entry = item.candidate.entry
    return repo.NewEntry(
        source_ref=entry.source_ref,
        label=entry.label,
        image_sha256=item.image_sha256,
        mask_sha256=item.mask_sha256,
        anomaly_types=item.anomaly_types,
        entry_json=render_entry(entry),
    )


def ingest(
    runtime: Runtime,
    dataset_id: int,
    batch: ParsedBatch,
    *,
    progress: ProgressCallback | None = None,
    replace_all: bool = False,
    finish: Callable[[Connection, repo.DatasetRow], None] | None = None,
) -> IngestResult:
    """All three steps for an already parsed batch; raises ``IngestError`` and then writes nothing."""
    access = dataset_access(runtime, dataset_id)
    fetched, fetch_error = fetch_candidates(runtime, batch.candidates, access=access, progress=progress)
    errors = [e for e in (fetch_error, batch.error) if e is not None]
    first = min(errors, key=lambda e: e.position) if errors else None
    return apply_candidates(runtime, dataset_id, fetched, first, replace_all=replace_all, finish=finish)
