"""Models and model packaging jobs.

Revision ID: 0002_models
Revises: 0001_initial
"""

from __future__ import annotations

from alembic import op

from openlookout.store.tables import metadata, models, packaging_jobs

revision = "0002_models"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

_TABLES = [models, packaging_jobs]


def upgrade() -> None:
    # 0001 builds every table of the metadata on a fresh database; create only what is missing.
    metadata.create_all(op.get_bind(), tables=_TABLES, checkfirst=True)


def downgrade() -> None:
    metadata.drop_all(op.get_bind(), tables=list(reversed(_TABLES)), checkfirst=True)
