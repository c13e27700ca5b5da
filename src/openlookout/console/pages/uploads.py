"""Image uploads from the project page's drop zone (``static/console.js``), as the console's user.

``POST /console/api/projects/{name}/datasets/{type}/images?name=<file name>&label=normal|anomaly``
with the image's bytes as the body (``application/octet-stream`` or the image's own type) answers
``{"SourceRef": "upload://<sha256>/<name>"}``, or ``{"message": ...}`` with the refusal's status. It
runs ``service.imports.add_image``, the function behind the API's upload route, so the same rules
apply; unlike that route it needs a console session instead of a signature.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from openlookout.console.calls import console_context
from openlookout.console.routing import Binder, refusal_json
from openlookout.errors import ServiceError, ValidationException
from openlookout.service.context import Runtime
from openlookout.service.imports import add_image

MAX_IMAGE_BYTES = 8 * 1024 * 1024
# Read a little past the limit so an image just too large gets its sizes in a JSON answer the page
# shows; beyond this the body is refused unread (and the browser may see only the status).
MAX_BODY_BYTES = 2 * MAX_IMAGE_BYTES
BODY_TYPES = ("application/octet-stream", "image/png", "image/jpeg")


def upload_image(runtime: Runtime, request: Request, body: bytes) -> Response:
    declared = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    name = request.query_params.get("name", "")
    label = request.query_params.get("label") or None
    try:
        if len(body) > MAX_IMAGE_BYTES:
            raise ValidationException(
                f"The request body is {len(body)} bytes; at most {MAX_IMAGE_BYTES} are accepted."
            )
        if declared not in BODY_TYPES:
            raise ValidationException(
                "Send the image's bytes as application/octet-stream, image/png or image/jpeg."
            )
        project, dataset_type = request.path_params["name"], request.path_params["dataset_type"]
        ref = add_image(runtime, console_context(), project, dataset_type, name, body, label)
    except ServiceError as exc:
        return refusal_json(exc)
    return JSONResponse({"SourceRef": ref})


def routes(console: Binder) -> list[BaseRoute]:
    """The upload route of the project page."""
    path = "/console/api/projects/{name}/datasets/{dataset_type}/images"
    return [
        Route(
            path,
            console.action(upload_image, max_body=MAX_BODY_BYTES),
            methods=["POST"],
            name="upload_image",
        )
    ]
