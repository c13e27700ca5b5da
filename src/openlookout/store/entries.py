"""Repository functions for datasets, dataset entries and a project's anomaly labels.

Plain SQLAlchemy Core on a connection the caller holds (``Database.begin()``), so a service
function can put several of these calls into one transaction. Rows come back as small frozen
dataclasses; nothing here knows about HTTP or the API's member names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, case, delete, func, insert, select, update

from openlookout.store.tables import anomaly_labels, dataset_entries, datasets

WRITE_BATCH = 500


@dataclass(frozen=True)
class DatasetRow:
    id: int
    project_id: int
    dataset_type: str
    status: str
    status_message: str | None
    created_at: float
    updated_at: float
    revision: int


@dataclass(frozen=True)
class ImageStats:
    total: int
    labeled: int
    normal: int
    anomaly: int


@dataclass(frozen=True)
class EntryRow:
    """One entry as the validation code needs it (no JSON text)."""

    id: int
    dataset_type: str
    source_ref: str
    label: str | None
    image_sha256: str
    has_mask: bool
    anomaly_types: tuple[str, ...]


@dataclass(frozen=True)
class NewEntry:
    """An entry ready to be written (validated, its files already copied into the blob store)."""

    source_ref: str
    label: str | None
    image_sha256: str
    mask_sha256: str | None
    anomaly_types: tuple[str, ...]
    entry_json: str


# --- projects -------------------------------------------------------------------------------


def project_entry_count(conn: Connection, project_id: int) -> int:
    return int(
        conn.execute(
            select(func.count(dataset_entries.c.id))
            .select_from(dataset_entries.join(datasets, datasets.c.id == dataset_entries.c.dataset_id))
            .where(datasets.c.project_id == project_id)
        ).scalar_one()
    )


# --- datasets -------------------------------------------------------------------------------


def _dataset(row: Any) -> DatasetRow:
    return DatasetRow(
        id=row.id,
        project_id=row.project_id,
        dataset_type=row.dataset_type,
        status=row.status,
        status_message=row.status_message,
        created_at=row.created_at,
        updated_at=row.updated_at,
        revision=row.revision or 0,
    )


def get_dataset(conn: Connection, project_id: int, dataset_type: str) -> DatasetRow | None:
    row = conn.execute(
        select(datasets).where(datasets.c.project_id == project_id, datasets.c.dataset_type == dataset_type)
    ).first()
    return None if row is None else _dataset(row)


def get_dataset_by_id(conn: Connection, dataset_id: int) -> DatasetRow | None:
    row = conn.execute(select(datasets).where(datasets.c.id == dataset_id)).first()
    return None if row is None else _dataset(row)


def list_project_datasets(conn: Connection, project_id: int) -> list[DatasetRow]:
    rows = conn.execute(
        select(datasets).where(datasets.c.project_id == project_id).order_by(datasets.c.dataset_type)
    )
    return [_dataset(r) for r in rows]


def insert_dataset(
    conn: Connection, project_id: int, dataset_type: str, status: str, now: float
) -> DatasetRow:
    result = conn.execute(
        insert(datasets).values(
            project_id=project_id,
            dataset_type=dataset_type,
            status=status,
            status_message=None,
            created_at=now,
            updated_at=now,
            revision=0,
        )
    )
    dataset_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    return DatasetRow(dataset_id, project_id, dataset_type, status, None, now, now, 0)


def set_dataset_status(
    conn: Connection,
    dataset_id: int,
    status: str,
    message: str | None,
    now: float,
    *,
    expect_status: Iterable[str] | None = None,
) -> bool:
    """Set status and message; with ``expect_status`` only from those states. True if changed."""
    query = update(datasets).where(datasets.c.id == dataset_id)
    if expect_status is not None:
        query = query.where(datasets.c.status.in_(list(expect_status)))
    result = conn.execute(query.values(status=status, status_message=message, updated_at=now))
    return bool(result.rowcount)


def set_dataset_message(conn: Connection, dataset_id: int, message: str | None) -> None:
    """Change only the status message (progress), leaving status and timestamps alone."""
    conn.execute(update(datasets).where(datasets.c.id == dataset_id).values(status_message=message))


def delete_dataset_row(conn: Connection, dataset_id: int) -> None:
    conn.execute(delete(dataset_entries).where(dataset_entries.c.dataset_id == dataset_id))
    conn.execute(delete(datasets).where(datasets.c.id == dataset_id))


def image_stats(conn: Connection, dataset_id: int) -> ImageStats:
    label = dataset_entries.c.label
    row = conn.execute(
        select(
            func.count(dataset_entries.c.id),
            func.count(label),
            func.coalesce(func.sum(case((label == "normal", 1), else_=0)), 0),
            func.coalesce(func.sum(case((label == "anomaly", 1), else_=0)), 0),
        ).where(dataset_entries.c.dataset_id == dataset_id)
    ).one()
    return ImageStats(total=int(row[0]), labeled=int(row[1]), normal=int(row[2]), anomaly=int(row[3]))


# --- entries --------------------------------------------------------------------------------


def project_entries(conn: Connection, project_id: int) -> list[EntryRow]:
    """Every entry of the project's datasets, without the JSON text (for validation)."""
    rows = conn.execute(
        select(
            dataset_entries.c.id,
            datasets.c.dataset_type,
            dataset_entries.c.source_ref,
            dataset_entries.c.label,
            dataset_entries.c.image_sha256,
            dataset_entries.c.mask_sha256,
            dataset_entries.c.anomaly_types,
        )
        .select_from(dataset_entries.join(datasets, datasets.c.id == dataset_entries.c.dataset_id))
        .where(datasets.c.project_id == project_id)
    )
    return [
        EntryRow(
            id=r.id,
            dataset_type=r.dataset_type,
            source_ref=r.source_ref,
            label=r.label,
            image_sha256=r.image_sha256,
            has_mask=r.mask_sha256 is not None,
            anomaly_types=tuple(_json_list(r.anomaly_types)),
        )
        for r in rows
    ]


def _json_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = json.loads(value)
    return [str(v) for v in value]


def write_entries(
    conn: Connection, dataset_id: int, entries: Sequence[NewEntry], replaced: dict[str, int], now: float
) -> None:
    """Insert new entries and overwrite replaced ones (``replaced`` maps source-ref to entry id).

    A replaced entry keeps its id and creation time, so paging order and date filters stay stable.
    """
    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    for entry in entries:
        values = {
            "label": entry.label,
            "image_sha256": entry.image_sha256,
            "mask_sha256": entry.mask_sha256,
            "anomaly_types": list(entry.anomaly_types),
            "entry_json": entry.entry_json,
            "updated_at": now,
        }
        entry_id = replaced.get(entry.source_ref)
        if entry_id is None:
            new_rows.append(
                {**values, "dataset_id": dataset_id, "source_ref": entry.source_ref, "created_at": now}
            )
        else:
            changed_rows.append({**values, "entry_id": entry_id})
    for start in range(0, len(new_rows), WRITE_BATCH):
        conn.execute(insert(dataset_entries), new_rows[start : start + WRITE_BATCH])
    if changed_rows:
        statement = (
            update(dataset_entries)
            .where(dataset_entries.c.id == bindparam("entry_id"))
            .values(
                label=bindparam("label"),
                image_sha256=bindparam("image_sha256"),
                mask_sha256=bindparam("mask_sha256"),
                anomaly_types=bindparam("anomaly_types", type_=dataset_entries.c.anomaly_types.type),
                entry_json=bindparam("entry_json"),
                updated_at=bindparam("updated_at"),
            )
        )
        for start in range(0, len(changed_rows), WRITE_BATCH):
            conn.execute(statement, changed_rows[start : start + WRITE_BATCH])


def delete_all_entries(conn: Connection, dataset_id: int) -> None:
    conn.execute(delete(dataset_entries).where(dataset_entries.c.dataset_id == dataset_id))


def bump_revision(conn: Connection, dataset_id: int, now: float) -> None:
    conn.execute(
        update(datasets)
        .where(datasets.c.id == dataset_id)
        .values(revision=datasets.c.revision + 1, updated_at=now)
    )


# --- anomaly labels -------------------------------------------------------------------------


def project_labels(conn: Connection, project_id: int) -> dict[str, str]:
    """The project's anomaly types: name -> colour (``#RRGGBB`` upper-case)."""
    rows = conn.execute(
        select(anomaly_labels.c.name, anomaly_labels.c.color).where(anomaly_labels.c.project_id == project_id)
    )
    return {r.name: r.color for r in rows}


def add_labels(conn: Connection, project_id: int, labels: dict[str, str]) -> None:
    if labels:
        conn.execute(
            insert(anomaly_labels),
            [{"project_id": project_id, "name": name, "color": color} for name, color in labels.items()],
        )


def delete_unused_labels(conn: Connection, project_id: int) -> None:
    """Forget anomaly types no remaining entry of the project uses."""
    used: set[str] = set()
    for entry in project_entries(conn, project_id):
        used.update(entry.anomaly_types)
    for name in project_labels(conn, project_id):
        if name not in used:
            conn.execute(
                delete(anomaly_labels).where(
                    anomaly_labels.c.project_id == project_id, anomaly_labels.c.name == name
                )
            )


def anomaly_mask_types(conn: Connection, dataset_id: int) -> tuple[list[tuple[str, ...]], int]:
    """Anomaly types of each anomalous entry with a mask, and the number of anomalous ones without."""
    c = dataset_entries.c
    rows = conn.execute(
        select(c.anomaly_types, c.mask_sha256).where(c.dataset_id == dataset_id, c.label == "anomaly")
    )
    with_mask: list[tuple[str, ...]] = []
    without = 0
    for row in rows:
        if row.mask_sha256 is None:
            without += 1
        else:
            with_mask.append(tuple(_json_list(row.anomaly_types)))
    return with_mask, without
