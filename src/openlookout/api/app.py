"""``create_app(runtime)``: the Starlette application serving the AWS API and OpenLookout's extensions.

Extension routes (``/openlookout/...``) are matched first; every other request goes to the one
model-driven endpoint (the router's default app, so no path pattern can miss it), which answers
unknown routes with an AWS-shaped JSON error too. A wrong method on an extension route gets the
same JSON error instead of Starlette's plain-text one. ``web.bodies.BodyGuard`` wraps it all: no
body above the largest route limit, and none that takes longer than ``body_timeout_s`` to arrive.
Outside it ``api.request_guard.RequestGuard`` refuses foreign ``Host`` and ``Origin`` headers and
adds the security headers to every answer. With a credentials file (``settings.credentials_file``)
API callers must sign with one of its keys (``api.authentication``) and console users sign in.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from openlookout.api.authentication import Authenticator
from openlookout.api.errors import UnknownOperationException, error_response
from openlookout.api.extensions import extension_routes
from openlookout.api.heatmap import heatmap_routes
from openlookout.api.http import new_request_id
from openlookout.api.metrics_route import metrics_routes
from openlookout.api.request_guard import RequestGuard, allowed_host_names
from openlookout.api.wire import MAX_JSON_BODY_BYTES, Handler, WireApi
from openlookout.auth.credentials import KeyStore
from openlookout.console.routes import console_routes
from openlookout.service.context import Runtime
from openlookout.service.operations import OPERATIONS
from openlookout.spec.loader import load_service_model
from openlookout.web.bodies import BodyGuard

# No route accepts a larger body (UpdateDatasetEntries' Changes as JSON is the largest).
MAX_BODY_BYTES = MAX_JSON_BODY_BYTES


def create_app(
    runtime: Runtime, *, handlers: Mapping[str, Handler] | None = None, keys: KeyStore | None = None
) -> Starlette:
    """The HTTP app for ``runtime``; ``handlers`` defaults to the service's operation table, ``keys``
    to those of the settings' credentials file (none: no authentication)."""
    settings = runtime.settings
    if keys is None and settings.authenticates:
        keys = KeyStore(Path(settings.credentials_file))
    auth = Authenticator(settings, keys)
    model = load_service_model()
    wire = WireApi(runtime, model, handlers if handlers is not None else service_operations(), auth)

    async def not_routed(request: Request, exc: Exception) -> Response:
        error = UnknownOperationException(f"Nothing answers {request.method} {request.url.path[:200]}.")
        return error_response(error, new_request_id())

    routes = (
        extension_routes(runtime, model, auth)
        + heatmap_routes(runtime, model, auth)
        + metrics_routes(runtime)
        + console_routes(runtime, keys)
    )
    hosts = allowed_host_names(settings.host, settings.allowed_hosts)
    middleware = [
        Middleware(RequestGuard, allowed_hosts=hosts),
        Middleware(BodyGuard, ceiling=MAX_BODY_BYTES, timeout_s=settings.body_timeout_s),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: not_routed}, middleware=middleware)
    app.router.default = wire.asgi
    return app


def service_operations() -> Mapping[str, Handler]:
    """``openlookout.service.operations.OPERATIONS`` (the same dict object, so later additions count)."""
    return OPERATIONS
