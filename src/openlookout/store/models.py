"""Repository functions for model versions and model packaging jobs.

A model row is never reused: DeleteModel sets ``deleted_at`` and every lookup here skips such
rows, so version numbers keep growing within a project (``next_version`` counts deleted ones too).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select, update

from openlookout.store.tables import dataset_entries, datasets, models, packaging_jobs, projects


@dataclass(frozen=True)
class ModelRow:
    """One model version and everything recorded about it."""

    id: int
    project_id: int
    version: int
    arn: str
    status: str
    status_message: str | None
    description: str | None
    kms_key_id: str | None
    output_bucket: str
    output_prefix: str
    created_at: float
    updated_at: float
    performance: dict[str, float] | None
    evaluation_manifest_key: str | None
    evaluation_result_key: str | None
    evaluation_end_at: float | None
    kind: str | None
    image_width: int | None
    image_height: int | None
    colors: dict[str, str] | None
    split: dict[str, Any] | None
    detector_blob: str | None
    onnx_blob: str | None
    min_inference_units: int | None
    max_inference_units: int | None


@dataclass(frozen=True)
class PackagingJobRow:
    """One model packaging job."""

    id: int
    project_id: int
    job_name: str
    model_version: int
    description: str | None
    method: str
    configuration: dict[str, Any]
    component_name: str
    component_version: str
    output_details: dict[str, Any] | None
    status: str
    status_message: str | None
    created_at: float
    updated_at: float


def _model(r: Any) -> ModelRow:
    return ModelRow(**{name: getattr(r, name) for name in ModelRow.__dataclass_fields__})


def _job(r: Any) -> PackagingJobRow:
    return PackagingJobRow(**{name: getattr(r, name) for name in PackagingJobRow.__dataclass_fields__})


_LIVE = models.c.deleted_at.is_(None)


# --- models ---------------------------------------------------------------------------------


def next_version(conn: Connection, project_id: int) -> int:
    """The number the project's next model gets (deleted versions are not reused)."""
    found = conn.execute(select(func.max(models.c.version)).where(models.c.project_id == project_id)).scalar()
    return int(found or 0) + 1


def insert_model(conn: Connection, **values: Any) -> ModelRow:
    result = conn.execute(models.insert().values(**values))
    key = result.inserted_primary_key
    assert key is not None
    row = get_model_by_id(conn, int(key[0]))
    assert row is not None
    return row


def get_model(conn: Connection, project_id: int, version: int) -> ModelRow | None:
    r = conn.execute(
        select(models).where(models.c.project_id == project_id, models.c.version == version, _LIVE)
    ).first()
    return _model(r) if r is not None else None


def get_model_by_id(conn: Connection, model_id: int) -> ModelRow | None:
    """The row by id, deleted or not (jobs use it to notice a deletion)."""
    r = conn.execute(select(models).where(models.c.id == model_id)).first()
    return _model(r) if r is not None else None


def latest_model(conn: Connection, project_id: int) -> ModelRow | None:
    r = conn.execute(
        select(models)
        .where(models.c.project_id == project_id, _LIVE)
        .order_by(models.c.version.desc())
        .limit(1)
    ).first()
    return _model(r) if r is not None else None


def list_models(
    conn: Connection, project_id: int, *, after_version: int | None, limit: int
) -> list[ModelRow]:
    """Live models in version order, starting after ``after_version``."""
    query = select(models).where(models.c.project_id == project_id, _LIVE)
    if after_version is not None:
        query = query.where(models.c.version > after_version)
    rows = conn.execute(query.order_by(models.c.version).limit(limit))
    return [_model(r) for r in rows]


def project_models(conn: Connection, project_id: int) -> list[ModelRow]:
    return list_models(conn, project_id, after_version=None, limit=1_000_000)


def models_in_status(conn: Connection, statuses: list[str]) -> list[ModelRow]:
    rows = conn.execute(select(models).where(models.c.status.in_(statuses), _LIVE).order_by(models.c.id))
    return [_model(r) for r in rows]


def update_model(
    conn: Connection, model_id: int, *, expect_status: list[str] | None = None, **values: Any
) -> bool:
    """Change a live model's columns; with ``expect_status`` only from one of those states."""
    query = update(models).where(models.c.id == model_id, _LIVE)
    if expect_status is not None:
        query = query.where(models.c.status.in_(expect_status))
    return conn.execute(query.values(**values)).rowcount > 0


def project_of_model(conn: Connection, model: ModelRow) -> tuple[str, str, str]:
    """(account_id, region, project name) of the model's project."""
    r = conn.execute(
        select(projects.c.account_id, projects.c.region, projects.c.name).where(
            projects.c.id == model.project_id
        )
    ).one()
    return str(r.account_id), str(r.region), str(r.name)


# --- packaging jobs -------------------------------------------------------------------------


def insert_packaging_job(conn: Connection, **values: Any) -> PackagingJobRow:
    result = conn.execute(packaging_jobs.insert().values(**values))
    key = result.inserted_primary_key
    assert key is not None
    r = conn.execute(select(packaging_jobs).where(packaging_jobs.c.id == int(key[0]))).one()
    return _job(r)


def get_packaging_job(conn: Connection, project_id: int, job_name: str) -> PackagingJobRow | None:
    r = conn.execute(
        select(packaging_jobs).where(
            packaging_jobs.c.project_id == project_id, packaging_jobs.c.job_name == job_name
        )
    ).first()
    return _job(r) if r is not None else None


def get_packaging_job_by_id(conn: Connection, job_id: int) -> PackagingJobRow | None:
    r = conn.execute(select(packaging_jobs).where(packaging_jobs.c.id == job_id)).first()
    return _job(r) if r is not None else None


def component_in_use(
    conn: Connection, account_id: str, region: str, name: str, version: str, *, failed_status: str
) -> bool:
    """Whether a packaging job of the scope already produced (or is producing) that component version
    (jobs in ``failed_status`` produced nothing)."""
    found = conn.execute(
        select(packaging_jobs.c.id)
        .select_from(packaging_jobs.join(projects, projects.c.id == packaging_jobs.c.project_id))
        .where(
            projects.c.account_id == account_id,
            projects.c.region == region,
            packaging_jobs.c.component_name == name,
            packaging_jobs.c.component_version == version,
            packaging_jobs.c.status != failed_status,
        )
        .limit(1)
    ).first()
    return found is not None


def list_packaging_jobs(
    conn: Connection, project_id: int, *, after: tuple[float, str] | None, limit: int
) -> list[PackagingJobRow]:
    """Jobs in (creation time, name) order, starting after ``after``."""
    query = select(packaging_jobs).where(packaging_jobs.c.project_id == project_id)
    if after is not None:
        created, name = after
        query = query.where(
            (packaging_jobs.c.created_at > created)
            | ((packaging_jobs.c.created_at == created) & (packaging_jobs.c.job_name > name))
        )
    rows = conn.execute(query.order_by(packaging_jobs.c.created_at, packaging_jobs.c.job_name).limit(limit))
    return [_job(r) for r in rows]


def update_packaging_job(conn: Connection, job_id: int, **values: Any) -> None:
    conn.execute(update(packaging_jobs).where(packaging_jobs.c.id == job_id).values(**values))


# --- training input -------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingEntry:
    """A labeled dataset entry as training reads it."""

    dataset_type: str
    source_ref: str
    label: str
    image_sha256: str
    mask_sha256: str | None
    entry_json: str


def labeled_entries(
    conn: Connection, project_id: int, *, source_ref: str | None = None
) -> list[TrainingEntry]:
    """Every labeled entry of the project's datasets, in a stable order (dataset type, entry id).

    With ``source_ref``, only the entries of that image (one per dataset holding it).
    """
    clauses = [datasets.c.project_id == project_id, dataset_entries.c.label.is_not(None)]
    if source_ref is not None:
        clauses.append(dataset_entries.c.source_ref == source_ref)
    rows = conn.execute(
        select(
            datasets.c.dataset_type,
            dataset_entries.c.source_ref,
            dataset_entries.c.label,
            dataset_entries.c.image_sha256,
            dataset_entries.c.mask_sha256,
            dataset_entries.c.entry_json,
        )
        .select_from(dataset_entries.join(datasets, datasets.c.id == dataset_entries.c.dataset_id))
        .where(*clauses)
        .order_by(datasets.c.dataset_type, dataset_entries.c.id)
    )
    return [
        TrainingEntry(r.dataset_type, r.source_ref, r.label, r.image_sha256, r.mask_sha256, r.entry_json)
        for r in rows
    ]


def model_names(conn: Connection, model_ids: Iterable[int]) -> dict[int, tuple[str, str, int]]:
    """(account_id, project name, version) of each of ``model_ids`` that exists."""
    wanted = list(model_ids)
    if not wanted:
        return {}
    rows = conn.execute(
        select(models.c.id, projects.c.account_id, projects.c.name, models.c.version)
        .join(projects, projects.c.id == models.c.project_id)
        .where(models.c.id.in_(wanted))
    ).all()
    return {int(r.id): (str(r.account_id), str(r.name), int(r.version)) for r in rows}
