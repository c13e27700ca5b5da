"""Trial detections of a project (``/projects/{name}/trials``): the list and the form to start one.

A trial runs a trained model version over a folder on the server or an ``s3://`` prefix (see
``openlookout.service.trials``); its review page is ``/projects/{name}/trials/{id}``
(``pages/trial_review.py``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from openlookout.console.calls import console_context, every_page
from openlookout.console.forms import first, parse_form
from openlookout.console.routing import Binder, PageRoute
from openlookout.console.templating import redirect, render
from openlookout.errors import ServiceError
from openlookout.service import trials as trial_service
from openlookout.service.context import Runtime
from openlookout.service.states import MODEL_TRAINED

ASSETS = ("trials.js", "trials.css")


def trial_context(runtime: Runtime, name: str, title: str) -> dict[str, Any]:
    """What every trial page's template needs besides its own data."""
    return {"title": title, "project": name, "section": "trials", "assets": ASSETS}


def _trained_models(runtime: Runtime, name: str) -> list[dict[str, Any]]:
    models = every_page(runtime, "ListModels", {"ProjectName": name}, "Models")
    usable = [m for m in models if m["Status"] in MODEL_TRAINED]
    return sorted(usable, key=lambda m: int(m["ModelVersion"]), reverse=True)


def trials_page(
    runtime: Runtime,
    request: Request,
    refused: ServiceError | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    name = request.path_params["name"]
    context = {**trial_context(runtime, name, f"{name} / trial detection")}
    try:
        trials = trial_service.list_trials(runtime, console_context(), name)
        models = _trained_models(runtime, name)
    except ServiceError as exc:
        return render(request, "trials.html", {**context, "trials": None}, refused=exc)
    context.update(
        trials=trials,
        models=models,
        values=values or {},
        roots=[str(root) for root in runtime.settings.allow_local_roots],
    )
    return render(request, "trials.html", context, refused=refused)


def start_trial(runtime: Runtime, request: Request, body: bytes) -> Response:
    name = request.path_params["name"]
    form = parse_form(body)
    values = {key: first(form, key) for key in ("model", "source", "name")}
    ctx = console_context()
    try:
        trial_id = trial_service.start_trial(
            runtime, ctx, name, values["model"], values["source"], values["name"]
        )
    except ServiceError as exc:
        return trials_page(runtime, request, refused=exc, values=values)
    return redirect(request, "trial", name=name, trial_id=trial_id)


def routes(console: Binder) -> list[BaseRoute]:
    """The trial list and the start form."""
    return [
        PageRoute("/projects/{name}/trials", console.page(trials_page), methods=["GET"], name="trials"),
        PageRoute("/projects/{name}/trials", console.action(start_trial), methods=["POST"]),
    ]
