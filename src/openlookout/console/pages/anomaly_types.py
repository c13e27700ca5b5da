"""A project's anomaly types (``/projects/{name}/anomaly-types``): list, add, delete unused ones.

Types come from two places: the service's own record of the types its entries' masks use (fixed
name and colour, "in use") and the console's ``console_anomaly_types`` rows, which let a user name
a type and choose its colour before painting it. A new type is checked with the service's rules:
the API model's ``AnomalyName`` shape, the manifest's reserved ``background`` class, ``#RRGGBB``
colours that masks do not read as background, one colour per type and one type per colour, and
the per-project limit.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from openlookout.console.calls import console_context
from openlookout.console.forms import first, read_form
from openlookout.console.render import esc, page, project_nav, url_part
from openlookout.console.routing import Binder, PageRoute
from openlookout.errors import ServiceError
from openlookout.service.anomaly_types import AnomalyType, add_type, delete_type, project_types
from openlookout.service.context import Runtime

# Colours the add form proposes, the first one the project does not use yet (distinct, vivid).
SUGGESTED_COLOURS = (
    "#E6194B", "#3CB44B", "#4363D8", "#F58231", "#911EB4", "#42D4F4", "#F032E6", "#BFEF45",
    "#FFE119", "#469990", "#9A6324", "#800000", "#808000", "#000075", "#FABED4", "#DCBEFF",
)  # fmt: skip


def types_path(project_name: str) -> str:
    return f"/projects/{url_part(project_name)}/anomaly-types"


def _rows(project_name: str, types: list[AnomalyType]) -> str:
    if not types:
        return "<p>No anomaly types yet.</p>"
    rows = []
    for t in types:
        if t.images:
            use = f"in use ({t.images} image{'s' if t.images != 1 else ''})"
        else:
            use = "known to the service" if t.known_to_service else "not used yet"
        delete = (
            f'<form method="post" action="{esc(types_path(project_name))}/delete" class="inline">'
            f'<input type="hidden" name="name" value="{esc(t.name)}"><button>Delete</button></form>'
            if t.deletable
            else ""
        )
        rows.append(
            f'<tr data-type="{esc(t.name)}"><td><span class="swatch" style="background:{esc(t.color)}">'
            f'</span> {esc(t.name)}</td><td class="colour">{esc(t.color)}</td><td class="use">{esc(use)}</td>'
            f"<td>{delete}</td></tr>"
        )
    return (
        '<table class="anomaly-types"><thead><tr><th>Type</th><th>Colour</th><th>Use</th><th></th></tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def suggested_colour(types: list[AnomalyType]) -> str:
    """A colour for the next type: the first suggestion no type uses."""
    used = {t.color for t in types}
    return next((c for c in SUGGESTED_COLOURS if c not in used), SUGGESTED_COLOURS[0])


def _add_form(project_name: str, name: str, colour: str) -> str:
    return (
        f'<form method="post" action="{esc(types_path(project_name))}" class="inline add-type">'
        f'<label>Name <input name="name" value="{esc(name)}" required maxlength="256" '
        'pattern="[a-zA-Z0-9]+" title="letters and digits"></label>'
        f'<label>Colour <input type="color" name="color" value="{esc(colour.lower())}"></label>'
        "<button>Add anomaly type</button></form>"
    )


async def types_page(
    runtime: Runtime,
    request: Request,
    error: str | None = None,
    status_code: int = 200,
    form: tuple[str, str] | None = None,
) -> Response:
    name = request.path_params["name"]
    nav = project_nav(name, "types")
    try:
        types = await run_in_threadpool(project_types, runtime, console_context(runtime), name)
    except ServiceError as exc:
        back = '<p><a href="/">Back to projects</a></p>'
        return page("Anomaly types", back, error=exc.message, status_code=exc.status, nav=nav)
    hint = (
        "<p>Each anomaly type has one colour across the project. Types used by masks are fixed; "
        "types added here can be painted in the labeling editor and deleted while no mask uses them.</p>"
    )
    add = _add_form(name, *form) if form else _add_form(name, "", suggested_colour(types))
    body = hint + _rows(name, types) + "<h2>Add a type</h2>" + add
    return page(
        "Anomaly types",
        body,
        error=error,
        status_code=status_code,
        nav=nav,
        scripts=("mask-editor.css",),
    )


async def add_type_post(runtime: Runtime, request: Request) -> Response:
    project_name = request.path_params["name"]
    form = await read_form(request)
    name, colour = first(form, "name"), first(form, "color")
    try:
        await run_in_threadpool(add_type, runtime, console_context(runtime), project_name, name, colour)
    except ServiceError as exc:
        return await types_page(runtime, request, exc.message, exc.status, (name, colour))
    return RedirectResponse(types_path(project_name), status_code=303)


async def delete_type_post(runtime: Runtime, request: Request) -> Response:
    project_name = request.path_params["name"]
    name = first(await read_form(request), "name")
    try:
        await run_in_threadpool(delete_type, runtime, console_context(runtime), project_name, name)
    except ServiceError as exc:
        return await types_page(runtime, request, exc.message, exc.status)
    return RedirectResponse(types_path(project_name), status_code=303)


def routes(bind: Binder) -> list[BaseRoute]:
    """The anomaly types page, adding and deleting a type."""
    base = "/projects/{name}/anomaly-types"
    return [
        PageRoute(base, bind(types_page), methods=["GET"]),
        PageRoute(base, bind(add_type_post), methods=["POST"]),
        PageRoute(base + "/delete", bind(delete_type_post), methods=["POST"]),
    ]
