"""Model versions: CreateModel, DescribeModel, ListModels, DeleteModel, and the lookups others use.

Rules (spec b.4 10-13, f.2):

- CreateModel refuses with ConflictException while a dataset of the project is busy or failed, or
  while another model of the project is TRAINING; with ValidationException naming what is missing
  when the labeled minimums are not met. Otherwise it allocates the next version (never reused),
  stores Description, KmsKeyId, OutputConfig and Tags, and submits the ``model.train`` job in the
  same transaction (so no model is TRAINING without a job).
- ``latest`` names the highest live version; DeleteModel takes numbers only (the API checks that).
- DeleteModel is refused while TRAINING or in any hosting state; the row is marked deleted at once
  (the version number stays taken) and the model's tags go with it.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection

from openlookout.errors import ConflictException, ValidationException
from openlookout.service import arns
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.lookups import require_project, resolve_model
from openlookout.service.readiness import training_readiness
from openlookout.service.states import DATASET_STABLE, MODEL_DELETABLE, ModelStatus
from openlookout.service.status_messages import model_status_message
from openlookout.service.tenancy import require_s3
from openlookout.store import entries as entry_store
from openlookout.store import models as repo
from openlookout.store import projects as project_store
from openlookout.store import tags as tag_store
from openlookout.store.models import ModelRow
from openlookout.store.projects import ProjectRow

TRAIN_JOB = "model.train"
# The training job (``service.model_training``) reads its states under these names.
TRAINING = ModelStatus.TRAINING
TRAINED = ModelStatus.TRAINED
TRAINING_FAILED = ModelStatus.TRAINING_FAILED
DEFAULT_PAGE = 100
RESERVED_TAG_PREFIX = "aws:"


# --- checks used by the other model modules ------------------------------------------------


def state_conflict(project_name: str, model: ModelRow, action: str) -> ConflictException:
    return ConflictException(
        f"Model version {model.version} of project '{project_name}' is {model.status}; "
        f"it cannot be {action}.",
        resource_id=model.arn,
        resource_type="MODEL",
    )


def model_exists(conn: Connection, project_id: int, version: int) -> bool:
    """Whether the project has live model ``version`` (for the tagging code)."""
    return repo.get_model(conn, project_id, version) is not None


def remaining_models(conn: Connection, project_id: int) -> list[str]:
    """Human-readable names of the project's live models (DeleteProject refuses while any remain)."""
    return [f"model version {m.version}" for m in repo.project_models(conn, project_id)]


def training_in_progress(runtime: Runtime, project_id: int) -> bool:
    """Whether a model of the project is TRAINING (DeleteDataset refuses then)."""
    with runtime.db.begin() as conn:
        return any(m.status == ModelStatus.TRAINING for m in repo.project_models(conn, project_id))


def require_no_training(runtime: Runtime, project_name: str, project_id: int, dataset_type: str) -> None:
    """ConflictException when a model of the project is training (its datasets must stay)."""
    if training_in_progress(runtime, project_id):
        raise ConflictException(
            f"A model of project '{project_name}' is training from its datasets; the {dataset_type} "
            "dataset cannot be deleted until training ends.",
            resource_id=f"{project_name}/{dataset_type}",
            resource_type="DATASET",
        )


# --- shapes ---------------------------------------------------------------------------------


def model_metadata(model: ModelRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "CreationTimestamp": model.created_at,
        "ModelVersion": str(model.version),
        "ModelArn": model.arn,
        "Status": model.status,
        "StatusMessage": model_status_message(model.status, model.status_message),
    }
    if model.description:
        out["Description"] = model.description
    if model.performance:
        out["Performance"] = dict(model.performance)
    return out


def model_description(model: ModelRow) -> dict[str, Any]:
    out = model_metadata(model)
    # Prefix always present (empty when none was given): AWS's examples read it unconditionally.
    location: dict[str, Any] = {"Bucket": model.output_bucket, "Prefix": model.output_prefix or ""}
    out["OutputConfig"] = {"S3Location": location}
    if model.evaluation_manifest_key:
        out["EvaluationManifest"] = {"Bucket": model.output_bucket, "Key": model.evaluation_manifest_key}
    if model.evaluation_result_key:
        out["EvaluationResult"] = {"Bucket": model.output_bucket, "Key": model.evaluation_result_key}
    if model.evaluation_end_at is not None:
        out["EvaluationEndTimestamp"] = model.evaluation_end_at
    if model.kms_key_id:
        out["KmsKeyId"] = model.kms_key_id
    out.update(_inference_units(model))
    return out


def _inference_units(model: ModelRow) -> dict[str, int]:
    """Min/MaxInferenceUnits of the last StartModel; without a MaxInferenceUnits the model does not
    scale, so its maximum is its minimum."""
    if model.min_inference_units is None:
        return {}
    maximum = model.max_inference_units or model.min_inference_units
    return {"MinInferenceUnits": model.min_inference_units, "MaxInferenceUnits": maximum}


# --- handlers -------------------------------------------------------------------------------


def create_model(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    project_name = str(params["ProjectName"])
    location = (params.get("OutputConfig") or {}).get("S3Location") or {}
    bucket = location.get("Bucket")
    if not bucket:
        raise ValidationException(
            "OutputConfig.S3Location.Bucket is required: training writes its evaluation there."
        )
    prefix = str(location.get("Prefix") or "")
    require_s3(runtime, ctx, str(bucket), prefix)
    tags = {str(t["Key"]): str(t.get("Value", "")) for t in params.get("Tags") or []}
    reserved = sorted(k for k in tags if k.lower().startswith(RESERVED_TAG_PREFIX))
    if reserved:
        raise ValidationException(
            f"Tag keys starting with '{RESERVED_TAG_PREFIX}' are reserved for the system: "
            f"{', '.join(reserved)}."
        )
    with runtime.db.begin() as conn:
        project = require_project(conn, ctx, project_name)
        _require_stable_datasets(conn, project)
        _require_no_other_training(conn, project)
    readiness = training_readiness(runtime, ctx, project_name)
    if not readiness.ready:
        raise ValidationException(
            f"Project '{project_name}' cannot train a model yet: {'; '.join(readiness.missing)}."
        )
    now = time.time()
    with runtime.db.begin() as conn:
        project = require_project(conn, ctx, project_name)
        project_store.lock_project(conn, project.id)
        _require_stable_datasets(conn, project)
        _require_no_other_training(conn, project)
        version = repo.next_version(conn, project.id)
        arn = arns.model_arn(ctx, project_name, version)
        model = repo.insert_model(
            conn,
            project_id=project.id,
            version=version,
            arn=arn,
            status=ModelStatus.TRAINING,
            status_message="Training has been queued.",
            description=params.get("Description"),
            kms_key_id=params.get("KmsKeyId"),
            output_bucket=str(bucket),
            output_prefix=prefix,
            created_at=now,
            updated_at=now,
            kind=readiness.kind,
        )
        if tags:
            tag_store.put_tags(conn, arn, tags)
        runtime.jobs.submit(TRAIN_JOB, {"model_id": model.id}, conn=conn)
    return {"ModelMetadata": model_metadata(model)}


def _require_stable_datasets(conn: Connection, project: ProjectRow) -> None:
    for dataset in entry_store.list_project_datasets(conn, project.id):
        if dataset.status not in DATASET_STABLE:
            raise ConflictException(
                f"The {dataset.dataset_type} dataset of project '{project.name}' is {dataset.status}; "
                "a model can only be trained from datasets that finished importing.",
                resource_id=f"{project.name}/{dataset.dataset_type}",
                resource_type="DATASET",
            )


def _require_no_other_training(conn: Connection, project: ProjectRow) -> None:
    for model in repo.project_models(conn, project.id):
        if model.status == ModelStatus.TRAINING:
            raise ConflictException(
                f"Model version {model.version} of project '{project.name}' is still training; "
                "wait for it to finish before training another.",
                resource_id=model.arn,
                resource_type="MODEL",
            )


def describe_model(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    with runtime.db.begin() as conn:
        _, model = resolve_model(conn, ctx, str(params["ProjectName"]), str(params["ModelVersion"]))
    return {"ModelDescription": model_description(model)}


def list_models(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    project_name = str(params["ProjectName"])
    limit = int(params.get("MaxResults") or DEFAULT_PAGE)
    scope = {"op": "ListModels", "account": ctx.account_id, "region": ctx.region, "project": project_name}
    last = runtime.pager.decode(params.get("NextToken"), scope)
    if last is not None and not isinstance(last, int):
        raise ValidationException("The pagination token is not valid for ListModels.")
    with runtime.db.begin() as conn:
        project = require_project(conn, ctx, project_name)
        rows = repo.list_models(conn, project.id, after_version=last, limit=limit + 1)
    out: dict[str, Any] = {"Models": [model_metadata(m) for m in rows[:limit]]}
    if len(rows) > limit:
        out["NextToken"] = runtime.pager.encode(scope, rows[limit - 1].version)
    return out


def delete_model(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    project_name = str(params["ProjectName"])
    version = str(params["ModelVersion"])
    if version == "latest":
        raise ValidationException("DeleteModel needs a model version number; 'latest' is not accepted.")
    with runtime.db.begin() as conn:
        project, model = resolve_model(conn, ctx, project_name, version)
        project_store.lock_project(conn, project.id)
        if model.status not in MODEL_DELETABLE:
            raise state_conflict(project_name, model, "deleted (stop or wait for it first)")
        now = time.time()
        changed = repo.update_model(
            conn,
            model.id,
            expect_status=[model.status],
            status=ModelStatus.DELETING,
            updated_at=now,
            deleted_at=now,
        )
        if not changed:
            raise state_conflict(project_name, model, "deleted now")
        tag_store.remove_tags(conn, model.arn, [t.key for t in tag_store.list_tags(conn, model.arn)])
    return {"ModelArn": model.arn}
