"""Ingestion of dataset entries: the one place that knows the image, mask and dataset rules.

Every way of adding images (a Ground Truth manifest for CreateDataset, the Changes of
UpdateDatasetEntries, a labeled folder or S3 prefix, a single uploaded image) turns its input into
``Candidate`` entries and goes through the same three steps:

1. ``parse_lines`` checks each JSON line on its own (``imaging.manifest``: length, syntax, labels,
   colour maps) plus duplicate source-refs, and remembers the first bad line;
2. ``fetch_candidates`` reads every image and mask in a thread pool, checks them with
   ``openlookout.imaging`` without decoding pixel arrays, and copies them into the blob store;
3. ``apply_candidates`` runs the rules that need the whole project (one image size, no duplicate
   content, anomaly types and their colours, dataset quotas) inside one database transaction and
   writes all rows at once, or writes nothing.

The error reported is always the one of the first bad line, whichever step finds it. Images copied
into the blob store by an import that later fails stay there: blobs are content-addressed and
harmless, and the next import of the same file finds them already stored.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import Connection

from openlookout.imaging.images import ImageRejected, inspect_image
from openlookout.imaging.manifest import (
    ManifestEntry,
    ManifestError,
    iter_manifest_lines,
    parse_line,
    render_entry,
)
from openlookout.imaging.masks import inspect_mask
from openlookout.service.context import Runtime
from openlookout.sources.reader import SourceError
from openlookout.store import entries as repo
from openlookout.store import entry_queries
from openlookout.store import projects as project_store
from openlookout.store.projects import ProjectRow

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_TYPES_PER_PROJECT = 100
# Images per dataset: (classification, segmentation).
DATASET_QUOTAS: dict[str, tuple[int, int]] = {"train": (16_000, 8_000), "test": (4_000, 800)}
MAX_ENTRIES = max(quota for quotas in DATASET_QUOTAS.values() for quota in quotas)
FETCH_THREADS = 8
PROGRESS_EVERY_SECONDS = 0.5

ProgressCallback = Callable[[int, int], None]


class IngestError(Exception):
    """A rule was broken; ``message`` is the one-line status message, ``position`` orders errors."""

    def __init__(self, message: str, position: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass(frozen=True)
class Candidate:
    """One entry to ingest. ``where`` names it in messages ("line 7", or "image <name>")."""

    position: int
    where: str
    entry: ManifestEntry
    base: str | None = None
    # Bytes already at hand (an upload); otherwise the image is read through the SourceReader.
    data: bytes | None = None
    # True when ``where`` already names the image, so messages about it need not repeat it.
    names_image: bool = False
    # Blob keys of the service's own copies of the image and mask, read instead of the references
    # (an edit of an entry the dataset already holds; see ``with_stored_files``).
    image_key: str | None = None
    mask_key: str | None = None


@dataclass(frozen=True)
class Fetched:
    """A candidate whose image (and mask) passed the per-file checks and sit in the blob store."""

    candidate: Candidate
    image_sha256: str
    width: int
    height: int
    mask_sha256: str | None
    anomaly_types: tuple[str, ...]


@dataclass
class ParsedBatch:
    candidates: list[Candidate] = field(default_factory=list)
    error: IngestError | None = None


@dataclass(frozen=True)
class IngestResult:
    added: int
    replaced: int


# --- step 1: lines -------------------------------------------------------------------------


def manifest_lines(data: bytes) -> Iterator[tuple[int, str]]:
    """Numbered non-blank lines of JSON Lines bytes (may raise ``ManifestError`` for a bad line)."""
    return iter_manifest_lines(io.BytesIO(data))


def parse_lines(
    lines: Iterator[tuple[int, str]], *, base: str | None, max_entries: int = MAX_ENTRIES
) -> ParsedBatch:
    """Check each line on its own; stop at the first bad one (kept in ``error``).

    More than ``max_entries`` entries can never fit a dataset, so parsing stops there too.
    """
    batch = ParsedBatch()
    seen: dict[str, int] = {}
    while True:
        try:
            number, text = next(lines)
        except StopIteration:
            return batch
        except ManifestError as exc:
            batch.error = IngestError(f"line {exc.line_number}: {exc.reason}", exc.line_number)
            return batch
        where = f"line {number}"
        if len(batch.candidates) >= max_entries:
            batch.error = IngestError(
                f"{where}: more than {max_entries:,} entries; no dataset holds that many images", number
            )
            return batch
        try:
            entry = parse_line(text, number)
        except ManifestError as exc:
            batch.error = IngestError(f"{where}: {exc.reason}", number)
            return batch
        first = seen.get(entry.source_ref)
        if first is not None:
            batch.error = IngestError(
                f"{where}: source-ref {entry.source_ref} already appears on line {first}", number
            )
            return batch
        seen[entry.source_ref] = number
        batch.candidates.append(Candidate(position=number, where=where, entry=entry, base=base))


def with_stored_files(runtime: Runtime, dataset_id: int, batch: ParsedBatch) -> ParsedBatch:
    """The batch with every entry the dataset already holds reading its image from the service's own
    copy (by hash), and its mask too when the line keeps the stored mask reference.

    For edits of existing entries (relabeling, a new mask): the original files need not exist any
    more, and nothing is downloaded again.
    """
    refs = [c.entry.source_ref for c in batch.candidates]
    with runtime.db.begin() as conn:
        stored = entry_queries.stored_entries(conn, dataset_id, refs)
    candidates = [_reusing(c, stored.get(c.entry.source_ref)) for c in batch.candidates]
    return ParsedBatch(candidates, batch.error)


def _reusing(candidate: Candidate, stored: entry_queries.StoredEntry | None) -> Candidate:
    if stored is None:
        return candidate
    mask_key = None
    if stored.mask_sha256 is not None and candidate.entry.mask_ref is not None:
        try:
            kept = parse_line(stored.entry_json, 1).mask_ref == candidate.entry.mask_ref
        except ManifestError:
            kept = False
        mask_key = stored.mask_sha256 if kept else None
    return dataclasses.replace(candidate, image_key=stored.image_sha256, mask_key=mask_key)


# --- step 2: files -------------------------------------------------------------------------


def fetch_candidates(
    runtime: Runtime,
    candidates: list[Candidate],
    *,
    progress: ProgressCallback | None = None,
) -> tuple[list[Fetched], IngestError | None]:
    """Read, check and store every image and mask, in order; stop at the first failing candidate."""
    fetched: list[Fetched] = []
    total = len(candidates)
    reporter = _ProgressReporter(progress, total)
    with ThreadPoolExecutor(max_workers=FETCH_THREADS, thread_name_prefix="ingest") as pool:
        results = pool.map(lambda c: _fetch_one(runtime, c), candidates)
        try:
            for result in results:
                if isinstance(result, IngestError):
                    return fetched, result
                fetched.append(result)
                reporter.step(len(fetched))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    reporter.done(len(fetched))
    return fetched, None


class _ProgressReporter:
    """Calls the progress callback at most every ``PROGRESS_EVERY_SECONDS``."""

    def __init__(self, callback: ProgressCallback | None, total: int) -> None:
        self.callback = callback
        self.total = total
        self.last = 0.0

    def step(self, done: int) -> None:
        now = time.monotonic()
        if self.callback is not None and now - self.last >= PROGRESS_EVERY_SECONDS:
            self.last = now
            self.callback(done, self.total)

    def done(self, done: int) -> None:
        if self.callback is not None:
            self.callback(done, self.total)


def _fetch_one(runtime: Runtime, candidate: Candidate) -> Fetched | IngestError:
    entry = candidate.entry
    where = candidate.where
    subject = where if candidate.names_image else f"{where}: image {entry.source_ref}"
    try:
        data = candidate.data
        if data is None and candidate.image_key is not None:
            data = runtime.blobs.get(candidate.image_key)
        elif data is None:
            data = runtime.sources.read(entry.source_ref, base=candidate.base, max_bytes=MAX_IMAGE_BYTES)
        info = inspect_image(data, name=entry.source_ref)
        image_key = runtime.blobs.put(data)
        del data
        mask_key: str | None = None
        types: tuple[str, ...] = ()
        if entry.mask_ref is not None:
            subject = f"{where}: mask {entry.mask_ref}"
            mask_data = (
                runtime.blobs.get(candidate.mask_key)
                if candidate.mask_key is not None
                else runtime.sources.read(entry.mask_ref, base=candidate.base, max_bytes=MAX_IMAGE_BYTES)
            )
            mask = inspect_mask(
                mask_data,
                name=entry.mask_ref,
                colors=entry.colors,
                width=info.width,
                height=info.height,
                background=entry.background,
            )
            types = tuple(mask.types)
            mask_key = runtime.blobs.put(mask_data)
    except SourceError as exc:
        return IngestError(f"{where}: {exc.reason}", candidate.position)
    except ImageRejected as exc:
        return IngestError(f"{subject}: {exc.reason}", candidate.position)
    except Exception as exc:
        log.exception("ingesting %s failed", entry.source_ref)
        return IngestError(f"{subject} could not be stored ({type(exc).__name__})", candidate.position)
    return Fetched(candidate, image_key, info.width, info.height, mask_key, types)


# --- step 3: project rules and the write ---------------------------------------------------


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
            if len(state.labels) >= MAX_TYPES_PER_PROJECT:
                raise IngestError(
                    f"anomaly type '{name}' is new but the project already has "
                    f"{MAX_TYPES_PER_PROJECT} anomaly types, the most a project may have"
                )
            state.labels[name] = colour
            state.colours[colour] = name
            new_labels[name] = colour


def _check_quota(state: _ProjectState, dataset_type: str, items: list[Fetched]) -> None:
    count = state.dataset_count + len(items)
    masks = state.dataset_masks + sum(1 for i in items if i.mask_sha256 is not None)
    classification, segmentation = DATASET_QUOTAS[dataset_type]
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
    fetched, fetch_error = fetch_candidates(runtime, batch.candidates, progress=progress)
    errors = [e for e in (fetch_error, batch.error) if e is not None]
    first = min(errors, key=lambda e: e.position) if errors else None
    return apply_candidates(runtime, dataset_id, fetched, first, replace_all=replace_all, finish=finish)
