"""A project's anomaly types: those its masks use, and those named ahead of painting in the console.

Types come from two places: the service's own record of the types its entries' masks use (fixed
name and colour, "known to the service") and the ``console_anomaly_types`` rows, which let a user
name a type and choose its colour before painting it. A console row loses to the service's type of
that name or colour. A new type obeys the rules ingestion applies to masks (``service.entries``):
the API model's ``AnomalyName`` shape, the manifest's reserved ``background`` class, a ``#RRGGBB``
colour that masks do not read as background, one colour per type and one type per colour, and the
per-project limit.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

from PIL import Image
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from openlookout.errors import ValidationException
from openlookout.imaging.images import MIN_SIDE, ImageRejected
from openlookout.imaging.masks import decode_mask, normalise_colour
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.entries import MAX_TYPES_PER_PROJECT
from openlookout.service.lookups import require_project
from openlookout.spec.loader import load_service_model
from openlookout.spec.validation import check_value
from openlookout.store import anomaly_types as console_store
from openlookout.store.entries import project_entries, project_labels

RESERVED_NAME = "background"


@dataclass(frozen=True)
class AnomalyType:
    """One type of a project. ``images``: how many entries' masks show it."""

    name: str
    color: str
    known_to_service: bool
    console_defined: bool
    images: int

    @property
    def deletable(self) -> bool:
        return self.console_defined and not self.known_to_service and self.images == 0


def project_types(runtime: Runtime, ctx: RequestContext, project_name: str) -> list[AnomalyType]:
    """The project's types by name (ResourceNotFoundException when there is no such project)."""
    with runtime.db.begin() as conn:
        project = require_project(conn, ctx, project_name)
        return _types(conn, project.id)


def _types(conn: Connection, project_id: int) -> list[AnomalyType]:
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


def is_background_colour(colour: str) -> bool:
    """True when masks read ``colour`` as background even with no colour map (black, white).

    Asks the imaging layer directly: an opaque mask of that colour (of the smallest image size)
    decodes as background under an empty colour map, any other colour is refused as foreign.
    """
    out = io.BytesIO()
    Image.new("RGB", (MIN_SIDE, MIN_SIDE), colour).save(out, format="PNG")
    try:
        decode_mask(out.getvalue(), {})
    except ImageRejected:
        return False
    return True


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


def add_type(runtime: Runtime, ctx: RequestContext, project_name: str, name: str, colour_text: str) -> None:
    """Check and record a type defined ahead of painting."""
    colour = colour_text
    try:
        with runtime.db.begin() as conn:
            project = require_project(conn, ctx, project_name)
            colour = check_new_type(_types(conn, project.id), name, colour_text)
            console_store.add_console_type(conn, project.id, name, colour, time.time())
    except IntegrityError:
        raise ValidationException(
            f"The name {name} or the colour {colour} was taken in the meantime; choose another."
        ) from None


def delete_type(runtime: Runtime, ctx: RequestContext, project_name: str, name: str) -> None:
    """Forget a type defined ahead of painting that no mask uses."""
    with runtime.db.begin() as conn:
        project = require_project(conn, ctx, project_name)
        found = next((t for t in _types(conn, project.id) if t.name == name), None)
        if found is None or not found.console_defined:
            raise ValidationException(f"The project has no anomaly type {name} defined in the console.")
        if not found.deletable:
            raise ValidationException(f"Anomaly type {name} is used by masks of this project; it stays.")
        console_store.delete_console_type(conn, project.id, name)
