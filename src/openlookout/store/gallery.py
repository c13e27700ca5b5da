"""Read-only queries the console's gallery needs beyond ListDatasetEntries.

- ``page_images``: image and mask blob keys of exactly the entries shown on one page (one indexed
  lookup on ``(dataset_id, source_ref)``, never a scan of the dataset);
- ``entry_lines``: the stored Ground Truth lines of given entries (to relabel them without losing
  their mask);
- ``anomaly_type_names``: the project's anomaly types (those entries use plus those defined in the
  console);
- ``filter_clauses``: the gallery's filters as SQL clauses (ListDatasetEntries' own clauses, plus
  the anomaly-type test ListDatasetEntries does not offer);
- ``entries_of_type``: one page of entries whose mask holds a given anomaly type;
- ``neighbours``: where one entry sits in a filtered sequence (previous, next, position, count).

Nothing here writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Text, and_, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from openlookout.store.entries import EntryFilter, entry_filter_clauses, entry_lines_page
from openlookout.store.tables import anomaly_labels, console_anomaly_types, dataset_entries

# SQLite allows 999 bound parameters per statement in old builds; stay well below.
LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class PageImage:
    """The blob keys behind one gallery tile."""

    image_sha256: str
    mask_sha256: str | None


def _rows_by_ref(conn: Connection, dataset_id: int, refs: Sequence[str], *columns: Any) -> Iterator[Any]:
    """Rows of ``columns`` (plus ``source_ref``) for the entries of ``refs``, in indexed chunks."""
    c = dataset_entries.c
    wanted = list(dict.fromkeys(refs))
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        yield from conn.execute(
            select(c.source_ref, *columns).where(c.dataset_id == dataset_id, c.source_ref.in_(chunk))
        )


def page_images(conn: Connection, dataset_id: int, refs: Sequence[str]) -> dict[str, PageImage]:
    """source-ref -> blob keys for the entries of ``refs`` in the dataset (unknown refs left out)."""
    c = dataset_entries.c
    rows = _rows_by_ref(conn, dataset_id, refs, c.image_sha256, c.mask_sha256)
    return {row.source_ref: PageImage(row.image_sha256, row.mask_sha256) for row in rows}


def entry_lines(conn: Connection, dataset_id: int, refs: Sequence[str]) -> dict[str, str]:
    """source-ref -> the entry's Ground Truth JSON line, for the entries of ``refs`` in the dataset."""
    rows = _rows_by_ref(conn, dataset_id, refs, dataset_entries.c.entry_json)
    return {row.source_ref: row.entry_json for row in rows}


def anomaly_type_names(conn: Connection, project_id: int) -> list[str]:
    """Names of the project's anomaly types (used by masks or defined in the console), sorted."""
    used = conn.execute(select(anomaly_labels.c.name).where(anomaly_labels.c.project_id == project_id))
    defined = conn.execute(
        select(console_anomaly_types.c.name).where(console_anomaly_types.c.project_id == project_id)
    )
    return sorted({r.name for r in used} | {r.name for r in defined}, key=str.lower)


def _contains(conn: Connection, column: ColumnElement[str], needle: str) -> ColumnElement[bool]:
    """A literal substring test (no LIKE wildcards), on SQLite and PostgreSQL."""
    if conn.dialect.name == "postgresql":
        return func.strpos(column, needle) > 0
    return func.instr(column, needle) > 0


@dataclass(frozen=True)
class GalleryFilter:
    """The gallery's filters; ``None`` means the filter is absent."""

    labeled: bool | None = None
    anomaly_class: str | None = None
    type_name: str | None = None
    ref_contains: str | None = None


def filter_clauses(conn: Connection, dataset_id: int, wanted: GalleryFilter) -> list[ColumnElement[bool]]:
    """The entries of the dataset the gallery shows for ``wanted``, as clauses on ``dataset_entries``.

    The labeled / class / name filters are ListDatasetEntries' own clauses. ``anomaly_types`` is
    stored as a JSON list of strings, so the type's JSON string (quotes included) appears in its
    text exactly when the list holds that name.
    """
    c = dataset_entries.c
    clauses = entry_filter_clauses(
        conn,
        dataset_id,
        EntryFilter(
            labeled=wanted.labeled,
            anomaly_class=wanted.anomaly_class,
            source_ref_contains=wanted.ref_contains,
        ),
    )
    if wanted.type_name:
        clauses.append(c.mask_sha256.is_not(None))
        clauses.append(_contains(conn, cast(c.anomaly_types, Text), json.dumps(wanted.type_name)))
    return clauses


def entries_of_type(
    conn: Connection, dataset_id: int, wanted: GalleryFilter, *, after_id: int | None, limit: int
) -> tuple[list[str], int | None]:
    """One page (id order) of entry lines whose mask holds ``wanted.type_name`` (and match the rest)."""
    return entry_lines_page(conn, filter_clauses(conn, dataset_id, wanted), after_id, limit)


@dataclass(frozen=True)
class Neighbours:
    """Where one entry sits in a filtered sequence (id order, the order the gallery shows).

    ``position`` is 1-based, or ``None`` when the entry itself does not match the filters (it was
    relabeled since the gallery link was followed); its neighbours are then the matching entries
    just before and after its id.
    """

    previous_ref: str | None
    next_ref: str | None
    position: int | None
    total: int


def neighbours(
    conn: Connection, dataset_id: int, clauses: list[ColumnElement[bool]], ref: str
) -> Neighbours | None:
    """The matching entries around image ``ref`` of the dataset; ``None`` if the dataset lacks it."""
    c = dataset_entries.c
    entry_id = conn.execute(
        select(c.id).where(c.dataset_id == dataset_id, c.source_ref == ref)
    ).scalar_one_or_none()
    if entry_id is None:
        return None
    matching = and_(*clauses)
    previous = conn.execute(
        select(c.source_ref).where(matching, c.id < entry_id).order_by(c.id.desc()).limit(1)
    ).scalar_one_or_none()
    following = conn.execute(
        select(c.source_ref).where(matching, c.id > entry_id).order_by(c.id).limit(1)
    ).scalar_one_or_none()
    before = conn.execute(select(func.count(c.id)).where(matching, c.id < entry_id)).scalar_one()
    total = conn.execute(select(func.count(c.id)).where(matching)).scalar_one()
    itself = conn.execute(select(c.id).where(matching, c.id == entry_id)).scalar_one_or_none()
    return Neighbours(
        previous_ref=previous,
        next_ref=following,
        position=int(before) + 1 if itself is not None else None,
        total=int(total),
    )
