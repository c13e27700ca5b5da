"""The web console's own records: anomaly types defined before use, trial detections.

Revision ID: 0003_console
Revises: 0002_models

Written out column by column, like 0001 and 0002.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_console"
down_revision = "0002_models"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_anomaly_types",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name", name="uq_console_types_project_name"),
        sa.UniqueConstraint("project_id", "color", name="uq_console_types_project_color"),
    )
    op.create_table(
        "trial_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("source_uri", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_trial_runs_project", "trial_runs", ["project_id", "id"], unique=False)
    op.create_table(
        "trial_images",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("source_ref", sa.Text(), nullable=False),
        sa.Column("image_sha256", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("is_anomalous", sa.Boolean(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("mask_sha256", sa.String(length=64), nullable=True),
        sa.Column("verdict", sa.String(length=8), nullable=True),
        sa.Column("added_to", sa.String(length=10), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["trial_id"], ["trial_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_trial_images_trial", "trial_images", ["trial_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_trial_images_trial", table_name="trial_images")
    op.drop_table("trial_images")
    op.drop_index("ix_trial_runs_project", table_name="trial_runs")
    op.drop_table("trial_runs")
    op.drop_table("console_anomaly_types")
