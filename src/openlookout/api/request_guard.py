"""The checks every request passes before any route sees it, and the headers every answer carries.

- ``Host`` must name this server: one of the allowed host names (``--allowed-host``, the bind
  address, ``localhost``, ``127.0.0.1`` and ``::1``), any port. A page on ``evil.example`` whose name
  an attacker re-points at 127.0.0.1 (DNS rebinding) sends ``Host: evil.example`` and is refused.
- ``Origin``, when a browser sends one, must be this server's own (same host and port as ``Host``);
  ``Origin: null`` (sandboxed frames, some redirects) is refused too.
- Every answer carries the anti-framing and hardening headers: ``X-Frame-Options: DENY``, a
  ``Content-Security-Policy`` with ``frame-ancestors 'none'`` and no inline script,
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``.

Refusals are 403 answers in the AWS error format (``AccessDeniedException``), which SDKs print
and browsers show as text.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openlookout.api.errors import error_response
from openlookout.api.http import new_request_id
from openlookout.errors import AccessDeniedException

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


def allowed_host_names(bind_host: str, extra: Iterable[str]) -> frozenset[str]:
    """The host names requests may address: the loopback names, the bind address and ``extra``."""
    names = {*LOOPBACK_NAMES, *extra}
    if bind_host:
        names.add(bind_host)
    return frozenset(name.strip().lower().strip("[]") for name in names if name.strip())


def host_name(host_header: str) -> str:
    """The name part of a ``Host`` header (port and IPv6 brackets removed), in lower case."""
    text = host_header.strip().lower()
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


class RequestGuard:
    """ASGI middleware: the Host and Origin checks, then the security headers on every answer."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: frozenset[str]) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(Headers(scope=scope))
        if refusal is not None:
            response = error_response(AccessDeniedException(refusal), new_request_id())
            await response(scope, receive, _with_security_headers(send))
            return
        await self.app(scope, receive, _with_security_headers(send))

    def refusal(self, headers: Headers) -> str | None:
        """Why a request with these headers is refused, or None."""
        host = headers.get("host", "")
        if host_name(host) not in self.allowed_hosts:
            return (
                f"The Host header '{host[:100]}' does not name this server; "
                "allow the name with --allowed-host if it is yours."
            )
        origin = headers.get("origin")
        if origin is not None and (origin == "null" or urlsplit(origin).netloc.lower() != host.lower()):
            return f"Refused: this request was sent by a page of another site ({origin[:100]})."
        return None


def _with_security_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {name.lower() for name, _ in message.get("headers", [])}
            added = [(name, value) for name, value in SECURITY_HEADERS if name not in present]
            message = {**message, "headers": [*message.get("headers", []), *added]}
        await send(message)

    return sending
