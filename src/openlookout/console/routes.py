"""The console's routes, bound to one runtime; ``create_app`` puts them before the API's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from openlookout.console.pages import gallery, project, projects
from openlookout.console.thumbs import is_sha256, thumbnail
from openlookout.service.context import Runtime

Page = Callable[[Runtime, Request], Awaitable[Response]]
STATIC_DIR = Path(__file__).parent / "static"


class PageRoute(Route):
    """A console page: answers only requests that ask for HTML (browsers do; SDKs and curl do not).

    Everything else falls through to the API, so ``GET /`` from an AWS client still gets the
    API's JSON error instead of a web page.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            accept = dict(scope.get("headers", [])).get(b"accept", b"")
            if b"text/html" not in accept:
                return Match.NONE, {}
        return super().matches(scope)


def console_routes(runtime: Runtime) -> list[BaseRoute]:
    """Every console route, each bound to ``runtime``."""

    def bind(fn: Page) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await fn(runtime, request)

        return endpoint

    async def thumb(request: Request) -> Response:
        key = request.path_params["key"]
        data = await run_in_threadpool(thumbnail, runtime.blobs, key) if is_sha256(key) else None
        if data is None:
            return Response("No such image.", status_code=404, media_type="text/plain")
        headers = {"Cache-Control": "public, max-age=31536000, immutable"}
        return Response(data, media_type="image/jpeg", headers=headers)

    dataset = "/projects/{name}/datasets/{dataset_type}"
    return [
        PageRoute("/", bind(projects.projects_page), methods=["GET"]),
        PageRoute("/projects", bind(projects.create_project), methods=["POST"]),
        PageRoute("/projects/{name}", bind(project.project_page), methods=["GET"]),
        PageRoute("/projects/{name}/datasets", bind(project.create_dataset), methods=["POST"]),
        PageRoute("/projects/{name}/delete", bind(projects.confirm_delete), methods=["GET"]),
        PageRoute("/projects/{name}/delete", bind(projects.delete_project), methods=["POST"]),
        PageRoute(dataset + "/gallery", bind(gallery.gallery_page), methods=["GET"]),
        PageRoute(dataset + "/gallery/labels", bind(gallery.apply_labels), methods=["POST"]),
        Route("/console/thumbs/{key}.jpg", thumb, methods=["GET"]),
        Mount("/console/static", app=StaticFiles(directory=STATIC_DIR), name="console-static"),
    ]
