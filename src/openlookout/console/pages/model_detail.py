"""One model version (``/projects/{name}/models/{version}``): live status, hosting, deletion.

Hosting starts with StartModel (MinInferenceUnits, optional MaxInferenceUnits) and stops with
StopModel; deletion asks for confirmation on its own page, then sends DeleteModel. The status
updates itself while it is transitional (``models.js`` polls the status JSON and reloads the page
when the model settles). The packaging section comes from ``model_packaging``.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from openlookout.console.calls import call
from openlookout.console.forms import first, read_form
from openlookout.console.pages.model_packaging import packaging_section, packaging_view
from openlookout.console.pages.models import ASSETS, model_url, percent, status_cell
from openlookout.console.render import esc, page, project_nav, url_part, when
from openlookout.console.routing import Binder, PageRoute
from openlookout.errors import ServiceError, ValidationException
from openlookout.service.context import Runtime

STARTABLE = ("TRAINED", "HOSTING_FAILED")
STOPPABLE = ("HOSTED", "STARTING_HOSTING", "HOSTING_FAILED", "SYSTEM_UPDATING")
WITH_METRICS = (
    "TRAINED",
    "STARTING_HOSTING",
    "HOSTED",
    "HOSTING_FAILED",
    "STOPPING_HOSTING",
    "SYSTEM_UPDATING",
)


def _view(runtime: Runtime, name: str, version: str) -> dict[str, Any]:
    model = call(runtime, "DescribeModel", {"ProjectName": name, "ModelVersion": version})
    return {"model": model["ModelDescription"], "packaging": packaging_view(runtime, name, version)}


def _summary(name: str, model: dict[str, Any]) -> str:
    version = model["ModelVersion"]
    location = model.get("OutputConfig", {}).get("S3Location", {})
    output = f"s3://{location.get('Bucket', '')}/{location.get('Prefix', '')}"
    units = ""
    if "MinInferenceUnits" in model:
        units = f"<dt>Inference units</dt><dd>{model['MinInferenceUnits']}"
        maximum = model.get("MaxInferenceUnits", model["MinInferenceUnits"])
        units += f" to {maximum}" if maximum != model["MinInferenceUnits"] else ""
        units += "</dd>"
    return (
        f'<dl class="model-summary"><dt>Status</dt><dd>{status_cell(name, version, model["Status"])}</dd>'
        f'<dt>Message</dt><dd class="model-message">{esc(model.get("StatusMessage", ""))}</dd>'
        f"<dt>Created</dt><dd>{esc(when(model.get('CreationTimestamp')))}</dd>"
        f"<dt>Description</dt><dd>{esc(model.get('Description', ''))}</dd>"
        f"<dt>Output</dt><dd>{esc(output)}</dd>{units}</dl>"
    )


def _performance(name: str, model: dict[str, Any]) -> str:
    if model["Status"] not in WITH_METRICS or "Performance" not in model:
        return ""
    scores = model["Performance"]
    return (
        '<section id="performance"><h2>Performance</h2>'
        f'<p class="scores">F1 {percent(scores.get("F1Score"))}, '
        f"precision {percent(scores.get('Precision'))}, recall {percent(scores.get('Recall'))}</p>"
        f'<p><a href="{esc(model_url(name, model["ModelVersion"], "/metrics"))}">Metrics and test results</a>'
        "</p></section>"
    )


def _hosting(name: str, model: dict[str, Any], values: dict[str, str]) -> str:
    version, status = model["ModelVersion"], model["Status"]
    parts = ['<section id="hosting"><h2>Hosting</h2>']
    if status in STARTABLE:
        parts.append(
            f'<form method="post" action="{esc(model_url(name, version, "/start"))}"'
            ' class="inline start-form"><label>Min inference units <input name="min_units" size="4"'
            f' value="{esc(values.get("min_units", "1"))}">'
            f'</label><label>Max inference units <input name="max_units" size="4" '
            f'value="{esc(values.get("max_units", ""))}" placeholder="optional"></label>'
            "<button>Start hosting</button></form>"
        )
    if status in STOPPABLE:
        parts.append(
            f'<form method="post" action="{esc(model_url(name, version, "/stop"))}" class="inline stop-form">'
            "<button>Stop hosting</button></form>"
        )
    if len(parts) == 1:
        parts.append(f"<p>The model cannot be hosted while it is {esc(status)}.</p>")
    parts.append("</section>")
    return "".join(parts)


async def model_page(
    runtime: Runtime,
    request: Request,
    error: str | None = None,
    status_code: int = 200,
    values: dict[str, str] | None = None,
) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    nav = project_nav(name, "models")
    title = f"Model version {version}"
    try:
        view = await run_in_threadpool(_view, runtime, name, version)
    except ServiceError as exc:
        back = f'<p><a href="/projects/{url_part(name)}/models">Back to models</a></p>'
        return page(title, back, error=exc.message, status_code=exc.status, nav=nav)
    model = view["model"]
    delete_url = esc(model_url(name, version, "/delete"))
    delete = f'<p><a class="danger-link" href="{delete_url}">Delete this model</a></p>'
    body = (
        _summary(name, model)
        + _performance(name, model)
        + _hosting(name, model, values or {})
        + packaging_section(name, model, view["packaging"], values or {})
        + delete
    )
    return page(title, body, error=error, status_code=status_code, nav=nav, scripts=ASSETS)


def _units(text: str, field: str) -> int:
    if not text.lstrip("-").isdigit():
        raise ValidationException(f"{field} must be a whole number.")
    return int(text)


async def start_hosting(runtime: Runtime, request: Request) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    form = await read_form(request)
    values = {"min_units": first(form, "min_units"), "max_units": first(form, "max_units")}
    try:
        params: dict[str, Any] = {
            "ProjectName": name,
            "ModelVersion": version,
            "MinInferenceUnits": _units(values["min_units"], "MinInferenceUnits"),
        }
        if values["max_units"]:
            params["MaxInferenceUnits"] = _units(values["max_units"], "MaxInferenceUnits")
        await run_in_threadpool(call, runtime, "StartModel", params)
    except ServiceError as exc:
        return await model_page(runtime, request, error=exc.message, status_code=exc.status, values=values)
    return RedirectResponse(model_url(name, version), status_code=303)


async def stop_hosting(runtime: Runtime, request: Request) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    try:
        await run_in_threadpool(call, runtime, "StopModel", {"ProjectName": name, "ModelVersion": version})
    except ServiceError as exc:
        return await model_page(runtime, request, error=exc.message, status_code=exc.status)
    return RedirectResponse(model_url(name, version), status_code=303)


async def confirm_delete(
    runtime: Runtime, request: Request, error: str | None = None, status_code: int = 200
) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    body = (
        f"<p>Model version <strong>{esc(version)}</strong> of project <strong>{esc(name)}</strong> will be "
        "deleted: its detector, its metrics and its tags. Its version number is not reused.</p>"
        f'<form method="post" action="{esc(model_url(name, version, "/delete"))}">'
        '<button class="danger">Delete model</button> '
        f'<a href="{esc(model_url(name, version))}">Cancel</a></form>'
    )
    nav = project_nav(name, "models")
    return page(f"Delete model version {version}", body, error=error, status_code=status_code, nav=nav)


async def delete_model(runtime: Runtime, request: Request) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    try:
        await run_in_threadpool(call, runtime, "DeleteModel", {"ProjectName": name, "ModelVersion": version})
    except ServiceError as exc:
        return await confirm_delete(runtime, request, error=exc.message, status_code=exc.status)
    return RedirectResponse(f"/projects/{url_part(name)}/models", status_code=303)


def routes(bind: Binder) -> list[BaseRoute]:
    """The model page, hosting and deletion."""
    base = "/projects/{name}/models/{version}"
    return [
        PageRoute(base, bind(model_page), methods=["GET"]),
        PageRoute(base + "/start", bind(start_hosting), methods=["POST"]),
        PageRoute(base + "/stop", bind(stop_hosting), methods=["POST"]),
        PageRoute(base + "/delete", bind(confirm_delete), methods=["GET"]),
        PageRoute(base + "/delete", bind(delete_model), methods=["POST"]),
    ]
