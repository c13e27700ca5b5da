"""Which account may read which stored blob (table ``blob_owners``): recorded, then asked."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from openlookout.store.tables import blob_owners, datasets, projects


def record(conn: Connection, account_id: str, hashes: Iterable[str | None]) -> None:
    """Let ``account_id`` read the blobs ``hashes`` (None entries skipped; repeats are harmless)."""
    rows = [{"account_id": account_id, "sha256": sha} for sha in sorted({h for h in hashes if h})]
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(blob_owners).values(rows).on_conflict_do_nothing())


def owns(conn: Connection, account_id: str, sha256: str) -> bool:
    """True when ``account_id`` stored the blob ``sha256`` itself."""
    query = select(blob_owners.c.sha256).where(
        blob_owners.c.account_id == account_id, blob_owners.c.sha256 == sha256
    )
    return conn.execute(query).first() is not None


def dataset_account(conn: Connection, dataset_id: int) -> str | None:
    """The account of the project that holds dataset ``dataset_id`` (None when it is gone)."""
    query = (
        select(projects.c.account_id)
        .select_from(datasets.join(projects, projects.c.id == datasets.c.project_id))
        .where(datasets.c.id == dataset_id)
    )
    return conn.execute(query).scalar_one_or_none()


def project_account(conn: Connection, project_id: int) -> str | None:
    """The account of project ``project_id`` (None when it is gone)."""
    query = select(projects.c.account_id).where(projects.c.id == project_id)
    return conn.execute(query).scalar_one_or_none()
