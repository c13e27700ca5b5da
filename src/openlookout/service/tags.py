"""Tags on models: TagResource, UntagResource, ListTagsForResource.

Only model ARNs are taggable (``arn:aws:lookoutvision:<region>:<account>:model/<project>/<version>``).
Tags are stored per ARN; keys starting with ``aws:`` are reserved, as on AWS. At most 200 tags per
resource; existing keys are overwritten. ``require_taggable`` is the one place that decides whether
the ARN names an existing resource of the caller: the caller's scope, the project, then the model.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from openlookout.errors import ResourceNotFoundException, ServiceQuotaExceededException, ValidationException
from openlookout.service import arns
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.models import model_exists
from openlookout.store import projects as project_store
from openlookout.store import tags as tag_store

MAX_TAGS_PER_RESOURCE = 200
TAG_QUOTA_CODE = "tags-per-resource"
RESERVED_PREFIX = "aws:"


def require_taggable(conn: Connection, ctx: RequestContext, arn: str) -> str:
    """Check that ``arn`` is a model ARN of an existing resource of the caller; returns the ARN."""
    parts = arns.parse_model_arn(arn)
    if parts.region != ctx.region or parts.account != ctx.account_id:
        raise ResourceNotFoundException(
            f"Model '{arn}' is not in your account {ctx.account_id} and region {ctx.region}.",
            resource_id=arn,
            resource_type="MODEL",
        )
    project = project_store.get_project(conn, ctx.account_id, ctx.region, parts.project)
    if project is None:
        raise ResourceNotFoundException(
            f"Project '{parts.project}' of model '{arn}' does not exist.",
            resource_id=parts.project,
            resource_type="PROJECT",
        )
    if not model_exists(conn, project.id, int(parts.version)):
        raise ResourceNotFoundException(
            f"Model '{arn}' does not exist.", resource_id=arn, resource_type="MODEL"
        )
    return arn


def tag_resource(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    arn: str = params["ResourceArn"]
    new_tags: dict[str, str] = {}
    for tag in params.get("Tags") or []:
        new_tags[tag["Key"]] = tag.get("Value", "")
    reserved = sorted(key for key in new_tags if key.lower().startswith(RESERVED_PREFIX))
    if reserved:
        raise ValidationException(
            f"Tag keys starting with '{RESERVED_PREFIX}' are reserved for the system: {', '.join(reserved)}."
        )
    with runtime.db.begin() as conn:
        require_taggable(conn, ctx, arn)
        present = tag_store.existing_keys(conn, arn, new_tags)
        total = tag_store.count_tags(conn, arn) + len(set(new_tags) - present)
        if total > MAX_TAGS_PER_RESOURCE:
            raise ServiceQuotaExceededException(
                f"A resource can have at most {MAX_TAGS_PER_RESOURCE} tags; this request would give "
                f"'{arn}' {total}.",
                quota_code=TAG_QUOTA_CODE,
                resource_id=arn,
                resource_type="MODEL",
            )
        tag_store.put_tags(conn, arn, new_tags)
    return {}


def untag_resource(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    arn: str = params["ResourceArn"]
    keys: list[str] = list(params.get("TagKeys") or [])
    with runtime.db.begin() as conn:
        require_taggable(conn, ctx, arn)
        tag_store.remove_tags(conn, arn, keys)
    return {}


def list_tags_for_resource(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    arn: str = params["ResourceArn"]
    with runtime.db.begin() as conn:
        require_taggable(conn, ctx, arn)
        found = tag_store.list_tags(conn, arn)
    return {"Tags": [{"Key": t.key, "Value": t.value} for t in found]}
