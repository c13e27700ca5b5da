"""Extension route: DetectAnomalies with an anomaly heatmap (not part of the AWS API).

``POST /openlookout/v1/projects/{project}/models/{version}/detect?heatmap=true`` with the image as
the raw body and ``Content-Type: image/png|image/jpeg`` answers
``{"DetectAnomalyResult": {...}}`` exactly like DetectAnomalies, plus ``Heatmap`` (base64 PNG of the
input's size, brighter red = more anomalous) when ``heatmap`` is ``true`` (the default here).
Same caller scope, checks and errors as DetectAnomalies.
"""

from __future__ import annotations

import base64
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from openlookout.api.authentication import Authenticator
from openlookout.api.http import guarded, json_response, read_body
from openlookout.errors import ValidationException
from openlookout.service.context import Runtime
from openlookout.service.detection import submit as submit_detection
from openlookout.spec.loader import ServiceModel
from openlookout.spec.validation import check_value

MAX_IMAGE_BYTES = 8 * 1024 * 1024


def heatmap_routes(runtime: Runtime, model: ServiceModel, auth: Authenticator) -> list[BaseRoute]:
    """The heatmap detection route bound to ``runtime``, its callers decided by ``auth``."""

    async def detect(request: Request) -> Response:
        async def handle(request_id: str) -> Response:
            signed = auth.check_headers(request)
            project = request.path_params["project"]
            version = request.path_params["version"]
            check_value(model, model.shape("ProjectName"), project, "project")
            check_value(model, model.shape("ModelVersion"), version, "model version")
            flag = request.query_params.get("heatmap", "true").lower()
            if flag not in ("true", "false", "1", "0"):
                raise ValidationException("The query parameter 'heatmap' must be true or false.")
            body = await read_body(request, limit=MAX_IMAGE_BYTES, require_length=True)
            ctx = auth.context(request, signed, body, request_id)
            pending = await run_in_threadpool(
                submit_detection,
                runtime,
                ctx,
                project,
                version,
                request.headers.get("content-type"),
                body,
                heatmap=flag in ("true", "1"),
            )
            result = await pending.wait()  # the units work; no thread is held meanwhile
            return json_response({"DetectAnomalyResult": _encoded(result)}, request_id)

        return await guarded(request, handle)

    return [Route("/openlookout/v1/projects/{project}/models/{version}/detect", detect, methods=["POST"])]


def _encoded(result: dict[str, Any]) -> dict[str, Any]:
    out = dict(result)
    for key in ("AnomalyMask", "Heatmap"):
        if isinstance(out.get(key), bytes):
            out[key] = base64.b64encode(out[key]).decode("ascii")
    return out
