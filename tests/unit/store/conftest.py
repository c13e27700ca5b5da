"""Fixtures for the store tests: a migrated ``Database`` on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openlookout.store import migrate
from openlookout.store.db import Database


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A freshly migrated database of each supported kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    database = Database(url)
    migrate.upgrade(database)
    try:
        yield database
    finally:
        database.dispose()
