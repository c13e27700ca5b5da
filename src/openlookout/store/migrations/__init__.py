"""Alembic migrations for the relational schema, shipped with the package (see ``store.migrate``)."""
