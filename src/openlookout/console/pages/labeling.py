"""Labeling one image (``/projects/{name}/datasets/{type}/label?ref=...``): label and mask editor.

The page shows the image large with its label (normal / anomaly buttons, keys ``n`` and ``a``),
links to the previous and next image in dataset order (arrows or ``j``/``k``; opened from a
filtered gallery, among the images that gallery shows: its filters ride along as query
parameters, on the links, the label form and the way back to the gallery) and, for anomaly
images, the mask editor (``static/mask-editor.js``), which loads and saves the mask through
``labeling_masks``. The image itself is served by ``/console/api/.../image?ref=...``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from openlookout.console.calls import console_context
from openlookout.console.forms import first, parse_form
from openlookout.console.pages.gallery import FILTERS, filter_query, gallery_filter, read_filters
from openlookout.console.routing import Binder, PageRoute, refusal_json
from openlookout.console.templating import render, with_query
from openlookout.errors import ServiceError
from openlookout.service import gallery
from openlookout.service.anomaly_types import project_types
from openlookout.service.context import Runtime
from openlookout.service.entry_edits import LABELS, relabel

ASSETS = ("mask-editor.js", "mask-editor.css")


def label_page(runtime: Runtime, request: Request, refused: ServiceError | None = None) -> Response:
    name = request.path_params["name"]
    dataset_type = request.path_params["dataset_type"]
    ref = request.query_params.get("ref", "")
    filters = filter_query(read_filters(request.query_params))
    context: dict[str, Any] = {
        "title": ref.rsplit("/", 1)[-1] or ref,
        "project": name,
        "section": "gallery",
        "dataset_type": dataset_type,
        "ref": ref,
        "filters": filters,
        "labels": LABELS,
        "assets": ASSETS,
    }
    ctx = console_context()
    try:
        view = gallery.gallery_image(
            runtime, ctx, name, dataset_type, ref, gallery_filter(read_filters(filters))
        )
        types = project_types(runtime, ctx, name)
    except ServiceError as exc:
        failed = {**context, "title": "Label image", "view": None}
        return render(request, "label.html", failed, refused=exc)
    editor = _editor_config(request, view, types)
    return render(request, "label.html", {**context, "view": view, "editor": editor}, refused=refused)


def _editor_config(request: Request, view: gallery.GalleryImage, types: list[Any]) -> dict[str, Any]:
    """What the mask editor script reads: the image size, its two addresses and the anomaly types."""
    image = view.image
    params = request.path_params
    query = {"ref": image.entry.source_ref}
    return {
        "width": image.width,
        "height": image.height,
        "image": with_query(request.url_for("label_image", **params).path, query),
        "mask": with_query(request.url_for("label_mask", **params).path, query),
        "types": [{"name": t.name, "color": t.color} for t in types],
    }


def _set_label(runtime: Runtime, name: str, dataset_type: str, ref: str, label: str) -> None:
    ctx = console_context()
    if label in LABELS and gallery.find_image(runtime, ctx, name, dataset_type, ref).entry.label == label:
        return
    relabel(runtime, ctx, name, dataset_type, [ref], label)


def set_label(runtime: Runtime, request: Request, body: bytes) -> Response:
    name = request.path_params["name"]
    dataset_type = request.path_params["dataset_type"]
    form = parse_form(body)
    ref = first(form, "ref")
    filters = filter_query(read_filters({k: first(form, k) for k in FILTERS}))
    query = {"ref": ref, **filters}
    try:
        _set_label(runtime, name, dataset_type, ref, first(form, "label"))
    except ServiceError as exc:
        request.scope["query_string"] = urlencode(query).encode()
        return label_page(runtime, Request(request.scope), exc)
    page = request.url_for("label", name=name, dataset_type=dataset_type).path
    return RedirectResponse(with_query(page, query), status_code=303)


def image_file(runtime: Runtime, request: Request) -> Response:
    name = request.path_params["name"]
    dataset_type = request.path_params["dataset_type"]
    ref = request.query_params.get("ref", "")
    try:
        data, media = gallery.image_file(runtime, console_context(), name, dataset_type, ref)
    except ServiceError as exc:
        return refusal_json(exc)
    return Response(data, media_type=media, headers={"Cache-Control": "private, max-age=60"})


def routes(console: Binder) -> list[BaseRoute]:
    """The labeling page, its label form and the full-size image."""
    dataset = "/projects/{name}/datasets/{dataset_type}"
    return [
        PageRoute(dataset + "/label", console.page(label_page), methods=["GET"], name="label"),
        PageRoute(dataset + "/label", console.action(set_label), methods=["POST"]),
        Route(
            "/console/api" + dataset + "/image", console.page(image_file), methods=["GET"], name="label_image"
        ),
    ]
