"""Projects: CreateProject, DescribeProject, ListProjects, DeleteProject.

Projects are scoped to the caller's account and region. Names are unique within that scope.
List order is stable: by creation time, then name.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from openlookout.errors import ConflictException, ResourceNotFoundException, ValidationException
from openlookout.service import arns
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.datasets import dataset_metadata
from openlookout.service.lookups import require_project
from openlookout.service.models import remaining_models
from openlookout.store import projects as project_store
from openlookout.store import tags as tag_store
from openlookout.store.projects import ProjectRow

DEFAULT_PAGE_SIZE = 100
RESOURCE_TYPE = "PROJECT"


def project_metadata(project: ProjectRow) -> dict[str, Any]:
    """The ProjectMetadata structure."""
    return {
        "ProjectArn": project.arn,
        "ProjectName": project.name,
        "CreationTimestamp": project.created_at,
    }


def create_project(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    name: str = params["ProjectName"]
    try:
        with runtime.db.begin() as conn:
            if project_store.get_project(conn, ctx.account_id, ctx.region, name) is not None:
                raise _already_exists(name)
            project = project_store.insert_project(
                conn,
                account_id=ctx.account_id,
                region=ctx.region,
                name=name,
                arn=arns.project_arn(ctx, name),
                created_at=time.time(),
            )
    except IntegrityError:
        raise _already_exists(name) from None  # created concurrently by another request
    return {"ProjectMetadata": project_metadata(project)}


def _already_exists(name: str) -> ConflictException:
    return ConflictException(
        f"A project named '{name}' already exists.", resource_id=name, resource_type=RESOURCE_TYPE
    )


def describe_project(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    with runtime.db.begin() as conn:
        project = require_project(conn, ctx, params["ProjectName"])
        summaries = project_store.project_datasets(conn, project.id)
    datasets = [dataset_metadata(s.dataset_type, s.created_at, s.status, s.status_message) for s in summaries]
    return {"ProjectDescription": {**project_metadata(project), "Datasets": datasets}}


def list_projects(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    limit = int(params.get("MaxResults") or DEFAULT_PAGE_SIZE)
    scope = {"op": "ListProjects", "account": ctx.account_id, "region": ctx.region}
    last_key = runtime.pager.decode(params.get("NextToken"), scope)
    after = _project_key(last_key)
    with runtime.db.begin() as conn:
        rows = project_store.list_projects(conn, ctx.account_id, ctx.region, after=after, limit=limit + 1)
    page, more = rows[:limit], len(rows) > limit
    result: dict[str, Any] = {"Projects": [project_metadata(p) for p in page]}
    if more:
        result["NextToken"] = runtime.pager.encode(scope, [page[-1].created_at, page[-1].name])
    return result


def _project_key(last_key: Any) -> tuple[float, str] | None:
    if last_key is None:
        return None
    # The token is signed, so its content is ours; the check only guards against old formats.
    if (
        isinstance(last_key, list)
        and len(last_key) == 2
        and isinstance(last_key[0], int | float)
        and isinstance(last_key[1], str)
    ):
        return float(last_key[0]), last_key[1]
    raise ValidationException("The pagination token is not valid for ListProjects.")


def blocking_children(conn: Connection, ctx: RequestContext, project: ProjectRow) -> list[str]:
    """What must be deleted before the project can be (its datasets and live model versions)."""
    datasets = [f"dataset '{d.dataset_type}'" for d in project_store.project_datasets(conn, project.id)]
    return datasets + remaining_models(conn, project.id)


def delete_project(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    name: str = params["ProjectName"]
    with runtime.db.begin() as conn:
        project = require_project(conn, ctx, name)
        if project_store.lock_project(conn, project.id) is None:  # deleted by a concurrent call
            raise ResourceNotFoundException(
                f"Project '{name}' was deleted by another request.",
                resource_id=name,
                resource_type=RESOURCE_TYPE,
            )
        remaining = blocking_children(conn, ctx, project)
        if remaining:
            raise ConflictException(
                f"Project '{name}' still has {', '.join(remaining)}; delete them before the project.",
                resource_id=name,
                resource_type=RESOURCE_TYPE,
            )
        tag_store.remove_tags_with_prefix(conn, arns.model_arn_prefix(ctx, name))
        project_store.delete_project(conn, project.id)
    return {"ProjectArn": project.arn}
