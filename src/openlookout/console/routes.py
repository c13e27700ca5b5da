"""The console's routes, bound to one runtime; ``create_app`` puts them before the API's.

Each module in ``console/pages`` that defines ``routes(bind) -> list[BaseRoute]`` contributes its
routes; ``bind`` turns a page function ``(runtime, request) -> Response`` into an endpoint. Page
modules never need to touch this file.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from openlookout.console import pages
from openlookout.console.routing import Binder, Endpoint, Page
from openlookout.service.context import Runtime
from openlookout.service.thumbnails import is_sha256, thumbnail

STATIC_DIR = Path(__file__).parent / "static"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


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


def make_binder(runtime: Runtime) -> Binder:
    """A ``bind`` for page modules: runs the page with ``runtime`` after the cross-site check."""

    def bind(fn: Page) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            if cross_site(request):
                return PlainTextResponse("Refused: this form was sent from another site.", status_code=403)
            return await fn(runtime, request)

        return endpoint

    return bind


def page_modules() -> list[str]:
    """Names of the modules under ``console/pages``, in name order."""
    return sorted(f"{pages.__name__}.{m.name}" for m in pkgutil.iter_modules(pages.__path__))


def console_routes(runtime: Runtime) -> list[BaseRoute]:
    """Every console route, each bound to ``runtime``."""
    bind = make_binder(runtime)

    async def thumb(request: Request) -> Response:
        key = request.path_params["key"]
        data = await run_in_threadpool(thumbnail, runtime.blobs, key) if is_sha256(key) else None
        if data is None:
            return Response("No such image.", status_code=404, media_type="text/plain")
        headers = {"Cache-Control": "public, max-age=31536000, immutable"}
        return Response(data, media_type="image/jpeg", headers=headers)

    routes: list[BaseRoute] = []
    for module_name in page_modules():
        contribute = getattr(importlib.import_module(module_name), "routes", None)
        if contribute is not None:
            routes.extend(contribute(bind))
    return [
        *routes,
        Route("/console/thumbs/{key}.jpg", thumb, methods=["GET"]),
        Mount("/console/static", app=StaticFiles(directory=STATIC_DIR), name="console-static"),
    ]
