"""The console's routes, bound to one runtime; ``create_app`` puts them before the API's.

``PAGE_MODULES`` lists the modules of ``console/pages``; each declares its routes in
``routes(console: Binder)``. Every route has a name, which templates pass to ``url_for``.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from openlookout.auth.credentials import KeyStore
from openlookout.console.calls import console_context
from openlookout.console.pages import (
    anomaly_types,
    gallery,
    labeling,
    labeling_masks,
    model_detail,
    model_metrics,
    model_results,
    models,
    project,
    projects,
    sign_in,
    trial_review,
    trials,
    uploads,
)
from openlookout.console.routing import Binder
from openlookout.console.signin import ConsoleAuth
from openlookout.service.context import Runtime
from openlookout.service.thumbnails import owned_thumbnail

STATIC_DIR = Path(__file__).parent / "static"
PAGE_MODULES = (
    sign_in,
    projects,
    project,
    gallery,
    labeling,
    labeling_masks,
    anomaly_types,
    models,
    model_detail,
    model_metrics,
    model_results,
    trials,
    trial_review,
    uploads,
)


def thumbnail_file(runtime: Runtime, request: Request) -> Response:
    """The JPEG thumbnail of an image blob of the user's account, cached by the browser for a year (its
    name is its hash); any other key is "No such image."."""
    data = owned_thumbnail(runtime, console_context(), request.path_params["key"])
    if data is None:
        return Response("No such image.", status_code=404, media_type="text/plain")
    headers = {"Cache-Control": "private, max-age=31536000, immutable"}
    return Response(data, media_type="image/jpeg", headers=headers)


def console_routes(runtime: Runtime, keys: KeyStore | None = None) -> list[BaseRoute]:
    """Every console route, each bound to ``runtime``; with ``keys``, for signed-in users only."""
    console = Binder(runtime, ConsoleAuth(runtime.settings, keys))
    routes: list[BaseRoute] = [route for module in PAGE_MODULES for route in module.routes(console)]
    return [
        *routes,
        Route("/console/thumbs/{key}.jpg", console.page(thumbnail_file), methods=["GET"], name="thumbnail"),
        Mount("/console/static", app=StaticFiles(directory=STATIC_DIR), name="console-static"),
    ]
