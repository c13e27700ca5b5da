"""One test image of a model (``/projects/{name}/models/{version}/results/{number}``).

The page shows the image with the predicted heatmap (or, for segmentation, the predicted mask)
laid over it at an adjustable opacity, and the ground truth beside it: the label and, when the
image has one, its mask. The pictures come from
``/console/api/projects/{name}/models/{version}/results/{number}/{image|heatmap.png|
predicted-mask.png|truth-mask.png}``; predictions are computed on demand (see ``overlays``).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from openlookout.blobs.base import BlobNotFound
from openlookout.console.calls import console_context
from openlookout.console.pages.models import ASSETS, model_url, status_api_url
from openlookout.console.render import esc, page, project_nav
from openlookout.console.routing import Binder, PageRoute
from openlookout.errors import ServiceError
from openlookout.service.context import Runtime
from openlookout.service.evaluation import (
    PICTURES,
    NoSuchResult,
    model_result,
    result_picture,
    short_name,
)
from openlookout.service.evaluation import ModelResult as FoundResult


def _find(runtime: Runtime, name: str, version: str, number: str) -> FoundResult:
    return model_result(runtime, console_context(runtime), name, version, number)[1]


def _picture_url(name: str, version: str, number: int, picture: str) -> str:
    return f"{status_api_url(name, version)}/results/{number}/{picture}"


def _body(name: str, version: str, found: FoundResult) -> str:
    result, total, segmentation = found.result, found.total, found.segmentation
    image = _picture_url(name, version, result.number, "image")
    overlay = "predicted-mask.png" if segmentation else "heatmap.png"
    choices = ""
    if segmentation:
        choices = (
            '<label><input type="radio" name="overlay" value="predicted-mask.png" checked>'
            " predicted mask</label>"
            '<label><input type="radio" name="overlay" value="heatmap.png"> heatmap</label>'
        )
    has_truth_mask = result.entry is not None and result.entry.mask_sha256 is not None
    truth_overlay = (
        f'<img class="overlay" src="{esc(_picture_url(name, version, result.number, "truth-mask.png"))}" '
        'alt="ground-truth mask">'
        if has_truth_mask
        else ""
    )
    verdict = "correct" if result.correct else "incorrect"
    gone = (
        '<p class="error" role="alert">This image is no longer in the project\'s datasets, so it cannot '
        "be shown.</p>"
        if result.entry is None
        else ""
    )
    steps = []
    if result.number > 1:
        steps.append(
            f'<a href="{esc(model_url(name, version, f"/results/{result.number - 1}"))}">previous</a>'
        )
    if result.number < total:
        steps.append(f'<a href="{esc(model_url(name, version, f"/results/{result.number + 1}"))}">next</a>')
    metrics = esc(model_url(name, version, "/metrics#results"))
    overlay_url = esc(_picture_url(name, version, result.number, overlay))
    position = f"image {result.number} of {total} · {' · '.join(steps)}"
    return f"""<p><a href="{metrics}">All test results</a> · {position}</p>
<p class="source-ref">{esc(result.source_ref)}</p>{gone}
<div class="result-view" data-base="{esc(_picture_url(name, version, result.number, ""))}">
<figure class="prediction"><figcaption>Prediction: <strong class="predicted">{esc(result.predicted)}</strong>
(confidence <span class="confidence">{result.confidence:.3f}</span>,
<span class="verdict {verdict}">{verdict}</span>)
</figcaption><div class="stack"><img class="base" src="{esc(image)}" alt="test image">
<img class="overlay predicted" src="{overlay_url}" alt="prediction overlay">
</div><div class="overlay-controls">{choices}<label>Opacity
<input type="range" class="opacity" min="0" max="100" value="55"></label></div></figure>
<figure class="truth"><figcaption>Ground truth: <strong class="truth-label">{esc(result.truth)}</strong>
{"" if has_truth_mask else "(no mask)"}</figcaption><div class="stack">
<img class="base" src="{esc(image)}" alt="test image">{truth_overlay}</div></figure>
</div>"""


async def result_page(runtime: Runtime, request: Request) -> Response:
    name, version, number = (request.path_params[k] for k in ("name", "version", "number"))
    nav = project_nav(name, "models")
    back = f'<p><a href="{esc(model_url(name, version, "/metrics"))}">Back to the metrics</a></p>'
    try:
        found = await run_in_threadpool(_find, runtime, name, version, number)
    except ServiceError as exc:
        return page("Test result", back, error=exc.message, status_code=exc.status, nav=nav)
    except NoSuchResult as exc:
        return page("Test result", back, error=str(exc), status_code=404, nav=nav)
    title = f"Model version {version}: {short_name(found.result.source_ref)}"
    return page(title, _body(name, version, found), nav=nav, scripts=ASSETS)


async def picture(runtime: Runtime, request: Request) -> Response:
    name, version, number, which = (request.path_params[k] for k in ("name", "version", "number", "picture"))
    if which not in PICTURES:
        return PlainTextResponse("No such picture.", status_code=404)
    try:
        found = await run_in_threadpool(
            result_picture, runtime, console_context(runtime), name, version, number, which
        )
    except ServiceError as exc:
        return PlainTextResponse(exc.message, status_code=exc.status)
    except (NoSuchResult, BlobNotFound, LookupError) as exc:
        return PlainTextResponse(str(exc) or "Not found.", status_code=404)
    if found is None:
        return PlainTextResponse("This model or image has no such mask.", status_code=404)
    data, media_type = found
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


def routes(bind: Binder) -> list[BaseRoute]:
    """The result view and its pictures."""
    return [
        PageRoute("/projects/{name}/models/{version}/results/{number}", bind(result_page), methods=["GET"]),
        Route(
            "/console/api/projects/{name}/models/{version}/results/{number}/{picture}",
            bind(picture),
            methods=["GET"],
        ),
    ]
