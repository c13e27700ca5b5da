"""One model version (``/projects/{name}/models/{version}``): live status, hosting, packages, deletion.

Hosting starts with StartModel (MinInferenceUnits, optional MaxInferenceUnits) and stops with
StopModel; edge packages start with StartModelPackagingJob (``model_packaging`` builds its
parameters); deletion asks for confirmation on its own page, then sends DeleteModel. The status
updates itself while it is transitional (``models.js`` polls the status JSON and swaps in the page
when the model settles).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from openlookout.console.calls import call
from openlookout.console.forms import first, parse_form
from openlookout.console.pages.model_packaging import (
    DEFAULT_TARGET,
    FIELDS,
    TARGETS,
    job_output,
    packaging_jobs,
    packaging_params,
)
from openlookout.console.pages.models import model_context
from openlookout.console.routing import Binder, PageRoute
from openlookout.console.templating import redirect, render
from openlookout.errors import ServiceError, ValidationException
from openlookout.service.context import Runtime
from openlookout.service.states import (
    MODEL_PACKABLE,
    MODEL_STARTABLE,
    MODEL_STOPPABLE,
    MODEL_TRAINED,
    PACKAGING_ACTIVE,
)


def model_page(
    runtime: Runtime,
    request: Request,
    refused: ServiceError | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    context: dict[str, Any] = {
        "title": f"Model version {version}",
        **model_context(name),
        "version": version,
    }
    try:
        model = call(runtime, "DescribeModel", {"ProjectName": name, "ModelVersion": version})[
            "ModelDescription"
        ]
        jobs = packaging_jobs(runtime, name, version)
    except ServiceError as exc:
        return render(request, "model.html", {**context, "model": None}, refused=exc)
    location = model.get("OutputConfig", {}).get("S3Location", {})
    context.update(
        model=model,
        output=f"s3://{location.get('Bucket', '')}/{location.get('Prefix', '')}",
        jobs=[{**job, "output": job_output(job)} for job in jobs],
        jobs_running=any(job["Status"] in PACKAGING_ACTIVE for job in jobs),
        values=values or {},
        states={"startable": MODEL_STARTABLE, "stoppable": MODEL_STOPPABLE, "packable": MODEL_PACKABLE},
        with_metrics=MODEL_TRAINED,
        targets=[(key, title) for key, (title, _) in TARGETS.items()],
        default_target=DEFAULT_TARGET,
    )
    return render(request, "model.html", context, refused=refused)


def _units(text: str, field: str) -> int:
    if not text.lstrip("-").isdigit():
        raise ValidationException(f"{field} must be a whole number.")
    return int(text)


def start_hosting(runtime: Runtime, request: Request, body: bytes) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    form = parse_form(body)
    values = {"min_units": first(form, "min_units"), "max_units": first(form, "max_units")}
    try:
        params: dict[str, Any] = {
            "ProjectName": name,
            "ModelVersion": version,
            "MinInferenceUnits": _units(values["min_units"], "MinInferenceUnits"),
        }
        if values["max_units"]:
            params["MaxInferenceUnits"] = _units(values["max_units"], "MaxInferenceUnits")
        call(runtime, "StartModel", params)
    except ServiceError as exc:
        return model_page(runtime, request, refused=exc, values=values)
    return redirect(request, "model", **request.path_params)


def stop_hosting(runtime: Runtime, request: Request, body: bytes) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    try:
        call(runtime, "StopModel", {"ProjectName": name, "ModelVersion": version})
    except ServiceError as exc:
        return model_page(runtime, request, refused=exc)
    return redirect(request, "model", **request.path_params)


def start_packaging(runtime: Runtime, request: Request, body: bytes) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    form = parse_form(body)
    values = {key: first(form, key) for key in FIELDS}
    try:
        call(runtime, "StartModelPackagingJob", packaging_params(name, version, values))
    except ServiceError as exc:
        return model_page(runtime, request, refused=exc, values=values)
    return redirect(request, "model", "#packaging", **request.path_params)


def confirm_delete(runtime: Runtime, request: Request, refused: ServiceError | None = None) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    context = {
        "title": f"Delete model version {version}",
        **model_context(name),
        "version": version,
    }
    return render(request, "model_delete.html", context, refused=refused)


def delete_model(runtime: Runtime, request: Request, body: bytes) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    try:
        call(runtime, "DeleteModel", {"ProjectName": name, "ModelVersion": version})
    except ServiceError as exc:
        return confirm_delete(runtime, request, refused=exc)
    return redirect(request, "models", name=name)


def routes(console: Binder) -> list[BaseRoute]:
    """The model page, hosting, packaging and deletion."""
    base = "/projects/{name}/models/{version}"
    return [
        PageRoute(base, console.page(model_page), methods=["GET"], name="model"),
        PageRoute(base + "/start", console.action(start_hosting), methods=["POST"], name="model_start"),
        PageRoute(base + "/stop", console.action(stop_hosting), methods=["POST"], name="model_stop"),
        PageRoute(
            base + "/packages", console.action(start_packaging), methods=["POST"], name="model_package"
        ),
        PageRoute(base + "/delete", console.page(confirm_delete), methods=["GET"], name="model_delete"),
        PageRoute(base + "/delete", console.action(delete_model), methods=["POST"]),
    ]
