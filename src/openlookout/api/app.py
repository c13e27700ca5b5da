"""``create_app(runtime)``: the Starlette application serving the AWS API and OpenLookout's extensions.

Extension routes (``/openlookout/...``) are matched first; every other path goes to the one
model-driven endpoint, which answers unknown routes with an AWS-shaped JSON error too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.routing import Route

from openlookout.api.extensions import extension_routes
from openlookout.api.wire import Handler, WireApi
from openlookout.service.context import Runtime
from openlookout.spec.loader import load_service_model

log = logging.getLogger("openlookout.api")

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def create_app(runtime: Runtime, *, handlers: Mapping[str, Handler] | None = None) -> Starlette:
    """The HTTP app for ``runtime``; ``handlers`` defaults to the service's operation table."""
    model = load_service_model()
    wire = WireApi(runtime, model, handlers if handlers is not None else service_operations())
    routes = [
        *extension_routes(runtime, model),
        Route("/{path:path}", wire.endpoint, methods=ALL_METHODS),
    ]
    return Starlette(routes=routes)


def service_operations() -> Mapping[str, Handler]:
    """``openlookout.service.operations.OPERATIONS`` (the same dict object, so later additions count)."""
    try:
        from openlookout.service.operations import OPERATIONS
    except ModuleNotFoundError as exc:
        if exc.name != "openlookout.service.operations":
            raise
        log.warning("openlookout.service.operations is missing: every operation answers 'not available'")
        return {}
    return OPERATIONS
