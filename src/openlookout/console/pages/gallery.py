"""The gallery (``/projects/{name}/datasets/{type}/gallery``): thumbnails, filters, paging, labeling."""

from __future__ import annotations

import time
from typing import Any, cast
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from openlookout.console.calls import call_sync, console_context
from openlookout.console.forms import first, read_form
from openlookout.console.render import esc, page, project_nav, url_part
from openlookout.console.routing import Binder, PageRoute
from openlookout.errors import ServiceError, ValidationException
from openlookout.imaging.manifest import Label, ManifestError, new_entry, parse_line, render_entry
from openlookout.service.context import Runtime
from openlookout.service.imports import UPLOAD_SCHEME

PAGE_SIZE = 60
UPDATE_WAIT_SECONDS = 30.0
LABELS = ("normal", "anomaly")


def gallery_path(name: str, dataset_type: str) -> str:
    return f"/projects/{url_part(name)}/datasets/{url_part(dataset_type)}/gallery"


def _filters(request: Request) -> dict[str, str]:
    q = request.query_params
    return {k: q.get(k, "").strip() for k in ("labeled", "class", "contains")}


def _list_params(name: str, dataset_type: str, filters: dict[str, str], token: str) -> dict[str, Any]:
    params: dict[str, Any] = {"ProjectName": name, "DatasetType": dataset_type, "MaxResults": PAGE_SIZE}
    if filters["labeled"] in ("yes", "no"):
        params["Labeled"] = filters["labeled"] == "yes"
    if filters["class"]:
        params["AnomalyClass"] = filters["class"]
    if filters["contains"]:
        params["SourceRefContains"] = filters["contains"]
    if token:
        params["NextToken"] = token
    return params


def _image_keys(runtime: Runtime, name: str, dataset_type: str, refs: list[str]) -> dict[str, str]:
    """source-ref -> image blob key; upload refs carry it, others are looked up once per page."""
    keys = {}
    for ref in refs:
        if ref.startswith(UPLOAD_SCHEME):
            keys[ref] = ref[len(UPLOAD_SCHEME) :].split("/", 1)[0]
    if len(keys) < len(refs):
        from openlookout.service.datasets import require_dataset
        from openlookout.store.entries import project_entries

        dataset = require_dataset(runtime, console_context(runtime), name, dataset_type)
        with runtime.db.begin() as conn:
            wanted = set(refs) - set(keys)
            for row in project_entries(conn, dataset.project_id):
                if row.dataset_type == dataset_type and row.source_ref in wanted:
                    keys[row.source_ref] = row.image_sha256
    return keys


def _gallery_view(runtime: Runtime, name: str, dataset_type: str, params: dict[str, Any]) -> dict[str, Any]:
    result = call_sync(runtime, "ListDatasetEntries", params)
    tiles: list[dict[str, Any]] = []
    for number, line in enumerate(result.get("DatasetEntries", []), start=1):
        try:
            entry = parse_line(line, number)
        except ManifestError:
            continue
        tiles.append({"ref": entry.source_ref, "label": entry.label})
    keys = _image_keys(runtime, name, dataset_type, [t["ref"] for t in tiles])
    for tile in tiles:
        tile["key"] = keys.get(tile["ref"], "")
    return {"tiles": tiles, "next": result.get("NextToken", "")}


def _filter_form(path: str, filters: dict[str, str]) -> str:
    def option(field: str, value: str, text: str) -> str:
        selected = " selected" if filters[field] == value else ""
        return f'<option value="{value}"{selected}>{text}</option>'

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
    return (
        f'<form method="get" action="{esc(path)}" class="inline filters">'
        f'<label>Show <select name="labeled">{labeled}</select></label>'
        f'<label>Class <select name="class">{klass}</select></label>'
        f'<label>Name contains <input name="contains" value="{esc(filters["contains"])}"></label>'
        "<button>Filter</button></form>"
    )


def _tile(tile: dict[str, Any]) -> str:
    label = tile["label"] or "unlabeled"
    name = tile["ref"].rsplit("/", 1)[-1]
    thumb = f'<img src="/console/thumbs/{esc(tile["key"])}.jpg" alt="" loading="lazy">' if tile["key"] else ""
    return (
        f'<label class="tile {esc(label)}"><input type="checkbox" name="ref" value="{esc(tile["ref"])}">'
        f'{thumb}<span class="name">{esc(name)}</span><span class="label">{esc(label)}</span></label>'
    )


async def gallery_page(runtime: Runtime, request: Request) -> Response:
    name = request.path_params["name"]
    dataset_type = request.path_params["dataset_type"]
    path = gallery_path(name, dataset_type)
    filters = _filters(request)
    token = request.query_params.get("after", "")
    page_text = request.query_params.get("page", "")
    number = int(page_text) if page_text.isdigit() and 0 < len(page_text) < 7 else 1
    title = f"{name} / {dataset_type}"
    nav = project_nav(name, "gallery")
    try:
        params = _list_params(name, dataset_type, filters, token)
        view = await run_in_threadpool(_gallery_view, runtime, name, dataset_type, params)
    except ServiceError as exc:
        return page(title, _filter_form(path, filters), error=exc.message, status_code=exc.status, nav=nav)
    here = f"{path}?{urlencode({**filters, 'after': token, 'page': number})}"
    tiles = "".join(_tile(t) for t in view["tiles"]) or "<p>No images match.</p>"
    buttons = "".join(
        f'<button name="label" value="{lab}" data-key="{lab[0]}">{lab} ({lab[0]})</button> ' for lab in LABELS
    )
    grid = (
        f'<form method="post" action="{esc(path)}/labels" class="labeling">'
        f'<input type="hidden" name="back" value="{esc(here)}">'
        f'<p class="actions">Label selected: {buttons}</p><div class="grid">{tiles}</div></form>'
    )
    pager = f'<p class="pager">Page {number}'
    if view["next"]:
        nxt = f"{path}?{urlencode({**filters, 'after': view['next'], 'page': number + 1})}"
        pager += f' <a href="{esc(nxt)}" rel="next">next page</a>'
    pager += "</p>"
    return page(title, _filter_form(path, filters) + grid + pager, nav=nav)


def _update_entries(runtime: Runtime, name: str, dataset_type: str, refs: list[str], label: str) -> None:
    """UpdateDatasetEntries with one fresh Ground Truth line per image; waits for the job to end."""
    changes = "\n".join(render_entry(new_entry(ref, cast(Label, label))) for ref in refs)
    target = {"ProjectName": name, "DatasetType": dataset_type}
    call_sync(runtime, "UpdateDatasetEntries", {**target, "Changes": changes.encode("utf-8")})
    deadline = time.monotonic() + UPDATE_WAIT_SECONDS
    while time.monotonic() < deadline:
        description = call_sync(runtime, "DescribeDataset", target)["DatasetDescription"]
        status = description["Status"]
        if status != "UPDATE_IN_PROGRESS":
            if "FAILED" in status:
                raise ValidationException(description.get("StatusMessage") or "The label update failed.")
            return
        time.sleep(0.05)


def _apply_labels(runtime: Runtime, name: str, dataset_type: str, refs: list[str], label: str) -> None:
    if label not in LABELS:
        raise ValidationException("Choose normal or anomaly as the label.")
    if not refs:
        raise ValidationException("Select at least one image to label.")
    _update_entries(runtime, name, dataset_type, refs, label)


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
