"""The projects list (``/``), project creation and deletion with its confirmation page.

The confirmation page lists what the project holds (datasets with their image counts, model
versions). A project with datasets but no models can be deleted together with its datasets
(DeleteDataset for each, then DeleteProject), as the AWS console offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from openlookout.console.calls import call, console_context, every_page
from openlookout.console.forms import first, parse_form
from openlookout.console.routing import Binder, PageRoute
from openlookout.console.templating import redirect, render
from openlookout.errors import ServiceError
from openlookout.service.context import Runtime
from openlookout.service.readiness import training_readiness


@dataclass(frozen=True)
class Holdings:
    """What a project still holds: lines naming it all, its dataset types, whether models remain."""

    items: list[str]
    datasets: list[str]
    has_models: bool


def readiness_summary(runtime: Runtime, name: str) -> str:
    """'ready to train' or what is missing, as one line of text."""
    readiness = training_readiness(runtime, console_context(), name)
    if readiness.ready:
        return f"ready to train ({readiness.kind})"
    return "missing: " + "; ".join(readiness.missing)


def _project_rows(runtime: Runtime) -> list[dict[str, Any]]:
    rows = []
    for project in every_page(runtime, "ListProjects", {}, "Projects"):
        name = project["ProjectName"]
        description = call(runtime, "DescribeProject", {"ProjectName": name})["ProjectDescription"]
        rows.append(
            {
                "name": name,
                "created": project["CreationTimestamp"],
                "datasets": [d["DatasetType"] for d in description.get("Datasets", [])],
                "readiness": readiness_summary(runtime, name),
            }
        )
    return rows


def projects_page(runtime: Runtime, request: Request, refused: ServiceError | None = None) -> Response:
    context = {"title": "Projects", "rows": _project_rows(runtime)}
    return render(request, "projects.html", context, refused=refused)


def create_project(runtime: Runtime, request: Request, body: bytes) -> Response:
    name = first(parse_form(body), "name")
    try:
        call(runtime, "CreateProject", {"ProjectName": name})
    except ServiceError as exc:
        return projects_page(runtime, request, refused=exc)
    return redirect(request, "project", name=name)


def _remaining(runtime: Runtime, name: str) -> tuple[list[str], list[str]]:
    """What the project still holds: (its dataset types, its model versions as text)."""
    description = call(runtime, "DescribeProject", {"ProjectName": name})["ProjectDescription"]
    datasets = [d["DatasetType"] for d in description.get("Datasets", [])]
    try:
        models = every_page(runtime, "ListModels", {"ProjectName": name}, "Models")
    except ServiceError:
        models = []
    return datasets, [str(m.get("ModelVersion")) for m in models]


def _image_count(runtime: Runtime, name: str, dataset_type: str) -> int:
    described = call(runtime, "DescribeDataset", {"ProjectName": name, "DatasetType": dataset_type})
    return int(described["DatasetDescription"].get("ImageStats", {}).get("Total", 0))


def _holdings(runtime: Runtime, name: str) -> Holdings:
    datasets, models = _remaining(runtime, name)
    items = [f"dataset '{t}' ({_image_count(runtime, name, t)} images)" for t in datasets]
    items += [f"model version {version}" for version in models]
    return Holdings(items, datasets, bool(models))


def confirm_delete(runtime: Runtime, request: Request, refused: ServiceError | None = None) -> Response:
    name = request.path_params["name"]
    context: dict[str, Any] = {"title": f"Delete {name}", "name": name}
    try:
        context["holdings"] = _holdings(runtime, name)
    except ServiceError as exc:
        failed = {"title": "Delete project", "name": name, "holdings": None}
        return render(request, "project_delete.html", failed, refused=exc)
    return render(request, "project_delete.html", context, refused=refused)


def _delete_project(runtime: Runtime, name: str, with_datasets: bool) -> None:
    if with_datasets:
        datasets, models = _remaining(runtime, name)
        if not models:
            for dataset_type in datasets:
                call(runtime, "DeleteDataset", {"ProjectName": name, "DatasetType": dataset_type})
    call(runtime, "DeleteProject", {"ProjectName": name})


def delete_project(runtime: Runtime, request: Request, body: bytes) -> Response:
    name = request.path_params["name"]
    try:
        _delete_project(runtime, name, first(parse_form(body), "datasets") == "yes")
    except ServiceError as exc:
        return confirm_delete(runtime, request, refused=exc)
    return redirect(request, "projects")


def routes(console: Binder) -> list[BaseRoute]:
    """The projects list, creation and deletion."""
    return [
        PageRoute("/", console.page(projects_page), methods=["GET"], name="projects"),
        PageRoute("/projects", console.action(create_project), methods=["POST"], name="create_project"),
        PageRoute(
            "/projects/{name}/delete", console.page(confirm_delete), methods=["GET"], name="project_delete"
        ),
        PageRoute("/projects/{name}/delete", console.action(delete_project), methods=["POST"]),
    ]
