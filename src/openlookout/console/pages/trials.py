"""Trial detections of a project (``/projects/{name}/trials``): the list and the form to start one.

A trial runs a trained model version over a folder on the server or an ``s3://`` prefix (see
``openlookout.service.trials``); its review page is ``/projects/{name}/trials/{id}``
(``pages/trial_review.py``).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from openlookout.console.calls import console_context, every_page
from openlookout.console.forms import first, read_form
from openlookout.console.render import esc, page, project_nav, url_part, when
from openlookout.console.routing import Binder, PageRoute
from openlookout.errors import ServiceError
from openlookout.service import trials as trial_service
from openlookout.service.context import Runtime
from openlookout.service.states import MODEL_TRAINED
from openlookout.service.trials import TrialRow

ASSETS = ("trials.js", "trials.css")


def trials_path(name: str) -> str:
    return f"/projects/{url_part(name)}/trials"


def trial_path(name: str, trial_id: int) -> str:
    return f"{trials_path(name)}/{trial_id}"


def status_text(trial: TrialRow) -> str:
    """The trial's status with its message, as shown in lists and on the review page."""
    message = f" ({trial.status_message})" if trial.status_message else ""
    return f"{trial.status}{message}"


def _trained_models(runtime: Runtime, name: str) -> list[dict[str, Any]]:
    models = every_page(runtime, "ListModels", {"ProjectName": name}, "Models")
    usable = [m for m in models if m["Status"] in MODEL_TRAINED]
    return sorted(usable, key=lambda m: int(m["ModelVersion"]), reverse=True)


def _view(runtime: Runtime, name: str) -> tuple[list[TrialRow], list[dict[str, Any]]]:
    trials = trial_service.list_trials(runtime, console_context(runtime), name)
    return trials, _trained_models(runtime, name)


def _rows(name: str, trials: list[TrialRow]) -> str:
    if not trials:
        return "<p>No trial detections yet.</p>"
    rows = []
    for t in trials:
        c = t.counts
        rows.append(
            f'<tr data-trial="{t.id}"><td><a href="{esc(trial_path(name, t.id))}">{esc(t.name)}</a></td>'
            f'<td>version {t.model_version}</td><td class="trial-source">{esc(t.source_uri)}</td>'
            f'<td class="trial-status status-{esc(t.status.lower())}">{esc(t.status)}'
            f'<br><span class="trial-message">{esc(t.status_message or "")}</span></td>'
            f'<td class="images">{c.total}</td><td class="anomalous">{c.anomalous}</td>'
            f'<td class="errors">{c.errors}</td><td class="reviewed">{c.reviewed}</td>'
            f'<td class="added">{c.added}</td><td>{esc(when(t.created_at))}</td></tr>'
        )
    return (
        '<table class="trials"><thead><tr><th>Trial</th><th>Model</th><th>Images from</th><th>Status</th>'
        "<th>Images</th><th>Predicted anomalous</th><th>Errors</th><th>Reviewed</th><th>Added</th>"
        f"<th>Started</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _roots_hint(runtime: Runtime) -> str:
    roots = [str(root) for root in runtime.settings.allow_local_roots]
    if not roots:
        return '<p class="trial-hint">This server reads no local folders; give an s3:// prefix.</p>'
    listed = ", ".join(f"<code>{esc(root)}</code>" for root in roots)
    return f'<p class="trial-hint">Local folders must lie under {listed}.</p>'


def _start_form(name: str, models: list[dict[str, Any]], values: dict[str, str]) -> str:
    if not models:
        models_link = f"/projects/{url_part(name)}/models"
        return (
            '<p class="trial-no-model">No trained model yet: train one on the '
            f'<a href="{esc(models_link)}">Models</a> page first.</p>'
        )
    chosen = values.get("model", "")
    options = "".join(
        f'<option value="{esc(m["ModelVersion"])}"'
        f"{' selected' if m['ModelVersion'] == chosen else ''}>"
        f"version {esc(m['ModelVersion'])} ({esc(m['Status'])})</option>"
        for m in models
    )
    return (
        f'<form method="post" action="{esc(trials_path(name))}" class="inline trial-start">'
        f'<label>Model <select name="model">{options}</select></label>'
        '<label>Images <input name="source" required size="50" '
        'placeholder="/folder/on/the/server or s3://bucket/prefix/" '
        f'value="{esc(values.get("source", ""))}"></label>'
        f'<label>Name <input name="name" maxlength="255" placeholder="optional" '
        f'value="{esc(values.get("name", ""))}"></label>'
        "<button>Start trial</button></form>"
    )


async def trials_page(
    runtime: Runtime,
    request: Request,
    error: str | None = None,
    status_code: int = 200,
    values: dict[str, str] | None = None,
) -> Response:
    name = request.path_params["name"]
    nav = project_nav(name, "trials")
    title = f"{name} / trial detection"
    try:
        trials, models = await run_in_threadpool(_view, runtime, name)
    except ServiceError as exc:
        return page(title, "", error=exc.message, status_code=exc.status, nav=nav, scripts=ASSETS)
    intro = (
        "<p>Run a trained model over new images, check each prediction, then add the verified "
        "images with their labels to a dataset.</p>"
    )
    form = _start_form(name, models, values or {}) + (_roots_hint(runtime) if models else "")
    body = intro + "<h2>Start a trial</h2>" + form + "<h2>Trials</h2>" + _rows(name, trials)
    return page(title, body, error=error, status_code=status_code, nav=nav, scripts=ASSETS)


async def start_trial(runtime: Runtime, request: Request) -> Response:
    name = request.path_params["name"]
    form = await read_form(request)
    values = {key: first(form, key) for key in ("model", "source", "name")}
    try:
        trial_id = await run_in_threadpool(
            trial_service.start_trial,
            runtime,
            console_context(runtime),
            name,
            values["model"],
            values["source"],
            values["name"],
        )
    except ServiceError as exc:
        return await trials_page(runtime, request, error=exc.message, status_code=exc.status, values=values)
    return RedirectResponse(trial_path(name, trial_id), status_code=303)


def routes(bind: Binder) -> list[BaseRoute]:
    """The trial list and the start form."""
    return [
        PageRoute("/projects/{name}/trials", bind(trials_page), methods=["GET"]),
        PageRoute("/projects/{name}/trials", bind(start_trial), methods=["POST"]),
    ]
