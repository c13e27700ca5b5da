"""Labeling one image (``/projects/{name}/datasets/{type}/label?ref=...``): label and mask editor.

The page shows the image large with its label (normal / anomaly buttons, keys ``n`` and ``a``),
links to the previous and next image in dataset order (arrows or ``j``/``k``; opened from a
filtered gallery, among the images that gallery shows: its filters ride along as query
parameters, on the links, the label form and the way back to the gallery) and, for anomaly
images, the mask editor (``static/mask-editor.js``), which loads and saves the mask through
``labeling_masks``. The image itself is served by ``/console/api/.../image?ref=...``.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from openlookout.console.calls import console_context
from openlookout.console.forms import first, read_form
from openlookout.console.pages.anomaly_types import types_path
from openlookout.console.pages.gallery import (
    FILTERS,
    filter_query,
    filtered_gallery_path,
    gallery_filter,
    label_page_path,
    read_filters,
)
from openlookout.console.render import esc, page, project_nav, url_part
from openlookout.console.routing import Binder, PageRoute
from openlookout.errors import ServiceError
from openlookout.service import gallery
from openlookout.service.anomaly_types import AnomalyType, project_types
from openlookout.service.context import Runtime
from openlookout.service.entry_edits import LABELS, relabel
from openlookout.service.gallery import GalleryImage, StoredImage


def label_path(name: str, dataset_type: str, ref: str, filters: dict[str, str] | None = None) -> str:
    """The labeling page of image ``ref`` (walking the gallery's ``filters`` if given)."""
    return label_page_path(name, dataset_type, ref, filters)


def api_path(name: str, dataset_type: str, what: str, ref: str) -> str:
    """A JSON/image route of the labeling page (``what``: image or mask)."""
    base = f"/console/api/projects/{url_part(name)}/datasets/{url_part(dataset_type)}"
    return f"{base}/{what}?{urlencode({'ref': ref})}"


def _label_buttons(name: str, dataset_type: str, image: StoredImage, filters: dict[str, str]) -> str:
    current = image.entry.label or "unlabeled"
    buttons = "".join(
        f'<button name="label" value="{lab}" data-key="{lab[0]}"'
        f"{' aria-pressed=true' if lab == image.entry.label else ''}>{lab} ({lab[0]})</button> "
        for lab in LABELS
    )
    action = f"/projects/{url_part(name)}/datasets/{url_part(dataset_type)}/label"
    return (
        f'<form method="post" action="{esc(action)}" class="inline label-form">'
        f'<input type="hidden" name="ref" value="{esc(image.entry.source_ref)}">'
        + "".join(
            f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">'
            for k, v in filter_query(filters).items()
        )
        + f'<span>Label: <strong class="current-label {esc(current)}">{esc(current)}</strong></span>'
        f"{buttons}</form>"
    )


def _neighbours(name: str, dataset_type: str, image: GalleryImage, filters: dict[str, str]) -> str:
    def link(ref: str | None, rel: str, text: str) -> str:
        if ref is None:
            return f'<span class="disabled">{text}</span>'
        return f'<a href="{esc(label_path(name, dataset_type, ref, filters))}" rel="{rel}">{text}</a>'

    if image.position is None:
        where = f"no longer matches the filters ({image.total} images do)"
    else:
        where = f"image {image.position} of {image.total}"
    gallery = "filtered gallery" if filter_query(filters) else "gallery"
    back = filtered_gallery_path(name, dataset_type, filters)
    return (
        '<p class="neighbours">'
        + link(image.previous_ref, "prev", "&larr; previous (j)")
        + f' <span class="position">{where}</span> '
        + link(image.next_ref, "next", "next (k) &rarr;")
        + f' <a href="{esc(back)}" class="back">{gallery}</a></p>'
    )


def _editor(name: str, dataset_type: str, image: StoredImage, types: list[AnomalyType]) -> str:
    ref = image.entry.source_ref
    config = {
        "width": image.width,
        "height": image.height,
        "image": api_path(name, dataset_type, "image", ref),
        "mask": api_path(name, dataset_type, "mask", ref),
        "types": [{"name": t.name, "color": t.color} for t in types],
    }
    # JSON inside a script element: '<' escaped so no text can close the element.
    data = json.dumps(config).replace("<", "\\u003c")
    if not types:
        note = (
            f'<p class="note">This project has no anomaly types yet: <a href="{esc(types_path(name))}">'
            "add one</a> to paint a mask.</p>"
        )
    else:
        note = ""
    return f"""{note}<section id="mask-editor" class="mask-editor">
<script type="application/json" class="editor-config">{data}</script>
<div class="toolbar">
 <fieldset class="types"><legend>Anomaly type</legend></fieldset>
 <fieldset class="tools"><legend>Tool</legend>
  <button type="button" data-tool="brush" title="Brush (b)">Brush</button>
  <button type="button" data-tool="eraser" title="Eraser (e)">Eraser</button>
  <button type="button" data-tool="polygon"
   title="Polygon (p): click points; click the first one or press Enter to fill">Polygon</button>
  <button type="button" data-tool="fill" title="Flood fill (f)">Fill</button>
 </fieldset>
 <label>Size <input type="range" class="brush-size" min="1" max="64" value="8">
  <output class="size-value">8</output></label>
 <label>Opacity <input type="range" class="opacity" min="0" max="100" value="55"></label>
 <span class="group">
  <button type="button" class="undo" title="Undo (Ctrl+Z)">Undo</button>
  <button type="button" class="redo" title="Redo (Ctrl+Y)">Redo</button>
  <button type="button" class="zoom-in" title="Zoom in (+)">+</button>
  <button type="button" class="zoom-out" title="Zoom out (-)">&minus;</button>
  <button type="button" class="zoom-fit" title="Fit (0)">Fit</button>
 </span>
 <button type="button" class="save primary" title="Save (Ctrl+S)">Save mask</button>
 <span class="status" role="status" aria-live="polite"></span>
</div>
<div class="viewport" tabindex="0">
 <div class="stage">
  <canvas class="image-layer"></canvas><canvas class="mask-layer"></canvas>
  <canvas class="draft-layer"></canvas>
 </div>
</div>
<p class="help">Drag to paint; hold space or the middle button and drag to pan; wheel to zoom.
Keys: 1-9 type, b brush, e eraser, p polygon, f fill, [ ] size, Ctrl+Z / Ctrl+Y undo / redo.</p>
</section>"""


def _plain_image(name: str, dataset_type: str, image: StoredImage) -> str:
    src = api_path(name, dataset_type, "image", image.entry.source_ref)
    return (
        '<p class="note">Label the image anomaly to paint its mask.</p>'
        f'<img class="label-image" src="{esc(src)}" alt="{esc(image.entry.source_ref)}">'
    )


async def label_page(
    runtime: Runtime, request: Request, error: str | None = None, status_code: int = 200
) -> Response:
    name = request.path_params["name"]
    dataset_type = request.path_params["dataset_type"]
    ref = request.query_params.get("ref", "")
    filters = read_filters(request.query_params)
    nav = project_nav(name, "gallery")
    try:
        view, types = await run_in_threadpool(_label_view, runtime, name, dataset_type, ref, filters)
    except ServiceError as exc:
        back_path = filtered_gallery_path(name, dataset_type, filters)
        back = f'<p><a href="{esc(back_path)}">Back to the gallery</a></p>'
        return page("Label image", back, error=exc.message, status_code=exc.status, nav=nav)
    title = ref.rsplit("/", 1)[-1] or ref
    image = view.image
    body = (
        f'<p class="source-ref">{esc(ref)}</p>'
        + _label_buttons(name, dataset_type, image, filters)
        + _neighbours(name, dataset_type, view, filters)
        + (
            _editor(name, dataset_type, image, types)
            if image.entry.label == "anomaly"
            else _plain_image(name, dataset_type, image)
        )
    )
    return page(
        title,
        body,
        error=error,
        status_code=status_code,
        nav=nav,
        scripts=("mask-editor.js", "mask-editor.css"),
    )


def _label_view(
    runtime: Runtime, name: str, dataset_type: str, ref: str, filters: dict[str, str]
) -> tuple[GalleryImage, list[AnomalyType]]:
    ctx = console_context(runtime)
    view = gallery.gallery_image(runtime, ctx, name, dataset_type, ref, gallery_filter(filters))
    return view, project_types(runtime, ctx, name)


def _set_label(runtime: Runtime, name: str, dataset_type: str, ref: str, label: str) -> None:
    ctx = console_context(runtime)
    if label in LABELS and gallery.find_image(runtime, ctx, name, dataset_type, ref).entry.label == label:
        return
    relabel(runtime, ctx, name, dataset_type, [ref], label)


async def set_label(runtime: Runtime, request: Request) -> Response:
    name = request.path_params["name"]
    dataset_type = request.path_params["dataset_type"]
    form = await read_form(request)
    ref = first(form, "ref")
    filters = filter_query(read_filters({k: first(form, k) for k in FILTERS}))
    try:
        await run_in_threadpool(_set_label, runtime, name, dataset_type, ref, first(form, "label"))
    except ServiceError as exc:
        request.scope["query_string"] = urlencode({"ref": ref, **filters}).encode()
        return await label_page(runtime, request, exc.message, exc.status)
    return RedirectResponse(label_path(name, dataset_type, ref, filters), status_code=303)


async def image_file(runtime: Runtime, request: Request) -> Response:
    name = request.path_params["name"]
    dataset_type = request.path_params["dataset_type"]
    ref = request.query_params.get("ref", "")
    try:
        data, media = await run_in_threadpool(
            gallery.image_file, runtime, console_context(runtime), name, dataset_type, ref
        )
    except ServiceError as exc:
        return JSONResponse({"message": exc.message}, status_code=exc.status)
    return Response(data, media_type=media, headers={"Cache-Control": "private, max-age=60"})


def routes(bind: Binder) -> list[BaseRoute]:
    """The labeling page, its label form and the full-size image."""
    dataset = "/projects/{name}/datasets/{dataset_type}"
    return [
        PageRoute(dataset + "/label", bind(label_page), methods=["GET"]),
        PageRoute(dataset + "/label", bind(set_label), methods=["POST"]),
        Route("/console/api" + dataset + "/image", bind(image_file), methods=["GET"]),
    ]
