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

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from openlookout.console.calls import call, console_context
from openlookout.console.forms import first, parse_form
from openlookout.console.pages.trials import trial_context
from openlookout.console.routing import Binder, PageRoute, refusal_json
from openlookout.console.templating import render, render_fragment, with_query
from openlookout.errors import ResourceNotFoundException, ServiceError
from openlookout.service import trials as trial_service
from openlookout.service.context import Runtime
from openlookout.service.states import TrialStatus
from openlookout.service.trials import AddedImages, TrialCounts, TrialImageRow, TrialPage

PAGE_SIZE = 100
VERDICT_BUTTONS = (("confirm", "c", "Confirm"), ("normal", "n", "Normal"), ("anomaly", "a", "Anomaly"))


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


def verdict_text(image: TrialImageRow) -> str:
    if image.verdict is None:
        return "not reviewed"
    corrected = " (corrected)" if image.verdict != image.predicted else ""
    added = f", added to {image.added_to}" if image.added_to else ""
    return f"verified {image.verdict}{corrected}{added}"


# --- the page -------------------------------------------------------------------------------


def _describe_page(runtime: Runtime, name: str, trial_id: int, filters: dict[str, str]) -> TrialPage:
    """The trial with the page of images the review ``filters`` (show, order, page) select."""
    return trial_service.describe_trial(
        runtime,
        console_context(),
        name,
        trial_id,
        offset=(int(filters["page"]) - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
        unreviewed_only=filters["show"] == "unreviewed",
        anomalous_first=filters["order"] == "anomalous",
    )


def _tile_context(request: Request, name: str, view: TrialPage, filters: dict[str, str]) -> dict[str, Any]:
    """What the tile and summary fragments need: the trial, where a verdict form returns to."""
    here = with_query(request.url_for("trial", name=name, trial_id=view.trial.id).path, filters)
    return {
        "project": name,
        "trial": view.trial,
        "here": here,
        "buttons": VERDICT_BUTTONS,
        "verdict_text": verdict_text,
    }


def review_page(
    runtime: Runtime,
    request: Request,
    refused: ServiceError | None = None,
    added: AddedImages | None = None,
) -> Response:
    name = request.path_params["name"]
    filters = _filters(request)
    context = {**trial_context(runtime, name, f"{name} / trial")}
    try:
        view = _describe_page(runtime, name, _trial_id(request), filters)
        description = call(runtime, "DescribeProject", {"ProjectName": name})["ProjectDescription"]
    except ServiceError as exc:
        return render(
            request,
            "trial_review.html",
            {**context, "view": None},
            refused=exc,
        )
    # The train dataset first: it is where verified images usually go.
    datasets = sorted((d["DatasetType"] for d in description.get("Datasets", [])), key=lambda t: t != "train")
    number = int(filters["page"])
    page = request.url_for("trial", name=name, trial_id=view.trial.id).path
    context.update(
        _tile_context(request, name, view, filters),
        title=f"{name} / {view.trial.name}",
        view=view,
        datasets=datasets,
        added=added,
        running=view.trial.status == TrialStatus.RUNNING,
        filters=filters,
        previous=with_query(page, {**filters, "page": number - 1}) if number > 1 else "",
        next=with_query(page, {**filters, "page": number + 1})
        if view.offset + len(view.images) < view.matching
        else "",
        number=number,
    )
    return render(request, "trial_review.html", context, refused=refused)


# --- actions --------------------------------------------------------------------------------


def _safe_back(request: Request, name: str, trial_id: int, back: str) -> str:
    own = request.url_for("trial", name=name, trial_id=trial_id).path
    return back if back == own or back.startswith(own + "?") else own


def post_verdict(runtime: Runtime, request: Request, body: bytes) -> Response:
    name = request.path_params["name"]
    form = parse_form(body)
    image = first(form, "image")
    try:
        trial_id = _trial_id(request)
        image_id = int(image) if image.isdigit() and len(image) < 13 else 0
        trial_service.set_verdict(
            runtime, console_context(), name, trial_id, image_id, first(form, "verdict")
        )
    except ServiceError as exc:
        return review_page(runtime, request, refused=exc)
    back = _safe_back(request, name, trial_id, first(form, "back"))
    return RedirectResponse(f"{back}#image-{image}", status_code=303)


def post_add(runtime: Runtime, request: Request, body: bytes) -> Response:
    name = request.path_params["name"]
    try:
        dataset_type = first(parse_form(body), "dataset")
        outcome = trial_service.add_verified(
            runtime, console_context(), name, _trial_id(request), dataset_type
        )
    except ServiceError as exc:
        return review_page(runtime, request, refused=exc)
    return review_page(runtime, request, added=outcome)


# --- JSON for trials.js ---------------------------------------------------------------------


def progress_json(runtime: Runtime, request: Request) -> Response:
    """Status and counts; with ``?tiles=1`` also the summary line and the checked tiles of the page."""
    name = request.path_params["name"]
    with_tiles = request.query_params.get("tiles") == "1"
    filters = _filters(request)
    try:
        trial_id = _trial_id(request)
        if with_tiles:
            view = _describe_page(runtime, name, trial_id, filters)
        else:
            view = trial_service.describe_trial(runtime, console_context(), name, trial_id, limit=1)
    except ServiceError as exc:
        return refusal_json(exc)
    trial = view.trial
    body: dict[str, Any] = {
        "status": trial.status,
        "message": trial.status_message or "",
        "counts": counts_json(trial.counts),
    }
    if with_tiles:
        fragment = _tile_context(request, name, view, filters)
        body["summary"] = render_fragment(request, "trial_summary.html", fragment)
        body["tiles"] = [
            {
                "id": image.id,
                "html": render_fragment(request, "trial_tile.html", {**fragment, "image": image}),
            }
            for image in view.images
            if image.checked
        ]
    return JSONResponse(body)


def verdict_json(runtime: Runtime, request: Request, body: bytes) -> Response:
    name = request.path_params["name"]
    image_text = str(request.path_params["image_id"])
    ctx = console_context()
    try:
        trial_id = _trial_id(request)
        image_id = int(image_text) if image_text.isdigit() and len(image_text) < 13 else 0
        image = trial_service.set_verdict(
            runtime, ctx, name, trial_id, image_id, first(parse_form(body), "verdict")
        )
        trial = trial_service.describe_trial(runtime, ctx, name, trial_id, limit=1).trial
    except ServiceError as exc:
        return refusal_json(exc)
    shown = {
        "id": image.id,
        "verdict": image.verdict,
        "predicted": image.predicted,
        "text": verdict_text(image),
    }
    return JSONResponse({"image": shown, "counts": counts_json(trial.counts)})


def routes(console: Binder) -> list[BaseRoute]:
    """The review page, its verdict and add forms, and the JSON the page's script uses."""
    base = "/projects/{name}/trials/{trial_id}"
    api = "/console/api/projects/{name}/trials/{trial_id}"
    return [
        PageRoute(base, console.page(review_page), methods=["GET"], name="trial"),
        PageRoute(base + "/verdicts", console.action(post_verdict), methods=["POST"], name="trial_verdicts"),
        PageRoute(base + "/add", console.action(post_add), methods=["POST"], name="trial_add"),
        Route(api, console.page(progress_json), methods=["GET"], name="trial_progress"),
        Route(
            api + "/images/{image_id}/verdict",
            console.action(verdict_json),
            methods=["POST"],
            name="trial_verdict",
        ),
    ]
