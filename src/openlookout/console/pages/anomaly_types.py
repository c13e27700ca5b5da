"""A project's anomaly types (``/projects/{name}/anomaly-types``): list, add, delete unused ones.

Types come from two places: the service's own record of the types its entries' masks use (fixed
name and colour, "in use") and the console's ``console_anomaly_types`` rows, which let a user name
a type and choose its colour before painting it. A new type is checked with the service's rules:
the API model's ``AnomalyName`` shape, the manifest's reserved ``background`` class, ``#RRGGBB``
colours that masks do not read as background, one colour per type and one type per colour, and
the per-project limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from openlookout.console.calls import console_context
from openlookout.console.forms import first, read_form
from openlookout.console.masks import is_background_colour
from openlookout.console.render import esc, page, project_nav, url_part
from openlookout.console.routing import Binder, PageRoute
from openlookout.errors import ServiceError, ValidationException
from openlookout.imaging.masks import normalise_colour
from openlookout.service.context import Runtime
from openlookout.service.entries import MAX_TYPES_PER_PROJECT
from openlookout.service.lookups import require_project
from openlookout.spec.loader import load_service_model
from openlookout.spec.validation import check_value
from openlookout.store import anomaly_types as console_store
from openlookout.store.entries import project_entries, project_labels

RESERVED_NAME = "background"
# Colours the add form proposes, the first one the project does not use yet (distinct, vivid).
SUGGESTED_COLOURS = (
    "#E6194B", "#3CB44B", "#4363D8", "#F58231", "#911EB4", "#42D4F4", "#F032E6", "#BFEF45",
    "#FFE119", "#469990", "#9A6324", "#800000", "#808000", "#000075", "#FABED4", "#DCBEFF",
)  # fmt: skip


@dataclass(frozen=True)
class AnomalyType:
    """One type as the console shows it. ``images``: how many entries' masks show it."""

    name: str
    color: str
    known_to_service: bool
    console_defined: bool
    images: int

    @property
    def deletable(self) -> bool:
        return self.console_defined and not self.known_to_service and self.images == 0


def types_of_project(runtime: Runtime, project_id: int) -> list[AnomalyType]:
    """The project's types, by name; a console row loses to the service's type of that name or colour."""
    with runtime.db.begin() as conn:
        known = project_labels(conn, project_id)
        entries = project_entries(conn, project_id)
        defined = console_store.list_console_types(conn, project_id)
    images: dict[str, int] = {}
    for entry in entries:
        for name in set(entry.anomaly_types):
            images[name] = images.get(name, 0) + 1
    defined_names = {t.name for t in defined}
    types = {
        name: AnomalyType(name, colour, True, name in defined_names, images.get(name, 0))
        for name, colour in known.items()
    }
    known_colours = set(known.values())
    for row in defined:
        if row.name not in types and row.color not in known_colours:
            types[row.name] = AnomalyType(row.name, row.color, False, True, images.get(row.name, 0))
    return sorted(types.values(), key=lambda t: (t.name.lower(), t.name))


def project_types(runtime: Runtime, project_name: str) -> list[AnomalyType]:
    """``types_of_project`` by project name (ResourceNotFoundException when there is none)."""
    with runtime.db.begin() as conn:
        project = require_project(conn, console_context(runtime), project_name)
    return types_of_project(runtime, project.id)


def check_new_type(types: list[AnomalyType], name: str, colour_text: str) -> str:
    """The new type's normalised colour, or ``ValidationException`` with the broken rule."""
    model = load_service_model()
    check_value(model, model.shape("AnomalyName"), name, "Anomaly type name")
    if name.lower() == RESERVED_NAME:
        raise ValidationException(
            "The name background is reserved for the pixels outside every anomaly; choose another name."
        )
    try:
        colour = normalise_colour(colour_text)
    except ValueError as exc:
        raise ValidationException(f"The colour {exc}.") from None
    if is_background_colour(colour):
        raise ValidationException(f"Masks read {colour} as background; choose another colour.")
    for existing in types:
        if existing.name == name:
            raise ValidationException(f"The project already has an anomaly type named {name}.")
        if existing.color == colour:
            raise ValidationException(f"The colour {colour} is already used by anomaly type {existing.name}.")
    if len(types) >= MAX_TYPES_PER_PROJECT:
        raise ValidationException(
            f"The project already has {MAX_TYPES_PER_PROJECT} anomaly types, the most a project may have."
        )
    return colour


def add_type(runtime: Runtime, project_name: str, name: str, colour_text: str) -> None:
    """Check and record a console-defined type."""
    with runtime.db.begin() as conn:
        project = require_project(conn, console_context(runtime), project_name)
    colour = check_new_type(types_of_project(runtime, project.id), name, colour_text)
    try:
        with runtime.db.begin() as conn:
            console_store.add_console_type(conn, project.id, name, colour, time.time())
    except IntegrityError:
        raise ValidationException(
            f"The name {name} or the colour {colour} was taken in the meantime; choose another."
        ) from None


def delete_type(runtime: Runtime, project_name: str, name: str) -> None:
    """Forget a console-defined type that no mask uses."""
    with runtime.db.begin() as conn:
        project = require_project(conn, console_context(runtime), project_name)
    found = next((t for t in types_of_project(runtime, project.id) if t.name == name), None)
    if found is None or not found.console_defined:
        raise ValidationException(f"The project has no anomaly type {name} defined in the console.")
    if not found.deletable:
        raise ValidationException(f"Anomaly type {name} is used by masks of this project; it stays.")
    with runtime.db.begin() as conn:
        console_store.delete_console_type(conn, project.id, name)


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
        types = await run_in_threadpool(project_types, runtime, name)
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
        await run_in_threadpool(add_type, runtime, project_name, name, colour)
    except ServiceError as exc:
        return await types_page(runtime, request, exc.message, exc.status, (name, colour))
    return RedirectResponse(types_path(project_name), status_code=303)


async def delete_type_post(runtime: Runtime, request: Request) -> Response:
    project_name = request.path_params["name"]
    name = first(await read_form(request), "name")
    try:
        await run_in_threadpool(delete_type, runtime, project_name, name)
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
