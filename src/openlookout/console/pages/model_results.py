"""One test image of a model (``/projects/{name}/models/{version}/results/{number}``).

The page shows the image with the predicted heatmap (or, for segmentation, the predicted mask)
laid over it at an adjustable opacity, and the ground truth beside it: the label and, when the
image has one, its mask. The pictures come from
``/console/api/projects/{name}/models/{version}/results/{number}/{image|heatmap.png|
predicted-mask.png|truth-mask.png}`` (``service.evaluation.result_picture``; predictions are
computed on demand from the model's ONNX export).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from openlookout.console.calls import console_context
from openlookout.console.pages.models import model_context
from openlookout.console.routing import Binder, PageRoute
from openlookout.console.templating import render
from openlookout.errors import ServiceError
from openlookout.service.context import Runtime
from openlookout.service.evaluation import NoSuchResult, model_result, result_picture, short_name


def result_page(runtime: Runtime, request: Request) -> Response:
    name, version, number = (request.path_params[k] for k in ("name", "version", "number"))
    context: dict[str, Any] = {"title": "Test result", **model_context(name), "version": version}
    try:
        found = model_result(runtime, console_context(), name, version, number)[1]
    except ServiceError as exc:
        return render(
            request,
            "model_result.html",
            {**context, "found": None},
            refused=exc,
        )
    except NoSuchResult as exc:
        return render(
            request, "model_result.html", {**context, "found": None, "error": str(exc)}, status_code=404
        )
    image = request.url_for(
        "model_result_picture", name=name, version=version, number=found.result.number, picture="image"
    )
    context.update(
        title=f"Model version {version}: {short_name(found.result.source_ref)}",
        found=found,
        pictures=image.path.rsplit("/", 1)[0] + "/",
    )
    return render(request, "model_result.html", context)


def picture(runtime: Runtime, request: Request) -> Response:
    name, version, number, which = (request.path_params[k] for k in ("name", "version", "number", "picture"))
    try:
        found = result_picture(runtime, console_context(), name, version, number, which)
    except ServiceError as exc:
        return PlainTextResponse(exc.message, status_code=exc.status)
    except LookupError as exc:  # NoSuchResult and a model without an exported detector
        return PlainTextResponse(str(exc) or "Not found.", status_code=404)
    if found is None:
        return PlainTextResponse("This model or image has no such mask.", status_code=404)
    data, media_type = found
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


def routes(console: Binder) -> list[BaseRoute]:
    """The result view and its pictures."""
    return [
        PageRoute(
            "/projects/{name}/models/{version}/results/{number}",
            console.page(result_page),
            methods=["GET"],
            name="model_result",
        ),
        Route(
            "/console/api/projects/{name}/models/{version}/results/{number}/{picture}",
            console.page(picture),
            methods=["GET"],
            name="model_result_picture",
        ),
    ]
