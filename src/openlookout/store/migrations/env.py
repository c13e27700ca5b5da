"""Alembic environment: runs on the connection handed over by ``openlookout.store.migrate``.

Only online migrations are supported; ``store.migrate.upgrade`` passes an open connection in
``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from openlookout.store.tables import metadata

target_metadata = metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("openlookout migrations run through openlookout.store.migrate.upgrade()")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
