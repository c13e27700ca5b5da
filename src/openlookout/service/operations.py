"""The operation table the API layer dispatches to: operation name -> handler.

Each handler takes ``(runtime, ctx, params)`` with params by model member name and returns the
output members (see docs/architecture.md). Only implemented operations are listed; the API layer
answers a clean error for the others.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from openlookout.service import projects, tags
from openlookout.service.context import RequestContext, Runtime

Handler = Callable[[Runtime, RequestContext, dict[str, Any]], dict[str, Any]]

OPERATIONS: dict[str, Handler] = {
    "CreateProject": projects.create_project,
    "DescribeProject": projects.describe_project,
    "ListProjects": projects.list_projects,
    "DeleteProject": projects.delete_project,
    "TagResource": tags.tag_resource,
    "UntagResource": tags.untag_resource,
    "ListTagsForResource": tags.list_tags_for_resource,
}

_DATASET_OPERATIONS = {
    "CreateDataset": "create_dataset",
    "DescribeDataset": "describe_dataset",
    "DeleteDataset": "delete_dataset",
    "ListDatasetEntries": "list_dataset_entries",
    "UpdateDatasetEntries": "update_dataset_entries",
}


def _register_dataset_operations() -> None:
    # The datasets module is written in parallel; until it exists only the operations above are served.
    if importlib.util.find_spec("openlookout.service.datasets") is None:
        return
    datasets = importlib.import_module("openlookout.service.datasets")
    for operation, function in _DATASET_OPERATIONS.items():
        OPERATIONS[operation] = getattr(datasets, function)


_register_dataset_operations()
