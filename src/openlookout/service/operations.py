"""The operation table the API layer dispatches to: operation name -> handler.

Each handler takes ``(runtime, ctx, params)`` with params by model member name and returns the
output members (see docs/architecture.md). Only implemented operations are listed; the API layer
answers a clean error for the others. Every handler runs inside its installation's paging scope
(``paging.installation_scope``), so pagination tokens are signed with that installation's secret.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from openlookout.service import datasets, paging, projects, tags
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.model_operations import MODEL_OPERATIONS

Handler = Callable[[Runtime, RequestContext, dict[str, Any]], dict[str, Any]]


def in_installation_scope(handler: Handler) -> Handler:
    """``handler`` run with the paging secret of the runtime's installation."""

    def run(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with paging.installation_scope(getattr(runtime, "db", None)):
            return handler(runtime, ctx, params)

    run.__name__ = getattr(handler, "__name__", "handler")
    run.__doc__ = handler.__doc__
    run.__wrapped__ = handler  # type: ignore[attr-defined]
    return run


OPERATIONS: dict[str, Handler] = {
    name: in_installation_scope(handler)
    for name, handler in {
        "CreateProject": projects.create_project,
        "DescribeProject": projects.describe_project,
        "ListProjects": projects.list_projects,
        "DeleteProject": projects.delete_project,
        "TagResource": tags.tag_resource,
        "UntagResource": tags.untag_resource,
        "ListTagsForResource": tags.list_tags_for_resource,
        "CreateDataset": datasets.create_dataset,
        "DescribeDataset": datasets.describe_dataset,
        "DeleteDataset": datasets.delete_dataset,
        "ListDatasetEntries": datasets.list_dataset_entries,
        "UpdateDatasetEntries": datasets.update_dataset_entries,
    }.items()
}
# The model operations (CreateModel ... ListModelPackagingJobs) live in their own table.
OPERATIONS.update({name: in_installation_scope(h) for name, h in MODEL_OPERATIONS.items()})
