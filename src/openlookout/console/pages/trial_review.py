"""One trial detection (``/projects/{name}/trials/{id}``): live progress and the review grid.

The grid is there from the start: while the trial runs, the page shows its progress above it
and ``trials.js`` polls ``GET /console/api/projects/{name}/trials/{id}?tiles=1`` (with the
page's own filters), which answers the counts, the summary line and the tiles of the images
already checked on that page; the script swaps them in for the "waiting" tiles, so the reviewer
can start before the trial ends. Every checked image shows its thumbnail (with the predicted
mask over it for segmentation models), the prediction and the reviewer's verdict, with buttons
confirm / normal / anomaly (keys ``c``, ``n``, ``a`` on the focused image, arrows to move).
Verdicts are form posts to ``.../verdicts`` (or, from the script,
``POST /console/api/projects/{name}/trials/{id}/images/{image}/verdict``, which answers JSON).
``.../add`` adds the verified images to the chosen dataset; the service allows that while the
trial runs too, so the form is always there.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from openlookout.console.calls import call, console_context
from openlookout.console.forms import first, read_form
from openlookout.console.pages.trials import ASSETS, status_text, trial_path, trials_path
from openlookout.console.render import esc, page, project_nav, url_part
from openlookout.console.routing import Binder, PageRoute
from openlookout.errors import ResourceNotFoundException, ServiceError
from openlookout.service import trials as trial_service
from openlookout.service.context import Runtime
from openlookout.service.trials import AddedImages, TrialCounts, TrialImageRow, TrialPage, TrialRow

PAGE_SIZE = 100
VERDICT_BUTTONS = (("confirm", "c", "Confirm"), ("normal", "n", "Normal"), ("anomaly", "a", "Anomaly"))


def api_path(name: str, trial_id: int) -> str:
    return f"/console/api/projects/{url_part(name)}/trials/{trial_id}"


def _trial_id(request: Request) -> int:
    text = str(request.path_params["trial_id"])
    if not text.isdigit() or len(text) > 12:
        name = request.path_params["name"]
        raise ResourceNotFoundException(
            f"Project '{name}' has no trial detection {text[:20]}.",
            resource_id=f"{name}/trials/{text[:20]}",
            resource_type="TRIAL",
        )
    return int(text)


def _filters(request: Request) -> dict[str, str]:
    q = request.query_params
    show = q.get("show", "all")
    order = q.get("order", "listing")
    number = q.get("page", "1")
    return {
        "show": show if show in ("all", "unreviewed") else "all",
        "order": order if order in ("listing", "anomalous") else "listing",
        "page": number if number.isdigit() and 0 < len(number) < 7 and int(number) > 0 else "1",
    }


def counts_json(counts: TrialCounts) -> dict[str, int]:
    return {
        "total": counts.total,
        "checked": counts.checked,
        "errors": counts.errors,
        "anomalous": counts.anomalous,
        "reviewed": counts.reviewed,
        "added": counts.added,
        "ready": counts.ready_to_add,
    }


# --- the page -------------------------------------------------------------------------------


def _describe_page(runtime: Runtime, name: str, trial_id: int, filters: dict[str, str]) -> TrialPage:
    """The trial with the page of images the review ``filters`` (show, order, page) select."""
    return trial_service.describe_trial(
        runtime,
        console_context(runtime),
        name,
        trial_id,
        offset=(int(filters["page"]) - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
        unreviewed_only=filters["show"] == "unreviewed",
        anomalous_first=filters["order"] == "anomalous",
    )


def _view(runtime: Runtime, name: str, trial_id: int, filters: dict[str, str]) -> tuple[TrialPage, list[str]]:
    view = _describe_page(runtime, name, trial_id, filters)
    description = call(runtime, "DescribeProject", {"ProjectName": name})["ProjectDescription"]
    # The train dataset first: it is where verified images usually go.
    datasets = sorted((d["DatasetType"] for d in description.get("Datasets", [])), key=lambda t: t != "train")
    return view, datasets


def _progress(name: str, trial: TrialRow) -> str:
    c = trial.counts
    return (
        f'<section id="trial-progress" data-api="{esc(api_path(name, trial.id))}">'
        f'<progress max="{max(1, c.total)}" value="{c.checked}"></progress> '
        f'<span class="trial-checked">{c.checked}</span> of {c.total} images checked.'
        '<noscript><meta http-equiv="refresh" content="2"></noscript></section>'
    )


def _here(name: str, trial_id: int, filters: dict[str, str]) -> str:
    """The review page with these filters: where a verdict form returns to."""
    return f"{trial_path(name, trial_id)}?{urlencode(filters)}"


def _filter_form(name: str, trial_id: int, filters: dict[str, str]) -> str:
    def option(field: str, value: str, text: str) -> str:
        selected = " selected" if filters[field] == value else ""
        return f'<option value="{value}"{selected}>{text}</option>'

    show = option("show", "all", "all images") + option("show", "unreviewed", "unreviewed only")
    order = option("order", "listing", "as listed") + option(
        "order", "anomalous", "anomalous predictions first"
    )
    return (
        f'<form method="get" action="{esc(trial_path(name, trial_id))}" class="inline trial-filters">'
        f'<label>Show <select name="show">{show}</select></label>'
        f'<label>Order <select name="order">{order}</select></label><button>Apply</button></form>'
    )


def _verdict_text(image: TrialImageRow) -> str:
    if image.verdict is None:
        return "not reviewed"
    corrected = " (corrected)" if image.verdict != image.predicted else ""
    added = f", added to {image.added_to}" if image.added_to else ""
    return f"verified {image.verdict}{corrected}{added}"


def _tile(name: str, trial_id: int, image: TrialImageRow, back: str) -> str:
    file_name = image.source_ref.rstrip("/").rsplit("/", 1)[-1]
    thumb = (
        f'<img src="/console/thumbs/{esc(image.image_sha256)}.jpg" alt="" loading="lazy">'
        if image.image_sha256
        else '<span class="trial-nothumb">no preview</span>'
    )
    if image.mask_sha256:
        mask = f"/console/thumbs/{esc(image.mask_sha256)}.jpg"
        thumb += f'<img class="trial-mask" src="{mask}" alt="predicted mask">'
    head = (
        f'<div class="trial-thumb">{thumb}</div>'
        f'<span class="name" title="{esc(image.source_ref)}">{esc(file_name)}</span>'
    )
    if image.error is not None:
        return (
            f'<div class="trial-tile has-error" id="image-{image.id}" data-image="{image.id}">{head}'
            f'<span class="trial-error">Not checked: {esc(image.error)}</span></div>'
        )
    if image.predicted is None:
        waiting = "<span>waiting for the model</span>"
        return f'<div class="trial-tile pending" id="image-{image.id}">{head}{waiting}</div>'
    confidence = f"{100.0 * (image.confidence or 0.0):.1f}%"
    classes = f"trial-tile reviewable predicted-{image.predicted} verdict-{image.verdict or 'none'}"
    if image.added_to:
        classes += " added"
    buttons = "".join(
        f'<button name="verdict" value="{value}" data-key="{key}">{text} ({key})</button>'
        for value, key, text in VERDICT_BUTTONS
    )
    form = (
        f'<form method="post" action="{esc(trial_path(name, trial_id))}/verdicts" class="verdict-form" '
        f'data-api="{esc(api_path(name, trial_id))}/images/{image.id}/verdict">'
        f'<input type="hidden" name="image" value="{image.id}">'
        f'<input type="hidden" name="back" value="{esc(back)}">{buttons}</form>'
        if not image.added_to
        else ""
    )
    return (
        f'<div class="{classes}" id="image-{image.id}" tabindex="0" data-image="{image.id}" '
        f'data-predicted="{image.predicted}" data-verdict="{esc(image.verdict or "")}">{head}'
        f'<span class="prediction">predicted <strong>{image.predicted}</strong> ({confidence})</span>'
        f'<span class="verdict">{esc(_verdict_text(image))}</span>{form}</div>'
    )


def _add_form(name: str, trial: TrialRow, datasets: list[str]) -> str:
    if not datasets:
        return (
            '<p class="trial-add">Create a train dataset on the '
            f'<a href="/projects/{url_part(name)}">Datasets</a> page to add verified images to it.</p>'
        )
    options = "".join(f'<option value="{esc(d)}">{esc(d)}</option>' for d in datasets)
    ready = trial.counts.ready_to_add
    return (
        f'<form method="post" action="{esc(trial_path(name, trial.id))}/add" class="inline trial-add">'
        f'<label>Dataset <select name="dataset">{options}</select></label>'
        f'<button class="add-verified">Add <span class="ready-count">{ready}</span> verified images to the '
        f'<span class="dataset-name">{esc(datasets[0])}</span> dataset</button></form>'
    )


def _summary(trial: TrialRow) -> str:
    c = trial.counts
    return (
        f'<p class="trial-summary" data-status="{esc(trial.status)}">Model version {trial.model_version} on '
        f"<code>{esc(trial.source_uri)}</code>: <strong>{esc(status_text(trial))}</strong>. "
        f'Reviewed <span class="reviewed-count">{c.reviewed}</span> of {c.checked - c.errors}; '
        f'added <span class="added-count">{c.added}</span>.</p>'
    )


def _added_notice(outcome: AddedImages | None) -> str:
    if outcome is None:
        return ""
    skipped = "".join(f"<li>{esc(reason)}</li>" for reason in outcome.skipped)
    listing = f'<p>Left out:</p><ul class="trial-skipped">{skipped}</ul>' if skipped else ""
    plural = "image" if outcome.added == 1 else "images"
    return (
        f'<div class="trial-notice" role="status"><p>Added {outcome.added} {plural} to the '
        f"{esc(outcome.dataset_type)} dataset.</p>{listing}</div>"
    )


async def review_page(
    runtime: Runtime,
    request: Request,
    error: str | None = None,
    status_code: int = 200,
    added: AddedImages | None = None,
) -> Response:
    name = request.path_params["name"]
    nav = project_nav(name, "trials")
    filters = _filters(request)
    back_link = f'<p><a href="{esc(trials_path(name))}">All trials</a></p>'
    try:
        trial_id = _trial_id(request)
        view, datasets = await run_in_threadpool(_view, runtime, name, trial_id, filters)
    except ServiceError as exc:
        title = f"{name} / trial"
        return page(title, back_link, error=exc.message, status_code=exc.status, nav=nav, scripts=ASSETS)
    trial = view.trial
    title = f"{name} / {trial.name}"
    body = _summary(trial) + _added_notice(added)
    if trial.status == "RUNNING":
        body += _progress(name, trial)
    number = int(filters["page"])
    here = _here(name, trial.id, filters)
    tiles = "".join(_tile(name, trial.id, image, here) for image in view.images)
    pager = f'<p class="pager">Page {number}'
    if number > 1:
        previous = f"{trial_path(name, trial.id)}?{urlencode({**filters, 'page': number - 1})}"
        pager += f' <a href="{esc(previous)}" rel="prev">previous page</a>'
    if view.offset + len(view.images) < view.matching:
        following = f"{trial_path(name, trial.id)}?{urlencode({**filters, 'page': number + 1})}"
        pager += f' <a href="{esc(following)}" rel="next">next page</a>'
    pager += "</p>"
    help_text = (
        '<p class="trial-help">Click an image (or press an arrow key), then <kbd>c</kbd> confirms the '
        "prediction, <kbd>n</kbd> marks it normal, <kbd>a</kbd> anomalous; the next image gets the focus.</p>"
    )
    body += (
        _add_form(name, trial, datasets)
        + _filter_form(name, trial.id, filters)
        + help_text
        + f'<div class="trial-grid" data-segmentation="{str(view.segmentation).lower()}">'
        + (tiles or "<p>No images match.</p>")
        + "</div>"
        + pager
        + back_link
    )
    return page(title, body, error=error, status_code=status_code, nav=nav, scripts=ASSETS)


# --- actions --------------------------------------------------------------------------------


def _safe_back(name: str, trial_id: int, back: str) -> str:
    own = trial_path(name, trial_id)
    return back if back == own or back.startswith(own + "?") else own


async def post_verdict(runtime: Runtime, request: Request) -> Response:
    name = request.path_params["name"]
    form = await read_form(request)
    image = first(form, "image")
    try:
        trial_id = _trial_id(request)
        await run_in_threadpool(
            trial_service.set_verdict,
            runtime,
            console_context(runtime),
            name,
            trial_id,
            int(image) if image.isdigit() and len(image) < 13 else 0,
            first(form, "verdict"),
        )
    except ServiceError as exc:
        return await review_page(runtime, request, error=exc.message, status_code=exc.status)
    back = _safe_back(name, trial_id, first(form, "back"))
    return RedirectResponse(f"{back}#image-{image}", status_code=303)


async def post_add(runtime: Runtime, request: Request) -> Response:
    name = request.path_params["name"]
    form = await read_form(request)
    try:
        trial_id = _trial_id(request)
        outcome = await run_in_threadpool(
            trial_service.add_verified,
            runtime,
            console_context(runtime),
            name,
            trial_id,
            first(form, "dataset"),
        )
    except ServiceError as exc:
        return await review_page(runtime, request, error=exc.message, status_code=exc.status)
    return await review_page(runtime, request, added=outcome)


# --- JSON for trials.js ---------------------------------------------------------------------


def _error_json(exc: ServiceError) -> JSONResponse:
    return JSONResponse({"message": exc.message}, status_code=exc.status)


def _checked_tiles(name: str, view: TrialPage, filters: dict[str, str]) -> list[dict[str, Any]]:
    """The tiles of the page's images the trial has already checked, for the running page's grid."""
    here = _here(name, view.trial.id, filters)
    return [
        {"id": image.id, "html": _tile(name, view.trial.id, image, here)}
        for image in view.images
        if image.checked
    ]


async def progress_json(runtime: Runtime, request: Request) -> Response:
    """Status and counts; with ``?tiles=1`` also the summary line and the checked tiles of the page."""
    name = request.path_params["name"]
    with_tiles = request.query_params.get("tiles") == "1"
    filters = _filters(request)
    try:
        trial_id = _trial_id(request)
        if with_tiles:
            view = await run_in_threadpool(_describe_page, runtime, name, trial_id, filters)
        else:
            ctx = console_context(runtime)
            view = await run_in_threadpool(
                trial_service.describe_trial, runtime, ctx, name, trial_id, limit=1
            )
    except ServiceError as exc:
        return _error_json(exc)
    trial = view.trial
    body: dict[str, Any] = {
        "status": trial.status,
        "message": trial.status_message or "",
        "counts": counts_json(trial.counts),
    }
    if with_tiles:
        body["summary"] = _summary(trial)
        body["tiles"] = _checked_tiles(name, view, filters)
    return JSONResponse(body)


def _verdict_result(
    runtime: Runtime, name: str, trial_id: int, image_id: int, verdict: str
) -> dict[str, Any]:
    ctx = console_context(runtime)
    image = trial_service.set_verdict(runtime, ctx, name, trial_id, image_id, verdict)
    trial = trial_service.describe_trial(runtime, ctx, name, trial_id, limit=1).trial
    return {
        "image": {
            "id": image.id,
            "verdict": image.verdict,
            "predicted": image.predicted,
            "text": _verdict_text(image),
        },
        "counts": counts_json(trial.counts),
    }


async def verdict_json(runtime: Runtime, request: Request) -> Response:
    name = request.path_params["name"]
    form = await read_form(request)
    image = str(request.path_params["image_id"])
    try:
        trial_id = _trial_id(request)
        image_id = int(image) if image.isdigit() and len(image) < 13 else 0
        result = await run_in_threadpool(
            _verdict_result, runtime, name, trial_id, image_id, first(form, "verdict")
        )
    except ServiceError as exc:
        return _error_json(exc)
    return JSONResponse(result)


def routes(bind: Binder) -> list[BaseRoute]:
    """The review page, its verdict and add forms, and the JSON the page's script uses."""
    base = "/projects/{name}/trials/{trial_id}"
    api = "/console/api/projects/{name}/trials/{trial_id}"
    return [
        PageRoute(base, bind(review_page), methods=["GET"]),
        PageRoute(base + "/verdicts", bind(post_verdict), methods=["POST"]),
        PageRoute(base + "/add", bind(post_add), methods=["POST"]),
        Route(api, bind(progress_json), methods=["GET"]),
        Route(api + "/images/{image_id}/verdict", bind(verdict_json), methods=["POST"]),
    ]
