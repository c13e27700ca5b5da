"""The gallery (``/projects/{name}/datasets/{type}/gallery``): thumbnails, filters, paging, labeling.

Pages come from ListDatasetEntries (60 per page, its own paging token) except for the anomaly-type
filter, which ListDatasetEntries does not offer: that one reads the store for display
(``store.gallery.entries_of_type``) and pages by entry id. The blob keys of a page's thumbnails
come from one indexed lookup of exactly that page's source-refs. Tile links carry the filters in
use, so the labeling page walks the same filtered sequence (``gallery_filter`` is the one reading
of them for the store).

Relabeling goes through UpdateDatasetEntries with each image's stored Ground Truth line, the
label changed: an image labeled anomaly keeps its mask and colour map; an image labeled normal
loses them (the service refuses a normal image with an anomaly mask).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from openlookout.console.calls import call, console_context
from openlookout.console.forms import first, read_form
from openlookout.console.render import esc, page, project_nav, url_part
from openlookout.console.routing import Binder, PageRoute
from openlookout.errors import ServiceError
from openlookout.service import gallery
from openlookout.service.context import Runtime
from openlookout.service.entry_edits import relabel
from openlookout.service.gallery import GalleryFilter, GalleryPage, GalleryTile

PAGE_SIZE = 60
LABELS = ("normal", "anomaly")
DATASET_TYPES = ("train", "test")
FILTERS = ("labeled", "class", "type", "contains")


def gallery_path(name: str, dataset_type: str) -> str:
    return f"/projects/{url_part(name)}/datasets/{url_part(dataset_type)}/gallery"


def filter_query(filters: dict[str, str]) -> dict[str, str]:
    """The filters in use (those not empty), as query parameters."""
    return {k: v for k, v in filters.items() if k in FILTERS and v}


def filtered_gallery_path(name: str, dataset_type: str, filters: dict[str, str]) -> str:
    """The gallery's first page with ``filters`` applied."""
    query = filter_query(filters)
    return gallery_path(name, dataset_type) + (f"?{urlencode(query)}" if query else "")


def label_page_path(name: str, dataset_type: str, ref: str, filters: dict[str, str] | None = None) -> str:
    """The labeling / mask editor page of one image, walking the gallery's ``filters`` if given."""
    query = {"ref": ref, **filter_query(filters or {})}
    return f"/projects/{url_part(name)}/datasets/{url_part(dataset_type)}/label?{urlencode(query)}"


def read_filters(params: Mapping[str, str]) -> dict[str, str]:
    """The gallery's filters from query (or form) parameters, every one present ("" when absent)."""
    return {k: params.get(k, "").strip() for k in FILTERS}


def gallery_filter(filters: dict[str, str]) -> GalleryFilter:
    """The filters as the service reads them."""
    return GalleryFilter(
        labeled=filters["labeled"] == "yes" if filters["labeled"] in ("yes", "no") else None,
        anomaly_class=filters["class"] or None,
        type_name=filters["type"] or None,
        ref_contains=filters["contains"] or None,
    )


def _gallery_view(
    runtime: Runtime, name: str, dataset_type: str, filters: dict[str, str], token: str
) -> GalleryPage:
    wanted = gallery_filter(filters)
    return gallery.gallery_page(runtime, console_context(runtime), name, dataset_type, wanted, token)


def _existing_types(runtime: Runtime, name: str) -> list[str]:
    description = call(runtime, "DescribeProject", {"ProjectName": name})["ProjectDescription"]
    return [d["DatasetType"] for d in description.get("Datasets", [])]


def _dataset_switch(name: str, current: str, existing: list[str]) -> str:
    links = []
    for dataset_type in DATASET_TYPES:
        if dataset_type == current:
            links.append(f'<strong aria-current="page">{esc(dataset_type)}</strong>')
        elif dataset_type in existing:
            links.append(f'<a href="{esc(gallery_path(name, dataset_type))}">{esc(dataset_type)}</a>')
    return f'<p class="dataset-switch">Dataset: {" | ".join(links)}</p>'


def _filter_form(path: str, filters: dict[str, str], types: list[str]) -> str:
    def option(field: str, value: str, text: str) -> str:
        selected = " selected" if filters[field] == value else ""
        return f'<option value="{esc(value)}"{selected}>{esc(text)}</option>'

    labeled = (
        option("labeled", "", "all")
        + option("labeled", "yes", "labeled")
        + option("labeled", "no", "unlabeled")
    )
    klass = (
        option("class", "", "any")
        + option("class", "normal", "normal")
        + option("class", "anomaly", "anomaly")
    )
    names = list(types)
    if filters["type"] and filters["type"] not in names:
        names.append(filters["type"])
    kinds = option("type", "", "any") + "".join(option("type", t, t) for t in names)
    return (
        f'<form method="get" action="{esc(path)}" class="inline filters">'
        f'<label>Show <select name="labeled">{labeled}</select></label>'
        f'<label>Class <select name="class">{klass}</select></label>'
        f'<label>Anomaly type <select name="type">{kinds}</select></label>'
        f'<label>Name contains <input name="contains" value="{esc(filters["contains"])}"></label>'
        "<button>Filter</button></form>"
    )


def _tile(name: str, dataset_type: str, tile: GalleryTile, filters: dict[str, str]) -> str:
    label = tile.label or "unlabeled"
    file_name = tile.source_ref.rsplit("/", 1)[-1]
    editor = label_page_path(name, dataset_type, tile.source_ref, filters)
    key = tile.image_sha256
    thumb = f'<img src="/console/thumbs/{esc(key)}.jpg" alt="" loading="lazy">' if key else ""
    marker = (
        '<span class="mask-marker" title="This image has an anomaly mask">mask</span>'
        if tile.has_mask
        else ""
    )
    return (
        f'<div class="tile {esc(label)}">'
        f'<a class="open" href="{esc(editor)}" title="Open in the labeling page">'
        f'{thumb}</a>{marker}<label><input type="checkbox" name="ref" value="{esc(tile.source_ref)}"> '
        f'<span class="name">{esc(file_name)}</span></label><span class="label">{esc(label)}</span></div>'
    )


def _pager(path: str, filters: dict[str, str], number: int, next_token: str) -> str:
    pager = f'<p class="pager">Page {number}'
    if number > 1:
        pager += f' <a href="{esc(path)}?{esc(urlencode(filters))}">first page</a>'
    if next_token:
        nxt = f"{path}?{urlencode({**filters, 'after': next_token, 'page': number + 1})}"
        pager += f' <a href="{esc(nxt)}" rel="next">next page</a>'
    return pager + "</p>"


async def gallery_page(runtime: Runtime, request: Request) -> Response:
    name = request.path_params["name"]
    dataset_type = request.path_params["dataset_type"]
    path = gallery_path(name, dataset_type)
    filters = read_filters(request.query_params)
    token = request.query_params.get("after", "")
    page_text = request.query_params.get("page", "")
    number = int(page_text) if page_text.isdigit() and 0 < len(page_text) < 7 else 1
    title = f"{name} / {dataset_type}"
    nav = project_nav(name, "gallery")
    try:
        existing = await run_in_threadpool(_existing_types, runtime, name)
        view = await run_in_threadpool(_gallery_view, runtime, name, dataset_type, filters, token)
    except ServiceError as exc:
        body = _filter_form(path, filters, [])
        return page(title, body, error=exc.message, status_code=exc.status, nav=nav)
    here = f"{path}?{urlencode({**filters, 'after': token, 'page': number})}"
    tiles = "".join(_tile(name, dataset_type, t, filters) for t in view.tiles) or "<p>No images match.</p>"
    buttons = "".join(
        f'<button name="label" value="{lab}" data-key="{lab[0]}">{lab} ({lab[0]})</button> ' for lab in LABELS
    )
    grid = (
        f'<form method="post" action="{esc(path)}/labels" class="labeling">'
        f'<input type="hidden" name="back" value="{esc(here)}">'
        f'<p class="actions"><button type="button" class="select-all">Select all (page)</button> '
        f"Label selected: {buttons}</p>"
        f'<div class="grid">{tiles}</div></form>'
    )
    body = (
        _dataset_switch(name, dataset_type, existing)
        + _filter_form(path, filters, view.anomaly_types)
        + grid
        + _pager(path, filters, number, view.next_token)
    )
    return page(title, body, nav=nav)


def _apply_labels(runtime: Runtime, name: str, dataset_type: str, refs: list[str], label: str) -> None:
    relabel(runtime, console_context(runtime), name, dataset_type, refs, label)


async def apply_labels(runtime: Runtime, request: Request) -> Response:
    name = request.path_params["name"]
    dataset_type = request.path_params["dataset_type"]
    form = await read_form(request)
    back = first(form, "back")
    if not back.startswith(gallery_path(name, dataset_type)):
        back = gallery_path(name, dataset_type)
    try:
        await run_in_threadpool(
            _apply_labels, runtime, name, dataset_type, form.get("ref", []), first(form, "label")
        )
    except ServiceError as exc:
        link = f'<p><a href="{esc(back)}">Back to the gallery</a></p>'
        return page(f"{name} / {dataset_type}", link, error=exc.message, status_code=exc.status)
    return RedirectResponse(back, status_code=303)


def routes(bind: Binder) -> list[BaseRoute]:
    """The gallery and its labeling form."""
    dataset = "/projects/{name}/datasets/{dataset_type}"
    return [
        PageRoute(dataset + "/gallery", bind(gallery_page), methods=["GET"]),
        PageRoute(dataset + "/gallery/labels", bind(apply_labels), methods=["POST"]),
    ]
