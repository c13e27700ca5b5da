"""Bring a database to the newest schema with the alembic revisions shipped inside the package.

No ``alembic.ini`` is needed: the configuration is built here and the migrations folder is located
next to this module. On PostgreSQL an advisory lock keeps two servers starting at once from
migrating the same database concurrently.

For developers adding a schema change (edit ``store/tables.py``, then write a revision)::

    python -m openlookout.store.migrate revision "add models table" --database-url sqlite:///dev.db
    python -m openlookout.store.migrate upgrade --database-url sqlite:///dev.db
    python -m openlookout.store.migrate current --database-url sqlite:///dev.db

``revision`` compares the database (upgraded first) with the tables and writes the differences as
a new revision file to review by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from openlookout.store.db import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_ID = 0x6F6C6B74  # arbitrary, constant: "olkt"


def alembic_config() -> Config:
    """An alembic configuration pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    return config


def head_revision() -> str | None:
    """The newest revision shipped with this version."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(db: Database) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, revision: str = "head") -> None:
    """Apply every pending migration (idempotent)."""
    config = alembic_config()
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def new_revision(db: Database, message: str) -> str:
    """Write a revision with the differences between the upgraded database and the tables."""
    upgrade(db)
    config = alembic_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        script = command.revision(config, message=message, autogenerate=True)
    if script is None or isinstance(script, list):
        raise RuntimeError("alembic did not write exactly one revision")
    return str(script.path)


def main(argv: list[str] | None = None) -> int:
    """``python -m openlookout.store.migrate {upgrade,current,revision}`` (developer tool)."""
    parser = argparse.ArgumentParser(prog="python -m openlookout.store.migrate")
    parser.add_argument("action", choices=["upgrade", "current", "revision"])
    parser.add_argument("message", nargs="?", default="", help="revision message (for 'revision')")
    parser.add_argument("--database-url", required=True, help="SQLAlchemy URL, e.g. sqlite:///dev.db")
    args = parser.parse_args(argv)
    db = Database(args.database_url)
    try:
        if args.action == "upgrade":
            upgrade(db)
            print(current_revision(db))
        elif args.action == "current":
            print(f"{current_revision(db)} (newest shipped: {head_revision()})")
        else:
            if not args.message:
                parser.error("'revision' needs a message")
            print(new_revision(db, args.message))
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
