"""The media type a request body must declare: what the route expects, never what a web form sends.

A page on another site can make a browser send ``text/plain``, ``application/x-www-form-urlencoded``
or ``multipart/form-data`` bodies (or none declared) without asking the server first; the API
accepts only the JSON or image types its operations read, so such a post is refused before it
does anything. An empty body needs no type.
"""

from __future__ import annotations

from starlette.requests import Request

from openlookout.errors import ValidationException


def media_type(request: Request) -> str:
    """The declared ``Content-Type`` without parameters, in lower case ('' when absent)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_content_type(request: Request, body: bytes, accepted: tuple[str, ...]) -> None:
    """``ValidationException`` when ``body`` is not empty and declares none of ``accepted``."""
    if not body:
        return
    declared = media_type(request)
    if declared not in accepted:
        shown = declared[:100] or "none"
        raise ValidationException(
            f"The request body's content type is {shown}; this operation accepts {' or '.join(accepted)}."
        )
