"""Initial schema (temporary: creates the current tables from metadata until the explicit revision).

Revision ID: 0001_initial
Revises:
"""

from __future__ import annotations

from alembic import op

from openlookout.store.tables import metadata

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata.drop_all(op.get_bind())
