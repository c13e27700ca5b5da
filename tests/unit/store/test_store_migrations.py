"""Migrations: the packaged revisions build exactly the schema of ``store/tables.py``, idempotently."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from openlookout.store import migrate
from openlookout.store.db import Database
from openlookout.store.tables import metadata


def test_upgrade_reaches_head_and_creates_every_table(db: Database) -> None:
    assert migrate.current_revision(db) == migrate.head_revision()
    assert migrate.head_revision() is not None
    tables = set(inspect(db.engine).get_table_names())
    assert set(metadata.tables) <= tables
    assert "alembic_version" in tables


def test_upgrade_twice_is_harmless(db: Database) -> None:
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision()


def test_migrated_schema_matches_the_table_definitions(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_migrations_need_no_alembic_ini_in_the_working_directory(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    database = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        assert migrate.current_revision(database) is None
        migrate.upgrade(database)
        assert migrate.current_revision(database) == migrate.head_revision()
    finally:
        database.dispose()


def test_servers_starting_together_on_one_postgresql_database_migrate_once(fresh_postgres_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from openlookout.store import installation

    databases = [Database(fresh_postgres_url) for _ in range(4)]

    def start(database: Database) -> bytes:
        migrate.upgrade(database)
        return installation.get_or_create_secret(database)

    try:
        with ThreadPoolExecutor(len(databases)) as pool:
            secrets = list(pool.map(start, databases))
        assert migrate.current_revision(databases[0]) == migrate.head_revision()
        assert len(set(secrets)) == 1  # one installation, one paging secret
    finally:
        for database in databases:
            database.dispose()


def test_downgrade_to_empty_and_back_up(db: Database) -> None:
    from alembic import command

    config = migrate.alembic_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert migrate.current_revision(db) is None
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision()
    assert set(metadata.tables) <= set(inspect(db.engine).get_table_names())


def test_the_initial_revision_is_written_out_not_taken_from_the_live_tables() -> None:
    source = (migrate.MIGRATIONS_DIR / "versions" / "0001_initial.py").read_text()
    assert "create_all" not in source and "store.tables" not in source
    for name in ("projects", "datasets", "dataset_entries", "anomaly_labels", "tags", "jobs", "installation"):
        assert f'op.create_table(\n        "{name}"' in source
