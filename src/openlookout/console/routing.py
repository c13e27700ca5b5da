"""How console pages become endpoints: HTML-only routes, plain functions, the cross-site check.

A page module lists its routes in ``routes(console: Binder)``. A page that only reads is a plain
function ``(runtime, request) -> Response`` and becomes a plain ``def`` endpoint, which Starlette
runs in its thread pool. An action (a form post or a JSON post) is a plain function
``(runtime, request, body) -> Response``: its endpoint refuses posts from pages of other sites,
reads the body within the route's limit (``web.bodies.read_bounded``; forms 1 MiB unless the
route says otherwise) and runs the function in the thread pool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

from openlookout.console.forms import MAX_FORM_BYTES
from openlookout.errors import ServiceError
from openlookout.service.context import Runtime
from openlookout.web.bodies import BodyRefused, read_bounded

Page = Callable[[Runtime, Request], Response]
Action = Callable[[Runtime, Request, bytes], Response]
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def refusal_json(exc: ServiceError) -> JSONResponse:
    """A refusal from the service as the JSON the pages' scripts read (``message``), with its status."""
    return JSONResponse({"message": exc.message}, status_code=exc.status)


class PageRoute(Route):
    """A console page: answers only requests that ask for HTML (browsers do; SDKs and curl do not).

    Everything else falls through to the API, so ``GET /`` from an AWS client still gets the
    API's JSON error instead of a web page. Browsers send ``Accept: text/html`` on form posts and
    navigations; a page's own ``fetch`` calls must send it too.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            accept = dict(scope.get("headers", [])).get(b"accept", b"")
            if b"text/html" not in accept:
                return Match.NONE, {}
        return super().matches(scope)


def cross_site(request: Request) -> bool:
    """True when a state-changing request comes from a page of another origin (CSRF).

    Browsers send ``Origin`` on every POST (and ``Sec-Fetch-Site``); a request without either is
    not from a browser page and carries no ambient credentials worth forging.
    """
    if request.method not in UNSAFE_METHODS:
        return False
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin == "null"
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc.lower() != host.lower()


class Binder:
    """Turns page functions into endpoints bound to one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def page(self, fn: Page) -> Callable[[Request], Response]:
        """A plain endpoint for a page that only reads."""
        runtime = self.runtime

        def endpoint(request: Request) -> Response:
            return fn(runtime, request)

        return endpoint

    def action(
        self, fn: Action, *, max_body: int = MAX_FORM_BYTES
    ) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint for a post: the cross-site check, the body (at most ``max_body`` bytes, read
        with ``web.bodies.read_bounded``), then ``fn`` in the thread pool."""
        runtime = self.runtime

        async def endpoint(request: Request) -> Response:
            if cross_site(request):
                return PlainTextResponse("Refused: this form was sent from another site.", status_code=403)
            try:
                body = await read_bounded(request, limit=max_body)
            except BodyRefused as refusal:
                return body_refusal(request, refusal)
            return await run_in_threadpool(fn, runtime, request, body)

        return endpoint


def body_refusal(request: Request, refusal: BodyRefused) -> Response:
    """A body the console did not read: JSON for the pages' scripts, plain text for forms."""
    headers = {"Connection": "close"}
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"message": refusal.message}, status_code=refusal.status, headers=headers)
    return PlainTextResponse(f"Refused: {refusal.message}", status_code=refusal.status, headers=headers)
