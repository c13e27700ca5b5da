"""Model packaging jobs: StartModelPackagingJob, DescribeModelPackagingJob, ListModelPackagingJobs.

StartModelPackagingJob validates the Greengrass configuration (exactly one of TargetDevice and
TargetPlatform; no CompilerOptions with TargetDevice; CompilerOptions is a JSON object; an NVIDIA
accelerator needs ``gpu-code``, ``trt-ver`` and ``cuda-ver``), needs a TRAINED or HOSTED model,
refuses a job name used in the project and a component name+version already produced in the
account (ConflictException), keeps everything as given and submits the ``model.package`` job:
CREATED -> RUNNING -> SUCCEEDED | FAILED. The job writes under
``S3OutputLocation`` (Bucket/Prefix) ``<ComponentName>/<ComponentVersion>/bundle.zip`` and
``.../recipe.json`` (see ``openlookout.packaging.bundle``).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import Connection

from openlookout.errors import ConflictException, ResourceNotFoundException, ValidationException
from openlookout.jobs.runner import JobRunner
from openlookout.packaging.bundle import build_bundle, recipe
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.lookups import require_project, resolve_model
from openlookout.service.models import state_conflict
from openlookout.service.states import MODEL_PACKABLE, PACKAGING_FINISHED, PackagingStatus
from openlookout.service.status_messages import packaging_status_message
from openlookout.service.tenancy import require_s3
from openlookout.store import models as repo
from openlookout.store.models import ModelRow, PackagingJobRow
from openlookout.store.projects import ProjectRow

PACKAGE_JOB = "model.package"
METHOD = "Greengrass"
NVIDIA_OPTIONS = ("gpu-code", "trt-ver", "cuda-ver")
DEFAULT_PAGE = 100


def register_jobs(runner: JobRunner) -> None:
    runner.register(PACKAGE_JOB, run_packaging, on_failure=on_packaging_failure)


# --- validation -----------------------------------------------------------------------------


def check_greengrass(config: dict[str, Any]) -> None:
    """ValidationException with the precise reason for an unusable Greengrass configuration."""
    device, platform = config.get("TargetDevice"), config.get("TargetPlatform")
    if (device is None) == (platform is None):
        raise ValidationException(
            "Give exactly one of TargetDevice and TargetPlatform in the Greengrass configuration."
        )
    options_text = config.get("CompilerOptions")
    if device is not None and options_text is not None:
        raise ValidationException("CompilerOptions cannot be given together with TargetDevice.")
    options: dict[str, Any] = {}
    if options_text is not None:
        try:
            parsed = json.loads(options_text)
        except ValueError:
            raise ValidationException(
                'CompilerOptions must be a JSON object, e.g. {"mcpu": "core-avx2"}.'
            ) from None
        if not isinstance(parsed, dict):
            raise ValidationException('CompilerOptions must be a JSON object, e.g. {"mcpu": "core-avx2"}.')
        options = parsed
    if platform is not None and platform.get("Accelerator") == "NVIDIA":
        missing = [name for name in NVIDIA_OPTIONS if name not in options]
        if missing:
            raise ValidationException(
                "An NVIDIA accelerator needs the compiler options "
                + ", ".join(NVIDIA_OPTIONS)
                + f"; missing: {', '.join(missing)}."
            )


# --- handlers -------------------------------------------------------------------------------


def start_model_packaging_job(
    runtime: Runtime, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    project_name = str(params["ProjectName"])
    configuration = dict(params.get("Configuration") or {})
    greengrass = configuration.get("Greengrass")
    if not greengrass:
        raise ValidationException("Configuration.Greengrass is required.")
    check_greengrass(greengrass)
    output = greengrass.get("S3OutputLocation") or {}
    require_s3(runtime, ctx, str(output.get("Bucket") or ""), str(output.get("Prefix") or ""))
    job_name = str(params.get("JobName") or uuid.uuid4())
    now = time.time()
    with runtime.db.begin() as conn:
        project, model = resolve_model(conn, ctx, project_name, str(params["ModelVersion"]))
        if model.status not in MODEL_PACKABLE:
            raise state_conflict(project_name, model, "packaged (it must be TRAINED or HOSTED)")
        component_name = str(greengrass["ComponentName"])
        component_version = str(greengrass.get("ComponentVersion") or f"{model.version}.0.0")
        if repo.get_packaging_job(conn, project.id, job_name) is not None:
            raise ConflictException(
                f"Project '{project_name}' already has a packaging job named '{job_name}'.",
                resource_id=job_name,
                resource_type="MODEL_PACKAGE_JOB",
            )
        if repo.component_in_use(
            conn,
            ctx.account_id,
            ctx.region,
            component_name,
            component_version,
            failed_status=PackagingStatus.FAILED,
        ):
            raise ConflictException(
                f"Component {component_name} version {component_version} already exists; choose another "
                "ComponentVersion.",
                resource_id=f"{component_name}:{component_version}",
                resource_type="MODEL_PACKAGE_JOB",
            )
        job = repo.insert_packaging_job(
            conn,
            project_id=project.id,
            job_name=job_name,
            model_version=model.version,
            description=params.get("Description"),
            method=METHOD,
            configuration=_jsonable(configuration),
            component_name=component_name,
            component_version=component_version,
            status=PackagingStatus.CREATED,
            created_at=now,
            updated_at=now,
        )
        runtime.jobs.submit(
            PACKAGE_JOB,
            {"packaging_job_id": job.id, "account": ctx.account_id, "region": ctx.region},
            conn=conn,
        )
    return {"JobName": job_name}


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _require_job(conn: Connection, project: ProjectRow, job_name: str) -> PackagingJobRow:
    job = repo.get_packaging_job(conn, project.id, job_name)
    if job is None:
        raise ResourceNotFoundException(
            f"Project '{project.name}' has no packaging job named '{job_name}'.",
            resource_id=job_name,
            resource_type="MODEL_PACKAGE_JOB",
        )
    return job


def _metadata(project_name: str, job: PackagingJobRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "JobName": job.job_name,
        "ProjectName": project_name,
        "ModelVersion": str(job.model_version),
        "ModelPackagingMethod": job.method,
        "Status": job.status,
        "StatusMessage": packaging_status_message(job.status, job.status_message),
        "CreationTimestamp": job.created_at,
        "LastUpdatedTimestamp": job.updated_at,
    }
    if job.description:
        out["ModelPackagingJobDescription"] = job.description
    return out


def describe_model_packaging_job(
    runtime: Runtime, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    project_name = str(params["ProjectName"])
    with runtime.db.begin() as conn:
        project = require_project(conn, ctx, project_name)
        job = _require_job(conn, project, str(params["JobName"]))
    description = _metadata(project_name, job)
    description["ModelPackagingConfiguration"] = _configuration_used(job)
    if job.output_details:
        description["ModelPackagingOutputDetails"] = job.output_details
    return {"ModelPackagingDescription": description}


def _configuration_used(job: PackagingJobRow) -> dict[str, Any]:
    """The configuration as given, with the ComponentVersion the job chose when none was given."""
    greengrass = dict(job.configuration.get("Greengrass") or {})
    greengrass.setdefault("ComponentVersion", job.component_version)
    return {**job.configuration, "Greengrass": greengrass}


def list_model_packaging_jobs(
    runtime: Runtime, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    project_name = str(params["ProjectName"])
    limit = int(params.get("MaxResults") or DEFAULT_PAGE)
    scope = {
        "op": "ListModelPackagingJobs",
        "account": ctx.account_id,
        "region": ctx.region,
        "project": project_name,
    }
    last = runtime.pager.decode(params.get("NextToken"), scope)
    after: tuple[float, str] | None = None
    if last is not None:
        if not (
            isinstance(last, list)
            and len(last) == 2
            and isinstance(last[0], int | float)
            and isinstance(last[1], str)
        ):
            raise ValidationException("The pagination token is not valid for ListModelPackagingJobs.")
        after = (float(last[0]), last[1])
    with runtime.db.begin() as conn:
        project = require_project(conn, ctx, project_name)
        rows = repo.list_packaging_jobs(conn, project.id, after=after, limit=limit + 1)
    out: dict[str, Any] = {"ModelPackagingJobs": [_metadata(project_name, j) for j in rows[:limit]]}
    if len(rows) > limit:
        out["NextToken"] = runtime.pager.encode(scope, [rows[limit - 1].created_at, rows[limit - 1].job_name])
    return out


# --- the job --------------------------------------------------------------------------------


def _set(runtime: Runtime, job_id: int, **values: Any) -> None:
    with runtime.db.begin() as conn:
        repo.update_packaging_job(conn, job_id, updated_at=time.time(), **values)


def on_packaging_failure(runtime: Runtime, payload: dict[str, Any], message: str) -> None:
    _set(
        runtime,
        int(payload["packaging_job_id"]),
        status=PackagingStatus.FAILED,
        status_message=f"packaging failed: {message}",
    )


class PackagingFailed(Exception):
    """The job cannot make the package; the message is what its StatusMessage says."""


def run_packaging(runtime: Runtime, payload: dict[str, Any]) -> None:
    """The ``model.package`` job: CREATED -> RUNNING -> SUCCEEDED | FAILED."""
    job_id = int(payload["packaging_job_id"])
    with runtime.db.begin() as conn:
        job = repo.get_packaging_job_by_id(conn, job_id)
        if job is None or job.status in PACKAGING_FINISHED:
            return
        model = repo.get_model(conn, job.project_id, job.model_version)
    _set(runtime, job_id, status=PackagingStatus.RUNNING, status_message=None)
    try:
        _package(runtime, job, model)
    except PackagingFailed as exc:
        _set(runtime, job_id, status=PackagingStatus.FAILED, status_message=str(exc))
        return
    details = _output_details(job, str(payload.get("account", "")), str(payload.get("region", "")))
    _set(runtime, job_id, status=PackagingStatus.SUCCEEDED, status_message=None, output_details=details)


def _package(runtime: Runtime, job: PackagingJobRow, model: ModelRow | None) -> None:
    """Build the edge bundle and its recipe and write both under the job's output location."""
    if model is None or not model.onnx_blob:
        raise PackagingFailed(f"model version {job.model_version} no longer exists")
    greengrass = job.configuration.get("Greengrass") or {}
    bucket, base = _output_location(job, greengrass)
    try:
        onnx = runtime.blobs.get_named(model.onnx_blob)
    except Exception as exc:
        raise PackagingFailed(f"the model file cannot be read from storage ({exc})") from None
    platform = greengrass.get("TargetPlatform") or {}
    recipe_document = recipe(
        component_name=job.component_name,
        component_version=job.component_version,
        description=str(greengrass.get("ComponentDescription") or f"Anomaly detection model {model.arn}"),
        artifact_uri=f"s3://{bucket}/{base}bundle.zip",
        architecture=str(platform.get("Arch") or ("ARM64" if greengrass.get("TargetDevice") else "X86_64")),
    )
    bundle = build_bundle(onnx, _edge_metadata(job, model), recipe_document)
    try:
        runtime.s3.put_object(
            Bucket=bucket, Key=f"{base}bundle.zip", Body=bundle, ContentType="application/zip"
        )
        runtime.s3.put_object(
            Bucket=bucket,
            Key=f"{base}recipe.json",
            Body=json.dumps(recipe_document, indent=2).encode(),
            ContentType="application/json",
        )
    except (ClientError, BotoCoreError) as exc:
        raise PackagingFailed(f"the package cannot be written to s3://{bucket}/{base} ({exc})") from None


def _output_location(job: PackagingJobRow, greengrass: dict[str, Any]) -> tuple[str, str]:
    """(bucket, key prefix) the job writes ``bundle.zip`` and ``recipe.json`` under."""
    location = greengrass.get("S3OutputLocation") or {}
    prefix = str(location.get("Prefix") or "")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return str(location.get("Bucket") or ""), f"{prefix}{job.component_name}/{job.component_version}/"


def _edge_metadata(job: PackagingJobRow, model: ModelRow) -> dict[str, Any]:
    """The bundle's ``metadata.json``: what the edge runner needs to know about the model."""
    return {
        "format": "openlookout-edge/1",
        "model_arn": model.arn,
        "model_version": str(model.version),
        "kind": model.kind,
        "image_width": model.image_width,
        "image_height": model.image_height,
        "colors": dict(model.colors or {}),
        "component_name": job.component_name,
        "component_version": job.component_version,
        "threads": None,
    }


def _output_details(job: PackagingJobRow, account: str, region: str) -> dict[str, Any]:
    """ModelPackagingOutputDetails: the Greengrass component version the job made."""
    arn = (
        f"arn:aws:greengrass:{region}:{account}:components:"
        f"{job.component_name}:versions:{job.component_version}"
    )
    return {
        "Greengrass": {
            "ComponentVersionArn": arn,
            "ComponentName": job.component_name,
            "ComponentVersion": job.component_version,
        }
    }
