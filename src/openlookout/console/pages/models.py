"""A project's models (``/projects/{name}/models``): the list, the training form, live status JSON.

The training form shows the project's readiness first (the button is disabled with the reasons
while the labeled minimums are not met) and sends CreateModel with the typed output location;
the field is pre-filled from the project's latest model, since the service has no default output
location. ``GET /console/api/projects/{name}/models/{version}`` answers DescribeModel's status
members as JSON for the pages' live status updates (``models.js``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from openlookout.console.calls import call, console_context, every_page
from openlookout.console.forms import first, parse_form
from openlookout.console.routing import Binder, PageRoute, refusal_json
from openlookout.console.templating import redirect, render
from openlookout.errors import ServiceError
from openlookout.service.context import Runtime
from openlookout.service.readiness import training_readiness
from openlookout.service.states import MODEL_TRANSITIONAL

ASSETS = ("models.js", "models.css")
STATUS_KEYS = (
    "ModelVersion",
    "Status",
    "StatusMessage",
    "Performance",
    "MinInferenceUnits",
    "MaxInferenceUnits",
)


def model_context(name: str, section: str = "models") -> dict[str, Any]:
    """What every model page's template needs besides its own data."""
    return {"project": name, "section": section, "transitional": MODEL_TRANSITIONAL, "assets": ASSETS}


def _output_location(runtime: Runtime, name: str, models: list[dict[str, Any]]) -> dict[str, str]:
    """The latest model's output location, to pre-fill the training form."""
    location = {"Bucket": "", "Prefix": ""}
    if models:
        latest = max(models, key=lambda m: int(m["ModelVersion"]))
        described = call(
            runtime, "DescribeModel", {"ProjectName": name, "ModelVersion": latest["ModelVersion"]}
        )
        location.update(described["ModelDescription"].get("OutputConfig", {}).get("S3Location", {}))
    return location


def models_page(
    runtime: Runtime,
    request: Request,
    refused: ServiceError | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    name = request.path_params["name"]
    context = {"title": "Models", **model_context(name)}
    try:
        models = every_page(runtime, "ListModels", {"ProjectName": name}, "Models")
        readiness = training_readiness(runtime, console_context(), name)
        location = _output_location(runtime, name, models)
    except ServiceError as exc:
        failed = {**context, "models": None}
        return render(request, "models.html", failed, refused=exc)
    context.update(
        models=sorted(models, key=lambda m: int(m["ModelVersion"]), reverse=True),
        readiness=readiness,
        values=values or {"bucket": location.get("Bucket", ""), "prefix": location.get("Prefix", "")},
    )
    return render(request, "models.html", context, refused=refused)


def create_model(runtime: Runtime, request: Request, body: bytes) -> Response:
    name = request.path_params["name"]
    form = parse_form(body)
    values = {k: first(form, k) for k in ("description", "bucket", "prefix")}
    location = {"Bucket": values["bucket"], **({"Prefix": values["prefix"]} if values["prefix"] else {})}
    params: dict[str, Any] = {"ProjectName": name, "OutputConfig": {"S3Location": location}}
    if values["description"]:
        params["Description"] = values["description"]
    try:
        result = call(runtime, "CreateModel", params)
    except ServiceError as exc:
        return models_page(runtime, request, refused=exc, values=values)
    version = result["ModelMetadata"]["ModelVersion"]
    return redirect(request, "model", name=name, version=version)


def model_status(runtime: Runtime, request: Request) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    try:
        described = call(runtime, "DescribeModel", {"ProjectName": name, "ModelVersion": version})
    except ServiceError as exc:
        return refusal_json(exc)
    model = described["ModelDescription"]
    body = {k: model[k] for k in STATUS_KEYS if k in model}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def routes(console: Binder) -> list[BaseRoute]:
    """The models list, the training form and the status JSON."""
    return [
        PageRoute("/projects/{name}/models", console.page(models_page), methods=["GET"], name="models"),
        PageRoute("/projects/{name}/models", console.action(create_model), methods=["POST"]),
        Route(
            "/console/api/projects/{name}/models/{version}",
            console.page(model_status),
            methods=["GET"],
            name="model_status",
        ),
    ]
