"""A project's models (``/projects/{name}/models``): the list, the training form, live status JSON.

The training form shows the project's readiness first (the button is disabled with the reasons
while the labeled minimums are not met) and sends CreateModel with the typed output location;
the field is pre-filled from the project's latest model, since the service has no default output
location. ``GET /console/api/projects/{name}/models/{version}`` answers DescribeModel's status
members as JSON for the pages' live status updates (``models.js``).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from openlookout.console.calls import call, console_context, every_page
from openlookout.console.forms import first, read_form
from openlookout.console.render import esc, page, project_nav, url_part, when
from openlookout.console.routing import Binder, PageRoute
from openlookout.errors import ServiceError
from openlookout.service.context import Runtime
from openlookout.service.readiness import Readiness, training_readiness

# States a model leaves on its own; pages poll while a model is in one.
TRANSITIONAL = ("TRAINING", "STARTING_HOSTING", "STOPPING_HOSTING", "DELETING", "SYSTEM_UPDATING")
ASSETS = ("models.js", "models.css")


def model_url(name: str, version: str, suffix: str = "") -> str:
    """The console path of a model version's page (``suffix`` like ``/metrics``)."""
    return f"/projects/{url_part(name)}/models/{url_part(version)}{suffix}"


def status_api_url(name: str, version: str) -> str:
    return f"/console/api/projects/{url_part(name)}/models/{url_part(version)}"


def status_cell(name: str, version: str, status: str) -> str:
    """A status that updates itself while it is transitional (see ``models.js``)."""
    live = ""
    if status in TRANSITIONAL:
        live = (
            f' data-poll="{esc(status_api_url(name, version))}" data-transitional="{" ".join(TRANSITIONAL)}"'
        )

    return (
        f'<span class="model-status status-{esc(status.lower())}"{live} data-status="{esc(status)}">'
        f"{esc(status)}</span>"
    )


def percent(value: Any) -> str:
    """A [0, 1] metric as a percentage with one decimal; a dash when absent."""
    return "–" if value is None else f"{100.0 * float(value):.1f}%"


def _list_view(runtime: Runtime, name: str) -> tuple[list[dict[str, Any]], Readiness, dict[str, str]]:
    models = every_page(runtime, "ListModels", {"ProjectName": name}, "Models")
    readiness = training_readiness(runtime, console_context(runtime), name)
    location = {"Bucket": "", "Prefix": ""}
    if models:
        latest = max(models, key=lambda m: int(m["ModelVersion"]))
        described = call(
            runtime, "DescribeModel", {"ProjectName": name, "ModelVersion": latest["ModelVersion"]}
        )
        location.update(described["ModelDescription"].get("OutputConfig", {}).get("S3Location", {}))
    return models, readiness, location


def _rows(name: str, models: list[dict[str, Any]]) -> str:
    if not models:
        return "<p>No models yet.</p>"
    rows = []
    for m in sorted(models, key=lambda m: int(m["ModelVersion"]), reverse=True):
        version = m["ModelVersion"]
        scores = m.get("Performance", {})
        rows.append(
            f'<tr data-version="{esc(version)}"><td><a href="{esc(model_url(name, version))}">'
            f"{esc(version)}</a></td><td>{status_cell(name, version, m['Status'])}</td>"
            f"<td>{esc(when(m.get('CreationTimestamp')))}</td><td>{esc(m.get('Description', ''))}</td>"
            f'<td class="f1">{percent(scores.get("F1Score"))}</td>'
            f'<td class="precision">{percent(scores.get("Precision"))}</td>'
            f'<td class="recall">{percent(scores.get("Recall"))}</td></tr>'
        )
    return (
        '<table class="models"><thead><tr><th>Version</th><th>Status</th><th>Created</th>'
        "<th>Description</th><th>F1</th><th>Precision</th><th>Recall</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _train_form(name: str, readiness: Readiness, values: dict[str, str]) -> str:
    if readiness.ready:
        state = f'<p class="readiness ready">Ready to train a {esc(readiness.kind)} model.</p>'
        disabled = ""
    else:
        items = "".join(f"<li>{esc(m)}</li>" for m in readiness.missing)
        state = f'<div class="readiness"><p>Not ready to train yet:</p><ul class="missing">{items}</ul></div>'
        disabled = " disabled"
    return f"""<section id="train"><h2>Train a new model</h2>{state}
<form method="post" action="/projects/{url_part(name)}/models" class="stacked">
<label>Description <input name="description" maxlength="500"
 value="{esc(values.get("description", ""))}" placeholder="letters, digits, . - _"></label>
<label>Output S3 bucket <input name="bucket" value="{esc(values.get("bucket", ""))}"
 placeholder="my-bucket"></label>
<label>Output prefix <input name="prefix" value="{esc(values.get("prefix", ""))}"
 placeholder="runs/"></label>
<p class="hint">Training writes its evaluation manifest and results under this location.</p>
<button{disabled}>Train model</button></form></section>"""


async def models_page(
    runtime: Runtime,
    request: Request,
    error: str | None = None,
    status_code: int = 200,
    values: dict[str, str] | None = None,
) -> Response:
    name = request.path_params["name"]
    nav = project_nav(name, "models")
    try:
        models, readiness, location = await run_in_threadpool(_list_view, runtime, name)
    except ServiceError as exc:
        return page(
            "Models",
            '<p><a href="/">Back to projects</a></p>',
            error=exc.message,
            status_code=exc.status,
            nav=nav,
        )
    form_values = values or {"bucket": location.get("Bucket", ""), "prefix": location.get("Prefix", "")}
    body = _rows(name, models) + _train_form(name, readiness, form_values)
    return page("Models", body, error=error, status_code=status_code, nav=nav, scripts=ASSETS)


async def create_model(runtime: Runtime, request: Request) -> Response:
    name = request.path_params["name"]
    form = await read_form(request)
    values = {k: first(form, k) for k in ("description", "bucket", "prefix")}
    params: dict[str, Any] = {
        "ProjectName": name,
        "OutputConfig": {
            "S3Location": {
                "Bucket": values["bucket"],
                **({"Prefix": values["prefix"]} if values["prefix"] else {}),
            }
        },
    }
    if values["description"]:
        params["Description"] = values["description"]
    try:
        result = await run_in_threadpool(call, runtime, "CreateModel", params)
    except ServiceError as exc:
        return await models_page(runtime, request, error=exc.message, status_code=exc.status, values=values)
    version = result["ModelMetadata"]["ModelVersion"]
    return RedirectResponse(model_url(name, version), status_code=303)


async def model_status(runtime: Runtime, request: Request) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    try:
        described = await run_in_threadpool(
            call, runtime, "DescribeModel", {"ProjectName": name, "ModelVersion": version}
        )
    except ServiceError as exc:
        return JSONResponse({"message": exc.message}, status_code=exc.status)
    model = described["ModelDescription"]
    keys = (
        "ModelVersion",
        "Status",
        "StatusMessage",
        "Performance",
        "MinInferenceUnits",
        "MaxInferenceUnits",
    )
    return JSONResponse({k: model[k] for k in keys if k in model}, headers={"Cache-Control": "no-store"})


def routes(bind: Binder) -> list[BaseRoute]:
    """The models list, the training form and the status JSON."""
    return [
        PageRoute("/projects/{name}/models", bind(models_page), methods=["GET"]),
        PageRoute("/projects/{name}/models", bind(create_model), methods=["POST"]),
        Route("/console/api/projects/{name}/models/{version}", bind(model_status), methods=["GET"]),
    ]
