"""A project's anomaly types (``/projects/{name}/anomaly-types``): list, add, delete unused ones.

The types and their rules are the service's (``service.anomaly_types``): those the project's masks
use are fixed; new ones can be named here, with a colour, before any mask uses them, and deleted
while none does.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from openlookout.console.calls import console_context
from openlookout.console.forms import first, parse_form
from openlookout.console.routing import Binder, PageRoute
from openlookout.console.templating import redirect, render
from openlookout.errors import ServiceError
from openlookout.service.anomaly_types import AnomalyType, add_type, delete_type, project_types
from openlookout.service.context import Runtime

# Colours the add form proposes, the first one the project does not use yet (distinct, vivid).
SUGGESTED_COLOURS = (
    "#E6194B", "#3CB44B", "#4363D8", "#F58231", "#911EB4", "#42D4F4", "#F032E6", "#BFEF45",
    "#FFE119", "#469990", "#9A6324", "#800000", "#808000", "#000075", "#FABED4", "#DCBEFF",
)  # fmt: skip


def suggested_colour(types: list[AnomalyType]) -> str:
    """A colour for the next type: the first suggestion no type uses."""
    used = {t.color for t in types}
    return next((c for c in SUGGESTED_COLOURS if c not in used), SUGGESTED_COLOURS[0])


def types_page(
    runtime: Runtime,
    request: Request,
    refused: ServiceError | None = None,
    typed: tuple[str, str] | None = None,
) -> Response:
    name = request.path_params["name"]
    context: dict[str, Any] = {
        "title": "Anomaly types",
        "project": name,
        "section": "anomaly_types",
        "assets": ("mask-editor.css",),
    }
    try:
        types = project_types(runtime, console_context(), name)
    except ServiceError as exc:
        return render(
            request,
            "anomaly_types.html",
            {**context, "types": None},
            refused=exc,
        )
    new_name, colour = typed if typed else ("", suggested_colour(types))
    context.update(types=types, new_name=new_name, new_colour=colour.lower())
    return render(request, "anomaly_types.html", context, refused=refused)


def add_type_post(runtime: Runtime, request: Request, body: bytes) -> Response:
    project_name = request.path_params["name"]
    form = parse_form(body)
    name, colour = first(form, "name"), first(form, "color")
    try:
        add_type(runtime, console_context(), project_name, name, colour)
    except ServiceError as exc:
        return types_page(runtime, request, exc, (name, colour))
    return redirect(request, "anomaly_types", name=project_name)


def delete_type_post(runtime: Runtime, request: Request, body: bytes) -> Response:
    project_name = request.path_params["name"]
    try:
        delete_type(runtime, console_context(), project_name, first(parse_form(body), "name"))
    except ServiceError as exc:
        return types_page(runtime, request, exc)
    return redirect(request, "anomaly_types", name=project_name)


def routes(console: Binder) -> list[BaseRoute]:
    """The anomaly types page, adding and deleting a type."""
    base = "/projects/{name}/anomaly-types"
    return [
        PageRoute(base, console.page(types_page), methods=["GET"], name="anomaly_types"),
        PageRoute(base, console.action(add_type_post), methods=["POST"]),
        PageRoute(
            base + "/delete", console.action(delete_type_post), methods=["POST"], name="anomaly_type_delete"
        ),
    ]
