"""The operation table the API layer dispatches to: operation name -> handler.

Each handler takes ``(runtime, ctx, params)`` with params by model member name and returns the
output members (see docs/architecture.md). Only implemented operations are listed; the API layer
answers a clean error for the others. ``run_operation`` runs one with the API's input checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from openlookout.errors import ValidationException
from openlookout.service import datasets, detection, hosting_control, models, packaging, projects, tags
from openlookout.service.context import RequestContext, Runtime
from openlookout.spec.loader import load_service_model
from openlookout.spec.validation import validate_params

Handler = Callable[[Runtime, RequestContext, dict[str, Any]], dict[str, Any]]

OPERATIONS: dict[str, Handler] = {
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
    "CreateModel": models.create_model,
    "DescribeModel": models.describe_model,
    "ListModels": models.list_models,
    "DeleteModel": models.delete_model,
    "StartModel": hosting_control.start_model,
    "StopModel": hosting_control.stop_model,
    "DetectAnomalies": detection.detect_anomalies,
    "StartModelPackagingJob": packaging.start_model_packaging_job,
    "DescribeModelPackagingJob": packaging.describe_model_packaging_job,
    "ListModelPackagingJobs": packaging.list_model_packaging_jobs,
}


# Handlers whose answer the API may await in its event loop rather than in a worker thread: each
# maps to a function that checks and submits the work and returns an object whose ``wait()`` gives
# the same output members.
DEFERRED_HANDLERS: dict[Handler, Callable[[Runtime, RequestContext, dict[str, Any]], Any]] = {
    detection.detect_anomalies: detection.start_detect_anomalies,
}


def run_operation(
    runtime: Runtime, ctx: RequestContext, operation: str, params: dict[str, Any]
) -> dict[str, Any]:
    """Check ``params`` against the API model as the wire layer does, then run ``operation``.

    For callers inside the server (the web console) that must obey exactly the API's rules;
    ``ValidationException`` for bad parameters or an operation this server does not implement.
    """
    model = load_service_model()
    found = model.operations.get(operation)
    handler = OPERATIONS.get(operation)
    if found is None or handler is None:
        raise ValidationException(f"{operation} is not available on this server.")
    shape = model.input_of(found)
    if shape is not None:
        validate_params(model, shape, params)
    return handler(runtime, ctx, params)
