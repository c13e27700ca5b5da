"""The gallery (``/projects/{name}/datasets/{type}/gallery``): thumbnails, filters, paging, labeling.

Pages come from ``service.gallery.gallery_page`` (ListDatasetEntries with its paging token, or the
anomaly-type filter paged by entry id), 60 per page. Tile links carry the filters in use, so the
labeling page walks the same filtered sequence. Relabeling is ``service.entry_edits.relabel``: each
image keeps its stored Ground Truth line with the label changed (an image labeled normal loses its
mask, as the service refuses a normal image with an anomaly mask).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from openlookout.console.calls import call, console_context
from openlookout.console.forms import first, parse_form
from openlookout.console.routing import Binder, PageRoute
from openlookout.console.templating import render
from openlookout.errors import ServiceError
from openlookout.service.context import Runtime
from openlookout.service.entry_edits import LABELS, relabel
from openlookout.service.gallery import GalleryFilter, gallery_page

DATASET_TYPES = ("train", "test")
FILTERS = ("labeled", "class", "type", "contains")


def filter_query(filters: Mapping[str, str]) -> dict[str, str]:
    """The filters in use (those not empty), as query parameters."""
    return {k: v for k, v in filters.items() if k in FILTERS and v}


def read_filters(params: Mapping[str, str]) -> dict[str, str]:
    """The gallery's filters from query (or form) parameters, every one present ("" when absent)."""
    return {k: params.get(k, "").strip() for k in FILTERS}


def gallery_filter(filters: Mapping[str, str]) -> GalleryFilter:
    """The filters as the service reads them."""
    return GalleryFilter(
        labeled=filters["labeled"] == "yes" if filters["labeled"] in ("yes", "no") else None,
        anomaly_class=filters["class"] or None,
        type_name=filters["type"] or None,
        ref_contains=filters["contains"] or None,
    )


def _existing_types(runtime: Runtime, name: str) -> list[str]:
    description = call(runtime, "DescribeProject", {"ProjectName": name})["ProjectDescription"]
    return [d["DatasetType"] for d in description.get("Datasets", [])]


def gallery_view(runtime: Runtime, request: Request) -> Response:
    name = request.path_params["name"]
    dataset_type = request.path_params["dataset_type"]
    filters = read_filters(request.query_params)
    token = request.query_params.get("after", "")
    page_text = request.query_params.get("page", "")
    number = int(page_text) if page_text.isdigit() and 0 < len(page_text) < 7 else 1
    context: dict[str, Any] = {
        "title": f"{name} / {dataset_type}",
        "project": name,
        "section": "gallery",
        "dataset_type": dataset_type,
        "filters": filters,
        "in_use": filter_query(filters),
        "token": token,
        "number": number,
        "labels": LABELS,
        "dataset_types": DATASET_TYPES,
    }
    try:
        existing = _existing_types(runtime, name)
        wanted = gallery_filter(filters)
        view = gallery_page(runtime, console_context(), name, dataset_type, wanted, token)
    except ServiceError as exc:
        failed = {**context, "switch": [dataset_type], "type_names": _type_names([], filters), "view": None}
        return render(request, "gallery.html", failed, refused=exc)
    switch = [t for t in DATASET_TYPES if t == dataset_type or t in existing]
    names = _type_names(view.anomaly_types, filters)
    return render(request, "gallery.html", {**context, "switch": switch, "type_names": names, "view": view})


def _type_names(known: list[str], filters: Mapping[str, str]) -> list[tuple[str, str]]:
    """The anomaly-type filter's choices: any, the project's types, and the one asked for even if
    the project does not know it."""
    wanted = filters["type"]
    names = [*known, wanted] if wanted and wanted not in known else list(known)
    return [("", "any"), *((n, n) for n in names)]


def apply_labels(runtime: Runtime, request: Request, body: bytes) -> Response:
    name = request.path_params["name"]
    dataset_type = request.path_params["dataset_type"]
    form = parse_form(body)
    gallery = request.url_for("gallery", name=name, dataset_type=dataset_type).path
    back = first(form, "back")
    if not back.startswith(gallery):
        back = gallery
    try:
        relabel(runtime, console_context(), name, dataset_type, form.get("ref", []), first(form, "label"))
    except ServiceError as exc:
        context = {"title": f"{name} / {dataset_type}", "back": back}
        return render(request, "gallery_refused.html", context, refused=exc)
    return RedirectResponse(back, status_code=303)


def routes(console: Binder) -> list[BaseRoute]:
    """The gallery and its labeling form."""
    dataset = "/projects/{name}/datasets/{dataset_type}"
    return [
        PageRoute(dataset + "/gallery", console.page(gallery_view), methods=["GET"], name="gallery"),
        PageRoute(
            dataset + "/gallery/labels", console.action(apply_labels), methods=["POST"], name="gallery_labels"
        ),
    ]
