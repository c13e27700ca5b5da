"""The relational schema (SQLAlchemy Core tables). Migrations in ``store/migrations`` create it.

Timestamps are stored as float epoch seconds (the wire's format) for exact round trips on both
SQLite and PostgreSQL. Every resource row carries ``account_id`` and ``region``: the API scopes
everything to the caller's credential scope.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(255), nullable=False),
    Column("arn", String(512), nullable=False),
    Column("created_at", Float, nullable=False),
    # Width x height fixed by the first image imported into the project (all must match).
    Column("image_width", Integer),
    Column("image_height", Integer),
    UniqueConstraint("account_id", "region", "name", name="uq_projects_scope_name"),
)
# ListProjects order and paging: (creation time, name) within the caller's scope.
Index(
    "ix_projects_scope_created",
    projects.c.account_id,
    projects.c.region,
    projects.c.created_at,
    projects.c.name,
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("dataset_type", String(10), nullable=False),
    Column("status", String(64), nullable=False),
    Column("status_message", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # Bumped on every change of entries: paging tokens remember it to detect a changed dataset.
    Column("revision", Integer, nullable=False, default=0),
    UniqueConstraint("project_id", "dataset_type", name="uq_datasets_project_type"),
)

dataset_entries = Table(
    "dataset_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("source_ref", Text, nullable=False),
    # 'normal', 'anomaly' or NULL (unlabeled).
    Column("label", String(8)),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # Content hashes of the service's own copies in the blob store.
    Column("image_sha256", String(64), nullable=False),
    Column("mask_sha256", String(64)),
    # Anomaly type names present in the mask (JSON list), for the anomaly-type filter and minimums.
    Column("anomaly_types", JSON),
    # The entry as a Ground Truth JSON line, exactly as ListDatasetEntries returns it.
    Column("entry_json", Text, nullable=False),
    UniqueConstraint("dataset_id", "source_ref", name="uq_entries_dataset_ref"),
)
Index("ix_entries_dataset_id_id", dataset_entries.c.dataset_id, dataset_entries.c.id)
Index("ix_entries_dataset_created", dataset_entries.c.dataset_id, dataset_entries.c.created_at)
Index("ix_entries_dataset_image", dataset_entries.c.dataset_id, dataset_entries.c.image_sha256)

anomaly_labels = Table(
    "anomaly_labels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("color", String(7), nullable=False),
    UniqueConstraint("project_id", "name", name="uq_labels_project_name"),
)

tags = Table(
    "tags",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("resource_arn", String(1011), nullable=False),
    Column("key", String(128), nullable=False),
    Column("value", String(256), nullable=False),
    UniqueConstraint("resource_arn", "key", name="uq_tags_arn_key"),
)

idempotency_tokens = Table(
    "idempotency_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("operation", String(64), nullable=False),
    Column("token", String(64), nullable=False),
    Column("params_sha256", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response_json", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("account_id", "region", "operation", "token", name="uq_idem_scope_token"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    # queued -> running -> done | failed
    Column("state", String(16), nullable=False),
    Column("error", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # How many times a worker has started this job (a job interrupted by a stop is re-run).
    Column("attempts", Integer, nullable=False, default=0),
    # The server (node id) running the job and when it last said it was still at it.
    Column("owner", String(64)),
    Column("heartbeat_at", Float),
)
Index("ix_jobs_state_id", jobs.c.state, jobs.c.id)

installation = Table(
    "installation",
    metadata,
    # One row per installation-wide value, e.g. the secret that signs pagination tokens.
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    # 1, 2, 3 ... per project, never reused: a deleted model keeps its row (deleted_at set).
    Column("version", Integer, nullable=False),
    Column("arn", String(1011), nullable=False),
    Column("status", String(32), nullable=False),
    Column("status_message", Text),
    Column("description", String(500)),
    Column("kms_key_id", String(2048)),
    Column("output_bucket", String(63), nullable=False),
    Column("output_prefix", String(1024), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("deleted_at", Float),
    # Training results: {"F1Score", "Recall", "Precision"}; evaluation file keys in the output bucket.
    Column("performance", JSON),
    Column("evaluation_manifest_key", String(1024)),
    Column("evaluation_result_key", String(1024)),
    Column("evaluation_end_at", Float),
    # What the model was trained for: "classification" | "segmentation", the image size, the colour
    # map (#RRGGBB -> anomaly type, in type-index order) and the recorded train/test split.
    Column("kind", String(16)),
    Column("image_width", Integer),
    Column("image_height", Integer),
    Column("colors", JSON),
    Column("split", JSON),
    # Named blobs holding the fitted detector and its ONNX export.
    Column("detector_blob", String(512)),
    Column("onnx_blob", String(512)),
    # Hosting: the last StartModel's inference units.
    Column("min_inference_units", Integer),
    Column("max_inference_units", Integer),
    UniqueConstraint("project_id", "version", name="uq_models_project_version"),
)
Index("ix_models_status", models.c.status)

packaging_jobs = Table(
    "packaging_jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("job_name", String(64), nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("description", String(256)),
    Column("method", String(32), nullable=False),
    # The request's Configuration (Greengrass settings) as given, and the output details.
    Column("configuration", JSON, nullable=False),
    Column("component_name", String(128), nullable=False),
    Column("component_version", String(64), nullable=False),
    Column("output_details", JSON),
    Column("status", String(16), nullable=False),
    Column("status_message", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("project_id", "job_name", name="uq_packaging_project_job"),
)
Index("ix_packaging_component", packaging_jobs.c.component_name, packaging_jobs.c.component_version)


# --- the web console's own records (migration 0003_console) -------------------------------

# Anomaly types defined in the console (name + colour) before any mask uses them; the types the
# service knows from entries (``anomaly_labels``) always win on conflict.
console_anomaly_types = Table(
    "console_anomaly_types",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("color", String(7), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("project_id", "name", name="uq_console_types_project_name"),
    UniqueConstraint("project_id", "color", name="uq_console_types_project_color"),
)

# A trial detection: one trained model run over a folder or S3 prefix of new images.
trial_runs = Table(
    "trial_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("source_uri", Text, nullable=False),
    # RUNNING -> COMPLETED | FAILED
    Column("status", String(32), nullable=False),
    Column("status_message", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
Index("ix_trial_runs_project", trial_runs.c.project_id, trial_runs.c.id)

# One image of a trial: the model's prediction and the reviewer's verdict.
trial_images = Table(
    "trial_images",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("trial_id", Integer, ForeignKey("trial_runs.id", ondelete="CASCADE"), nullable=False),
    Column("source_ref", Text, nullable=False),
    Column("image_sha256", String(64)),
    # Why the image could not be judged (unreadable, wrong size ...); NULL when it was.
    Column("error", Text),
    Column("is_anomalous", Boolean),
    Column("confidence", Float),
    # The predicted anomaly mask (colour-indexed PNG blob) of a segmentation model.
    Column("mask_sha256", String(64)),
    # The reviewer's label ('normal' / 'anomaly'), NULL until reviewed.
    Column("verdict", String(8)),
    # The dataset type the verified image was added to, NULL until added.
    Column("added_to", String(10)),
    Column("updated_at", Float, nullable=False),
)
Index("ix_trial_images_trial", trial_images.c.trial_id, trial_images.c.id)

# Which account may read which of the service's stored files (images, masks) by their hash: filled
# when an account's entry, mask or trial image is stored, never emptied by deletions, so upload://
# references and the console's images resolve only for an account that stored those bytes itself.
blob_owners = Table(
    "blob_owners",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("sha256", String(64), primary_key=True),
)
