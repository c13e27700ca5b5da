"""What a page module needs to declare its routes: ``PageRoute`` and the ``bind`` signature."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from openlookout.service.context import Runtime

Page = Callable[[Runtime, Request], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
Binder = Callable[[Page], Endpoint]


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
