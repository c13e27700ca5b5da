"""How console pages become endpoints: HTML-only routes, plain functions, the cross-site check.

A page module lists its routes in ``routes(console: Binder)``. A page that only reads is a plain
function ``(runtime, request) -> Response`` and becomes a plain ``def`` endpoint, which Starlette
runs in its thread pool. An action (a form post or a JSON post) is a plain function
``(runtime, request, body) -> Response``: its endpoint refuses posts from pages of other sites,
reads the body within the route's limit (``web.bodies.read_bounded``; forms 1 MiB unless the
route says otherwise) and runs the function in the thread pool.

Both first find the console's user (``signin.ConsoleAuth``); a request without one gets the
sign-in page (or 401/404 for scripts and images) and never reaches the function, which runs
acting as that user (``calls.console_context``). ``public_page`` and ``public_action`` are for the
sign-in pages themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

from openlookout.console.forms import MAX_FORM_BYTES
from openlookout.console.signin import ConsoleAuth, ConsoleUser, acting_as, sign_in_needed
from openlookout.errors import ServiceError
from openlookout.service.context import Runtime
from openlookout.service.storage import storage_reason
from openlookout.web.bodies import BodyRefused, read_bounded

log = logging.getLogger(__name__)

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
    """Turns page functions into endpoints bound to one runtime and its console sign-in."""

    def __init__(self, runtime: Runtime, auth: ConsoleAuth) -> None:
        self.runtime = runtime
        self.auth = auth

    def page(self, fn: Page) -> Callable[[Request], Response]:
        """A plain endpoint for a page that only reads, shown to signed-in users only."""
        runtime, auth = self.runtime, self.auth

        def endpoint(request: Request) -> Response:
            user = auth.user(request)
            if user is None:
                return sign_in_needed(request)
            with acting_as(user):
                return fn(runtime, request)

        return endpoint

    def public_page(self, fn: Page) -> Callable[[Request], Response]:
        """A plain endpoint for a page anyone may see (the sign-in form)."""
        runtime = self.runtime

        def endpoint(request: Request) -> Response:
            return fn(runtime, request)

        return endpoint

    def action(
        self, fn: Action, *, max_body: int = MAX_FORM_BYTES
    ) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint for a post: the cross-site check, the body (at most ``max_body`` bytes, read
        with ``web.bodies.read_bounded``), then ``fn`` in the thread pool."""
        return self._post(fn, max_body=max_body, public=False)

    def public_action(self, fn: Action) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint for a post anyone may send (signing in and out), with the cross-site check."""
        return self._post(fn, max_body=MAX_FORM_BYTES, public=True)

    def _post(self, fn: Action, *, max_body: int, public: bool) -> Callable[[Request], Awaitable[Response]]:
        runtime, auth = self.runtime, self.auth

        async def endpoint(request: Request) -> Response:
            if cross_site(request):
                return PlainTextResponse("Refused: this form was sent from another site.", status_code=403)
            user = None if public else auth.user(request)
            if user is None and not public:
                return sign_in_needed(request)
            try:
                body = await read_bounded(request, limit=max_body)
            except BodyRefused as refusal:
                return body_refusal(request, refusal)
            return await run_in_threadpool(_run_as, user, fn, runtime, request, body)

        return endpoint


def _run_as(
    user: ConsoleUser | None, fn: Action, runtime: Runtime, request: Request, body: bytes
) -> Response:
    try:
        if user is None:
            return fn(runtime, request, body)
        with acting_as(user):
            return fn(runtime, request, body)
    except Exception as exc:
        reason = storage_reason(exc)
        if reason is None:
            raise
        log.exception("a console action failed on storage")
        return storage_refusal(request, reason)


def storage_refusal(request: Request, reason: str) -> Response:
    """A full or failing disk, said plainly (JSON for the pages' scripts, text for forms)."""
    message = f"The server could not store the change: {reason}. Nothing was changed; retry later."
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"message": message}, status_code=500)
    return PlainTextResponse(message, status_code=500)


def body_refusal(request: Request, refusal: BodyRefused) -> Response:
    """A body the console did not read: JSON for the pages' scripts, plain text for forms."""
    headers = {"Connection": "close"}
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"message": refusal.message}, status_code=refusal.status, headers=headers)
    return PlainTextResponse(f"Refused: {refusal.message}", status_code=refusal.status, headers=headers)
