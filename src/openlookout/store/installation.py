"""Installation-wide values kept in the database (created once, shared by every server on it)."""

from __future__ import annotations

import secrets
import time

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from openlookout.store.db import Database
from openlookout.store.tables import installation

PAGING_SECRET_KEY = "paging_secret"
INSTALLATION_ID_KEY = "installation_id"


def get_value(conn: Connection, key: str) -> str | None:
    return conn.execute(select(installation.c.value).where(installation.c.key == key)).scalar_one_or_none()


def get_or_create_secret(db: Database, key: str = PAGING_SECRET_KEY) -> bytes:
    """The random 32-byte secret stored under ``key``, created on first use."""
    with db.begin() as conn:
        existing = get_value(conn, key)
    if existing is None:
        try:
            with db.begin() as conn:
                conn.execute(
                    installation.insert().values(key=key, value=secrets.token_hex(32), created_at=time.time())
                )
        except IntegrityError:
            pass  # another server created it at the same moment
        with db.begin() as conn:
            existing = get_value(conn, key)
    assert existing is not None
    return bytes.fromhex(existing)


def installation_id(db: Database) -> str:
    """A random name of this installation (the database every server of it shares), 12 hex digits:
    it keeps the names of its work apart from another installation's on a shared Ray cluster."""
    return get_or_create_secret(db, INSTALLATION_ID_KEY).hex()[:12]
