"""The mask editor's JSON routes: read an image's mask as a label map, save a painted one.

``GET /console/api/projects/{name}/datasets/{type}/mask?ref=...`` answers
``{"width", "height", "types": [{"name", "color"}], "runs"}`` (see ``service.masks``; no runs
when the image has no mask). ``POST`` to the same address takes the editor's label map and saves
it as the image's mask (``service.masks.save_mask``: an entry edit applied within the request).
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from openlookout.console.calls import console_context
from openlookout.console.routing import Binder, refusal_json
from openlookout.errors import ServiceError, ValidationException
from openlookout.service.context import Runtime
from openlookout.service.masks import read_mask, save_mask

# A run-length label map is small: a 4096 x 4096 map with two million runs fits in this.
MAX_BODY_BYTES = 16 * 1024 * 1024


def _target(request: Request) -> tuple[str, str, str]:
    p = request.path_params
    return p["name"], p["dataset_type"], request.query_params.get("ref", "")


def get_mask(runtime: Runtime, request: Request) -> Response:
    try:
        document = read_mask(runtime, console_context(), *_target(request))
    except ServiceError as exc:
        return refusal_json(exc)
    return JSONResponse(document, headers={"Cache-Control": "no-store"})


def post_mask(runtime: Runtime, request: Request, body: bytes) -> Response:
    try:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise ValidationException("The mask must be sent as JSON.") from None
        result = save_mask(runtime, console_context(), *_target(request), document)
    except ServiceError as exc:
        return refusal_json(exc)
    return JSONResponse(result)


def routes(console: Binder) -> list[BaseRoute]:
    """Reading and saving an image's mask (JSON)."""
    path = "/console/api/projects/{name}/datasets/{dataset_type}/mask"
    return [
        Route(path, console.page(get_mask), methods=["GET"], name="label_mask"),
        Route(path, console.action(post_mask, max_body=MAX_BODY_BYTES), methods=["POST"]),
    ]
