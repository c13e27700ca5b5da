"""The operation table the API layer dispatches to: operation name -> handler.

Each handler takes ``(runtime, ctx, params)`` with params by model member name and returns the
output members (see docs/architecture.md). Only implemented operations are listed; the API layer
answers a clean error for the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from openlookout.service import datasets, detection, hosting_control, models, packaging, projects, tags
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
