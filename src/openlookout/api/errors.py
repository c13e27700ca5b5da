"""The AWS rest-json error wire format, in one place.

Status from the error class, ``x-amzn-ErrorType: <Name>``, ``x-amzn-RequestId``, and a JSON body
with ``message``/``Message`` plus the shape's extra body fields (``ResourceId``, ``ResourceType``,
``QuotaCode``, ``ServiceCode``). ``RetryAfterSeconds`` travels in the ``Retry-After`` header, as
the model binds it there.
"""

from __future__ import annotations

import json
from typing import ClassVar

from starlette.responses import Response

from openlookout.errors import ServiceError

JSON_CONTENT_TYPE = "application/json"
_HEADER_FIELDS = {"RetryAfterSeconds": "Retry-After"}


class UnknownOperationException(ServiceError):
    """No operation has this method and path (AWS answers unknown routes with this name too)."""

    code: ClassVar[str] = "UnknownOperationException"
    status: ClassVar[int] = 404


def error_response(error: ServiceError, request_id: str) -> Response:
    """The HTTP response for ``error``."""
    body: dict[str, str | int] = {"message": error.message, "Message": error.message}
    headers = {"x-amzn-ErrorType": error.code, "x-amzn-RequestId": request_id}
    for name, value in error.fields.items():
        if name in _HEADER_FIELDS:
            headers[_HEADER_FIELDS[name]] = str(value)
        else:
            body[name] = value
    return Response(
        json.dumps(body).encode(), status_code=error.status, headers=headers, media_type=JSON_CONTENT_TYPE
    )
