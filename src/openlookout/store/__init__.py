"""Relational storage: tables, migrations, repository functions (SQLite default, PostgreSQL)."""
