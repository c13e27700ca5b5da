"""Small HTTP helpers shared by the AWS routes and the extension routes.

Reading the caller's context, reading a body within a byte limit, JSON responses, and the one
``guarded`` wrapper that turns every failure into the AWS error format (a full or failing disk
becomes an ``InternalServerException`` saying so, other unexpected exceptions a generic one; the
traceback goes to the log only).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from openlookout.api.errors import JSON_CONTENT_TYPE, error_response
from openlookout.errors import InternalServerException, ServiceError, ValidationException
from openlookout.service.storage import storage_error, storage_reason
from openlookout.web.bodies import BodyRefused, read_bounded

log = logging.getLogger("openlookout.api")

REQUEST_ID_HEADER = "x-amzn-RequestId"


def new_request_id() -> str:
    return str(uuid.uuid4())


async def read_body(request: Request, *, limit: int, require_length: bool = False) -> bytes:
    """The whole body within ``limit`` bytes (``web.bodies.read_bounded``); ValidationException if not."""
    try:
        return await read_bounded(request, limit=limit, require_length=require_length)
    except BodyRefused as refusal:
        raise ValidationException(refusal.message) from None


def json_response(payload: Any, request_id: str, status_code: int = 200) -> Response:
    return raw_json_response(json.dumps(payload, separators=(",", ":")), request_id, status_code)


def raw_json_response(body: str | bytes, request_id: str, status_code: int) -> Response:
    return Response(
        body,
        status_code=status_code,
        headers={REQUEST_ID_HEADER: request_id},
        media_type=JSON_CONTENT_TYPE,
    )


async def guarded(request: Request, handle: Callable[[str], Awaitable[Response]]) -> Response:
    """Run ``handle(request_id)``; any error becomes an AWS-shaped error response."""
    request_id = new_request_id()
    try:
        return await handle(request_id)
    except ServiceError as error:
        return error_response(error, request_id)
    except Exception as exc:
        log.exception("unexpected error for %s %s (request %s)", request.method, request.url.path, request_id)
        reason = storage_reason(exc)
        if reason is not None:  # a full or failing disk: say so, in the AWS error format
            return error_response(storage_error(reason), request_id)
        generic = InternalServerException(
            f"The server hit an unexpected error; the details are in its log under request id {request_id}."
        )
        return error_response(generic, request_id)
