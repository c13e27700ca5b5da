"""Models and model packaging jobs.

Revision ID: 0002_models
Revises: 0001_initial

Written out column by column, like 0001, so that later edits of ``store/tables.py`` never change
what this revision does.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_models"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("arn", sa.String(length=1011), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("kms_key_id", sa.String(length=2048), nullable=True),
        sa.Column("output_bucket", sa.String(length=63), nullable=False),
        sa.Column("output_prefix", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("deleted_at", sa.Float(), nullable=True),
        sa.Column("performance", sa.JSON(), nullable=True),
        sa.Column("evaluation_manifest_key", sa.String(length=1024), nullable=True),
        sa.Column("evaluation_result_key", sa.String(length=1024), nullable=True),
        sa.Column("evaluation_end_at", sa.Float(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("image_width", sa.Integer(), nullable=True),
        sa.Column("image_height", sa.Integer(), nullable=True),
        sa.Column("colors", sa.JSON(), nullable=True),
        sa.Column("split", sa.JSON(), nullable=True),
        sa.Column("detector_blob", sa.String(length=512), nullable=True),
        sa.Column("onnx_blob", sa.String(length=512), nullable=True),
        sa.Column("min_inference_units", sa.Integer(), nullable=True),
        sa.Column("max_inference_units", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "version", name="uq_models_project_version"),
    )
    op.create_index("ix_models_status", "models", ["status"], unique=False)

    op.create_table(
        "packaging_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("job_name", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=256), nullable=True),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("configuration", sa.JSON(), nullable=False),
        sa.Column("component_name", sa.String(length=128), nullable=False),
        sa.Column("component_version", sa.String(length=64), nullable=False),
        sa.Column("output_details", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "job_name", name="uq_packaging_project_job"),
    )
    op.create_index(
        "ix_packaging_component", "packaging_jobs", ["component_name", "component_version"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_packaging_component", table_name="packaging_jobs")
    op.drop_table("packaging_jobs")
    op.drop_index("ix_models_status", table_name="models")
    op.drop_table("models")
