"""Which account stored which blob (tenant isolation of upload:// references and console images).

Revision ID: 0004_blob_owners
Revises: 0003_console

Existing data is owned by the accounts whose entries and trial images refer to it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_blob_owners"
down_revision = "0003_console"
branch_labels = None
depends_on = None

_ENTRIES = (
    "SELECT p.account_id, e.{column} FROM dataset_entries e JOIN datasets d ON d.id = e.dataset_id "
    "JOIN projects p ON p.id = d.project_id WHERE e.{column} IS NOT NULL"
)
_TRIALS = (
    "SELECT p.account_id, i.{column} FROM trial_images i JOIN trial_runs r ON r.id = i.trial_id "
    "JOIN projects p ON p.id = r.project_id WHERE i.{column} IS NOT NULL"
)


def upgrade() -> None:
    op.create_table(
        "blob_owners",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "sha256"),
    )
    owned = " UNION ".join(
        query.format(column=column)
        for query in (_ENTRIES, _TRIALS)
        for column in ("image_sha256", "mask_sha256")
    )
    op.execute(f"INSERT INTO blob_owners (account_id, sha256) {owned}")


def downgrade() -> None:
    op.drop_table("blob_owners")
