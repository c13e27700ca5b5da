"""Reading request bodies within a byte limit and a time limit: the one helper every route uses.

``read_bounded(request, limit=...)`` refuses a declared ``Content-Length`` above the route's limit
before reading a byte, and stops a streamed (chunked) body as soon as it passes the limit, so no
route ever holds more than ``limit`` bytes of a body. ``BodyGuard`` wraps the whole application:
it refuses any declared length above the server-wide ceiling (the largest route limit) and gives
every body a deadline, so a route that forgets the helper, or a client that sends one byte every
few seconds, cannot hold memory or a connection for long.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyRefused(Exception):
    """A request body that is not read: ``status`` (413, 408, 411 or 400) and a sentence."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BodyTooLarge(BodyRefused):
    status = 413


class BodyTimedOut(BodyRefused):
    status = 408


class LengthRequired(BodyRefused):
    status = 411


def declared_length(headers: Any) -> int | None:
    """The ``Content-Length`` header as a number (None when absent); ``BodyRefused`` when malformed."""
    declared = headers.get("content-length")
    if declared is None:
        return None
    text = declared.strip()
    if not text.isdigit() or len(text) > 19:
        raise BodyRefused("The Content-Length header is not a number.")
    return int(text)


def too_large(size: int | None, limit: int) -> BodyTooLarge:
    if size is None:
        return BodyTooLarge(f"The request body is larger than {limit} bytes.")
    return BodyTooLarge(f"The request body is {size} bytes; at most {limit} are accepted.")


async def read_bounded(request: Request, *, limit: int, require_length: bool = False) -> bytes:
    """The whole body, at most ``limit`` bytes (``BodyRefused`` subclasses otherwise).

    A declared length over the limit is refused before reading; a body without a declared length
    is read piece by piece and refused the moment it passes the limit.
    """
    declared = declared_length(request.headers)
    if declared is None and require_length:
        raise LengthRequired("This request needs a Content-Length header.")
    if declared is not None and declared > limit:
        raise too_large(declared, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(None, limit)
        chunks.append(chunk)
    return b"".join(chunks)


class BodyGuard:
    """ASGI middleware: the server-wide body ceiling and the body deadline (see the module doc).

    A refusal before the application answered is sent as a small JSON document with the
    refusal's status; the connection is then closed by the server, since the body was not read.
    """

    def __init__(self, app: ASGIApp, *, ceiling: int, timeout_s: float) -> None:
        self.app = app
        self.ceiling = ceiling
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            declared = declared_length(headers)
            if declared is not None and declared > self.ceiling:
                raise too_large(declared, self.ceiling)
        except BodyRefused as refusal:
            await _refuse(send, refusal)
            return
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        guarded = _GuardedReceive(receive, self.ceiling, time.monotonic() + self.timeout_s, self.timeout_s)
        try:
            await self.app(scope, guarded, tracked_send)
        except BodyRefused as refusal:
            if started:
                raise
            await _refuse(send, refusal)


class _GuardedReceive:
    """``receive`` with a running byte count and a deadline for the whole body."""

    def __init__(self, receive: Receive, ceiling: int, deadline: float, timeout_s: float) -> None:
        self.receive = receive
        self.ceiling = ceiling
        self.deadline = deadline
        self.timeout_s = timeout_s
        self.size = 0
        self.finished = False

    async def __call__(self) -> Message:
        if self.finished:
            return await self.receive()
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _timed_out(self.timeout_s)
        try:
            message = await asyncio.wait_for(self.receive(), left)
        except TimeoutError:
            raise _timed_out(self.timeout_s) from None
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.ceiling:
                raise too_large(None, self.ceiling)
            if not message.get("more_body", False):
                self.finished = True
        else:
            self.finished = True
        return message


def _timed_out(timeout_s: float) -> BodyTimedOut:
    return BodyTimedOut(f"The request body did not arrive within {timeout_s:g} seconds.")


async def _refuse(send: Send, refusal: BodyRefused) -> None:
    body = json.dumps({"message": refusal.message, "Message": refusal.message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": refusal.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
