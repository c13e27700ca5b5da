"""The model operations' handlers, by operation name (merged into ``service.operations.OPERATIONS``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from openlookout.service import detection, hosting_control, models, packaging
from openlookout.service.context import RequestContext, Runtime

Handler = Callable[[Runtime, RequestContext, dict[str, Any]], dict[str, Any]]

MODEL_OPERATIONS: dict[str, Handler] = {
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
