"""Read-only queries over one dataset's entries: filtered pages, lookups by source-ref, neighbours.

- ``EntryFilter`` / ``filter_clauses``: ListDatasetEntries' filters, plus the anomaly-type test
  (``type_name``) ListDatasetEntries does not offer, as SQL clauses;
- ``entry_page``: one page of entry lines in id order under a filter (id-based paging);
- ``stored_entries``: the stored line and blob keys of given entries (one indexed lookup on
  ``(dataset_id, source_ref)`` per chunk, never a scan of the dataset);
- ``anomaly_type_names``: the project's anomaly types (used by masks or defined in the console);
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

from openlookout.store.tables import anomaly_labels, console_anomaly_types, dataset_entries

# SQLite allows 999 bound parameters per statement in old builds; stay well below.
LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class EntryFilter:
    """Filters over a dataset's entries; ``None`` means the filter is absent.

    The first five are ListDatasetEntries' own; ``type_name`` keeps entries whose mask shows that
    anomaly type.
    """

    labeled: bool | None = None
    anomaly_class: str | None = None
    created_before: float | None = None
    created_after: float | None = None
    source_ref_contains: str | None = None
    type_name: str | None = None


@dataclass(frozen=True)
class StoredEntry:
    """One entry as stored: its Ground Truth line and the blob keys of its image and mask."""

    entry_json: str
    image_sha256: str
    mask_sha256: str | None


def _contains(conn: Connection, column: ColumnElement[str], needle: str) -> ColumnElement[bool]:
    """A literal, case-sensitive substring test (no LIKE wildcards), on SQLite and PostgreSQL."""
    if conn.dialect.name == "postgresql":
        return func.strpos(column, needle) > 0
    return func.instr(column, needle) > 0


def filter_clauses(conn: Connection, dataset_id: int, filters: EntryFilter) -> list[ColumnElement[bool]]:
    """The WHERE conditions of ``filters`` over one dataset's entries.

    ``anomaly_types`` is stored as a JSON list of strings, so the type's JSON string (quotes
    included) appears in its text exactly when the list holds that name.
    """
    c = dataset_entries.c
    clauses: list[ColumnElement[bool]] = [c.dataset_id == dataset_id]
    if filters.labeled is True:
        clauses.append(c.label.is_not(None))
    elif filters.labeled is False:
        clauses.append(c.label.is_(None))
    if filters.anomaly_class is not None:
        clauses.append(c.label == filters.anomaly_class)
    if filters.created_before is not None:
        clauses.append(c.created_at < filters.created_before)
    if filters.created_after is not None:
        clauses.append(c.created_at > filters.created_after)
    if filters.source_ref_contains is not None:
        clauses.append(_contains(conn, c.source_ref, filters.source_ref_contains))
    if filters.type_name:
        clauses.append(c.mask_sha256.is_not(None))
        clauses.append(_contains(conn, cast(c.anomaly_types, Text), json.dumps(filters.type_name)))
    return clauses


def entry_page(
    conn: Connection, dataset_id: int, filters: EntryFilter, after_id: int | None, limit: int
) -> tuple[list[str], int | None]:
    """Entry JSON lines matching ``filters`` in id order after ``after_id``; the last id if more follow."""
    c = dataset_entries.c
    clauses = filter_clauses(conn, dataset_id, filters)
    if after_id is not None:
        clauses.append(c.id > after_id)
    rows = conn.execute(
        select(c.id, c.entry_json).where(and_(*clauses)).order_by(c.id).limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return [r.entry_json for r in rows], (rows[-1].id if more and rows else None)


def _rows_by_ref(conn: Connection, dataset_id: int, refs: Sequence[str], *columns: Any) -> Iterator[Any]:
    """Rows of ``columns`` (plus ``source_ref``) for the entries of ``refs``, in indexed chunks."""
    c = dataset_entries.c
    wanted = list(dict.fromkeys(refs))
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        yield from conn.execute(
            select(c.source_ref, *columns).where(c.dataset_id == dataset_id, c.source_ref.in_(chunk))
        )


def stored_entries(conn: Connection, dataset_id: int, refs: Sequence[str]) -> dict[str, StoredEntry]:
    """source-ref -> the stored entry, for the entries of ``refs`` in the dataset (unknown refs left out)."""
    c = dataset_entries.c
    rows = _rows_by_ref(conn, dataset_id, refs, c.entry_json, c.image_sha256, c.mask_sha256)
    return {row.source_ref: StoredEntry(row.entry_json, row.image_sha256, row.mask_sha256) for row in rows}


def anomaly_type_names(conn: Connection, project_id: int) -> list[str]:
    """Names of the project's anomaly types (used by masks or defined in the console), sorted."""
    used = conn.execute(select(anomaly_labels.c.name).where(anomaly_labels.c.project_id == project_id))
    defined = conn.execute(
        select(console_anomaly_types.c.name).where(console_anomaly_types.c.project_id == project_id)
    )
    return sorted({r.name for r in used} | {r.name for r in defined}, key=str.lower)


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


def neighbours(conn: Connection, dataset_id: int, filters: EntryFilter, ref: str) -> Neighbours | None:
    """The entries matching ``filters`` around image ``ref`` of the dataset; None if it lacks ``ref``."""
    c = dataset_entries.c
    entry_id = conn.execute(
        select(c.id).where(c.dataset_id == dataset_id, c.source_ref == ref)
    ).scalar_one_or_none()
    if entry_id is None:
        return None
    matching = and_(*filter_clauses(conn, dataset_id, filters))
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
