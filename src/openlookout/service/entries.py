"""Ingestion of dataset entries: the one place that knows the image, mask and dataset rules.

Every way of adding images (a Ground Truth manifest for CreateDataset, the Changes of
UpdateDatasetEntries, a labeled folder or S3 prefix, a single uploaded image) turns its input into
``Candidate`` entries and goes through the same three steps:

1. ``parse_lines`` checks each JSON line on its own (``imaging.manifest``: length, syntax, labels,
   colour maps) plus duplicate source-refs, and remembers the first bad line;
2. ``fetch_candidates`` reads every image and mask in a thread pool, admits each image through
   ``imaging.admission`` (decoded in full with the decoder training uses, turned upright by its
   EXIF orientation) and checks each mask, and copies them into the blob store;
3. ``entry_rules.apply_candidates`` runs the rules that need the whole project (one image size, no
   duplicate content, anomaly types and their colours, dataset quotas) inside one database
   transaction and writes all rows at once, or writes nothing (``entry_rules.ingest`` runs the three
   steps).

The error reported is always the one of the first bad line, whichever step finds it. Images copied
into the blob store by an import that later fails stay there until the blob collector
(``service.blob_gc``) removes them, once no entry, trial or job refers to them.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from openlookout.imaging.admission import admit_image
from openlookout.imaging.images import ImageInfo, ImageRejected, inspect_image
from openlookout.imaging.manifest import (
    ManifestEntry,
    ManifestError,
    iter_manifest_lines,
    parse_line,
)
from openlookout.imaging.masks import inspect_mask
from openlookout.service.context import Runtime
from openlookout.service.storage import room_left, storage_reason
from openlookout.sources.access import SourceAccess
from openlookout.sources.reader import SourceError
from openlookout.store import entry_queries

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
    # The facts of ``data`` when the caller already admitted it (``imaging.admission``).
    admitted: ImageInfo | None = None


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
    access: SourceAccess,
    progress: ProgressCallback | None = None,
) -> tuple[list[Fetched], IngestError | None]:
    """Read (as ``access`` allows), check and store every image and mask, in order; stop at the first
    failing candidate."""
    fetched: list[Fetched] = []
    total = len(candidates)
    reporter = _ProgressReporter(progress, total)
    with ThreadPoolExecutor(max_workers=FETCH_THREADS, thread_name_prefix="ingest") as pool:
        results = pool.map(lambda c: _fetch_one(runtime, c, access), candidates)
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


def _fetch_one(runtime: Runtime, candidate: Candidate, access: SourceAccess) -> Fetched | IngestError:
    entry = candidate.entry
    where = candidate.where
    subject = where if candidate.names_image else f"{where}: image {entry.source_ref}"
    try:
        data = candidate.data
        if data is not None and candidate.admitted is not None:
            info = candidate.admitted  # an upload the caller already admitted
        elif data is None and candidate.image_key is not None:
            data = runtime.blobs.get(candidate.image_key)  # the service's own copy: admitted before
            info = inspect_image(data, name=entry.source_ref)
        else:
            if data is None:
                data = runtime.sources.read(
                    entry.source_ref, access=access, base=candidate.base, max_bytes=MAX_IMAGE_BYTES
                )
            admitted = admit_image(data, name=entry.source_ref)
            data, info = admitted.data, admitted.info
        full = room_left(runtime, len(data))
        if full is not None:
            return IngestError(f"{subject} was not stored: {full}", candidate.position)
        image_key = runtime.blobs.put(data)
        del data
        mask_key: str | None = None
        types: tuple[str, ...] = ()
        if entry.mask_ref is not None:
            subject = f"{where}: mask {entry.mask_ref}"
            mask_data = (
                runtime.blobs.get(candidate.mask_key)
                if candidate.mask_key is not None
                else runtime.sources.read(
                    entry.mask_ref, access=access, base=candidate.base, max_bytes=MAX_IMAGE_BYTES
                )
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
            full = room_left(runtime, len(mask_data))
            if full is not None:
                return IngestError(f"{subject} was not stored: {full}", candidate.position)
            mask_key = runtime.blobs.put(mask_data)
    except SourceError as exc:
        return IngestError(f"{where}: {exc.reason}", candidate.position)
    except ImageRejected as exc:
        return IngestError(f"{subject}: {exc.reason}", candidate.position)
    except Exception as exc:
        log.exception("ingesting %s failed", entry.source_ref)
        reason = storage_reason(exc)
        if reason is not None:
            return IngestError(f"{subject} could not be stored: {reason}", candidate.position)
        return IngestError(f"{subject} could not be stored ({type(exc).__name__})", candidate.position)
    return Fetched(candidate, image_key, info.width, info.height, mask_key, types)
