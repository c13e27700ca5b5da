"""Finding the caller's resources by the names the API uses, or the error the API answers.

Every function takes the caller's open connection, so a lookup joins whatever transaction the
caller is in (a handler that locks the project reads it in the same transaction). The modules of
the service import these instead of each other, which keeps the service free of import cycles.
"""

from __future__ import annotations

from sqlalchemy import Connection

from openlookout.errors import ResourceNotFoundException, ValidationException
from openlookout.service.context import RequestContext
from openlookout.store import entries as entry_store
from openlookout.store import models as model_store
from openlookout.store import projects as project_store
from openlookout.store.entries import DatasetRow
from openlookout.store.models import ModelRow
from openlookout.store.projects import ProjectRow

LATEST = "latest"


def dataset_resource_id(project_name: str, dataset_type: str) -> str:
    """The ``ResourceId`` errors about a dataset carry."""
    return f"{project_name}/{dataset_type}"


def model_resource_id(project_name: str, version: int | str) -> str:
    """The ``ResourceId`` errors about a model version that does not exist carry."""
    return f"{project_name}/{version}"


def require_project(conn: Connection, ctx: RequestContext, name: str) -> ProjectRow:
    """The caller's project called ``name``, or ResourceNotFoundException (ResourceType PROJECT)."""
    project = project_store.get_project(conn, ctx.account_id, ctx.region, name)
    if project is None:
        raise ResourceNotFoundException(
            f"Project '{name}' does not exist in account {ctx.account_id}, region {ctx.region}.",
            resource_id=name,
            resource_type="PROJECT",
        )
    return project


def require_dataset(
    conn: Connection, ctx: RequestContext, project_name: str, dataset_type: str
) -> DatasetRow:
    """The ``dataset_type`` dataset of the caller's project; ResourceNotFoundException (PROJECT or
    DATASET) when either is missing."""
    project = require_project(conn, ctx, project_name)
    dataset = entry_store.get_dataset(conn, project.id, dataset_type)
    if dataset is None:
        raise ResourceNotFoundException(
            f"Project {project_name} has no {dataset_type} dataset.",
            resource_id=dataset_resource_id(project_name, dataset_type),
            resource_type="DATASET",
        )
    return dataset


def resolve_model(
    conn: Connection, ctx: RequestContext, project_name: str, version: str
) -> tuple[ProjectRow, ModelRow]:
    """The caller's project and model ``version`` (a number or ``latest``); ResourceNotFoundException."""
    project = require_project(conn, ctx, project_name)
    if version == LATEST:
        model = model_store.latest_model(conn, project.id)
        missing = f"Project '{project_name}' has no models, so 'latest' names none."
    else:
        model = model_store.get_model(conn, project.id, version_number(version))
        missing = f"Model version {version} of project '{project_name}' does not exist."
    if model is None:
        raise ResourceNotFoundException(
            missing, resource_id=model_resource_id(project_name, version), resource_type="MODEL"
        )
    return project, model


def version_number(version: str) -> int:
    """A model version as a number (ValidationException for anything but 1, 2, ...)."""
    if not version.isdigit() or version.startswith("0") or len(version) > 10:
        raise ValidationException(f"'{version[:20]}' is not a model version (a number from 1, or 'latest').")
    return int(version)
