"""Read-only queries the console's gallery needs beyond ListDatasetEntries.

- ``page_images``: image and mask blob keys of exactly the entries shown on one page (one indexed
  lookup on ``(dataset_id, source_ref)``, never a scan of the dataset);
- ``entry_lines``: the stored Ground Truth lines of given entries (to relabel them without losing
  their mask);
- ``anomaly_type_names``: the project's anomaly types (those entries use plus those defined in the
  console);
- ``entries_of_type``: one page of entries whose mask holds a given anomaly type.

Nothing here writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Text, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from openlookout.store.entries import entry_lines_page
from openlookout.store.tables import anomaly_labels, console_anomaly_types, dataset_entries

# SQLite allows 999 bound parameters per statement in old builds; stay well below.
LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class PageImage:
    """The blob keys behind one gallery tile."""

    image_sha256: str
    mask_sha256: str | None


def page_images(conn: Connection, dataset_id: int, refs: Sequence[str]) -> dict[str, PageImage]:
    """source-ref -> blob keys for the entries of ``refs`` in the dataset (unknown refs left out)."""
    c = dataset_entries.c
    found: dict[str, PageImage] = {}
    wanted = list(dict.fromkeys(refs))
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        rows = conn.execute(
            select(c.source_ref, c.image_sha256, c.mask_sha256).where(
                c.dataset_id == dataset_id, c.source_ref.in_(chunk)
            )
        )
        for row in rows:
            found[row.source_ref] = PageImage(row.image_sha256, row.mask_sha256)
    return found


def entry_lines(conn: Connection, dataset_id: int, refs: Sequence[str]) -> dict[str, str]:
    """source-ref -> the entry's Ground Truth JSON line, for the entries of ``refs`` in the dataset."""
    c = dataset_entries.c
    found: dict[str, str] = {}
    wanted = list(dict.fromkeys(refs))
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        rows = conn.execute(
            select(c.source_ref, c.entry_json).where(c.dataset_id == dataset_id, c.source_ref.in_(chunk))
        )
        for row in rows:
            found[row.source_ref] = row.entry_json
    return found


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


def entries_of_type(
    conn: Connection,
    dataset_id: int,
    type_name: str,
    *,
    ref_contains: str | None,
    after_id: int | None,
    limit: int,
) -> tuple[list[str], int | None]:
    """One page (id order) of entry lines whose mask holds ``type_name``; the last id if more follow.

    ``anomaly_types`` is stored as a JSON list of strings, so the type's JSON string (quotes
    included) appears in its text exactly when the list holds that name.
    """
    c = dataset_entries.c
    clauses: list[ColumnElement[bool]] = [
        c.dataset_id == dataset_id,
        c.mask_sha256.is_not(None),
        _contains(conn, cast(c.anomaly_types, Text), json.dumps(type_name)),
    ]
    if ref_contains:
        clauses.append(_contains(conn, c.source_ref, ref_contains))
    return entry_lines_page(conn, clauses, after_id, limit)
