"""One project (``/projects/{name}``): its datasets, image stats, readiness, uploads and imports.

- creating the datasets: a single dataset (train only) or separate train and test datasets
  (CreateDataset); adding the test dataset later, or deleting a dataset after a confirmation page
  that says how many images go away (DeleteDataset);
- importing a local folder or S3 prefix whose ``normal/`` and ``anomaly/`` sub-folders give the
  labels (``service.imports.import_labeled_source``, the extension route's service function);
- importing a Ground Truth manifest from S3 (``service.imports.import_manifest``: CreateDataset
  with the manifest as its source, or UpdateDatasetEntries with its lines for an existing dataset);
- while a dataset is being created or updated, the page reloads itself every two seconds and the
  dataset's StatusMessage (progress, or the reason of a failure) shows in its row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from openlookout.console.calls import call, console_context
from openlookout.console.forms import Form, first, parse_form
from openlookout.console.routing import Action, Binder, PageRoute
from openlookout.console.templating import redirect, render
from openlookout.errors import ServiceError, ValidationException
from openlookout.service.context import Runtime
from openlookout.service.imports import import_labeled_source, import_manifest
from openlookout.service.readiness import training_readiness

DATASET_TYPES = ("train", "test")
LAYOUTS = {"single": ("train",), "separate": ("train", "test")}
MAX_SOURCE_CHARS = 2048


def _describe_datasets(runtime: Runtime, name: str) -> list[dict[str, Any]]:
    description = call(runtime, "DescribeProject", {"ProjectName": name})["ProjectDescription"]
    return [
        call(runtime, "DescribeDataset", {"ProjectName": name, "DatasetType": item["DatasetType"]})[
            "DatasetDescription"
        ]
        for item in description.get("Datasets", [])
    ]


def project_page(runtime: Runtime, request: Request, refused: ServiceError | None = None) -> Response:
    name = request.path_params["name"]
    try:
        datasets = _describe_datasets(runtime, name)
        readiness = training_readiness(runtime, console_context(), name)
    except ServiceError as exc:
        failed = {"title": name, "project": name, "section": "project", "datasets": None}
        return render(request, "project.html", failed, refused=exc)
    context = {
        "title": name,
        "project": name,
        "section": "project",
        "readiness": readiness,
        "datasets": datasets,
        "existing": {d["DatasetType"] for d in datasets},
        "busy": any(d["Status"].endswith("_IN_PROGRESS") for d in datasets),
        "dataset_types": DATASET_TYPES,
        "max_source_chars": MAX_SOURCE_CHARS,
    }
    return render(request, "project.html", context, refused=refused)


def _create_datasets(runtime: Runtime, name: str, form: Form) -> None:
    layout = first(form, "layout")
    if layout:
        if layout not in LAYOUTS:
            raise ValidationException("Choose a single dataset or separate train and test datasets.")
        types: tuple[str, ...] = LAYOUTS[layout]
    else:
        types = (first(form, "type"),)
    for dataset_type in types:
        call(runtime, "CreateDataset", {"ProjectName": name, "DatasetType": dataset_type})


def _import_folder(runtime: Runtime, name: str, form: Form) -> None:
    source = first(form, "source")
    if len(source) > MAX_SOURCE_CHARS:
        raise ValidationException(f"The source has {len(source)} characters; at most {MAX_SOURCE_CHARS}.")
    labeled = first(form, "labeled") == "yes"
    import_labeled_source(runtime, console_context(), name, first(form, "type"), source, labeled)


def _import_manifest(runtime: Runtime, name: str, form: Form) -> None:
    import_manifest(runtime, console_context(), name, first(form, "type"), first(form, "manifest"))


FormWork = Callable[[Runtime, str, Form], None]


def form_action(work: FormWork) -> Action:
    """A POST handler that runs ``work(runtime, project, form)`` and goes back to the project page.

    A refusal from the service re-renders the project page with its message.
    """

    def handler(runtime: Runtime, request: Request, body: bytes) -> Response:
        name = request.path_params["name"]
        try:
            work(runtime, name, parse_form(body))
        except ServiceError as exc:
            return project_page(runtime, request, refused=exc)
        return redirect(request, "project", name=name)

    return handler


def confirm_delete_dataset(
    runtime: Runtime, request: Request, refused: ServiceError | None = None
) -> Response:
    name = request.path_params["name"]
    dataset_type = request.path_params["dataset_type"]
    context: dict[str, Any] = {
        "title": f"Delete the {dataset_type} dataset",
        "project": name,
        "section": "project",
        "dataset_type": dataset_type,
    }
    try:
        target = {"ProjectName": name, "DatasetType": dataset_type}
        context["stats"] = call(runtime, "DescribeDataset", target)["DatasetDescription"].get(
            "ImageStats", {}
        )
    except ServiceError as exc:
        failed = {**context, "stats": None}
        return render(request, "dataset_delete.html", failed, refused=exc)
    return render(request, "dataset_delete.html", context, refused=refused)


def delete_dataset(runtime: Runtime, request: Request, body: bytes) -> Response:
    name = request.path_params["name"]
    target = {"ProjectName": name, "DatasetType": request.path_params["dataset_type"]}
    try:
        call(runtime, "DeleteDataset", target)
    except ServiceError as exc:
        return confirm_delete_dataset(runtime, request, refused=exc)
    return redirect(request, "project", name=name)


def routes(console: Binder) -> list[BaseRoute]:
    """The project page, dataset creation and deletion, folder and manifest imports."""
    base = "/projects/{name}/datasets"
    delete = base + "/{dataset_type}/delete"
    return [
        PageRoute("/projects/{name}", console.page(project_page), methods=["GET"], name="project"),
        PageRoute(
            base, console.action(form_action(_create_datasets)), methods=["POST"], name="create_datasets"
        ),
        PageRoute(
            base + "/import",
            console.action(form_action(_import_folder)),
            methods=["POST"],
            name="import_folder",
        ),
        PageRoute(
            base + "/manifest",
            console.action(form_action(_import_manifest)),
            methods=["POST"],
            name="import_manifest",
        ),
        PageRoute(delete, console.page(confirm_delete_dataset), methods=["GET"], name="dataset_delete"),
        PageRoute(delete, console.action(delete_dataset), methods=["POST"]),
    ]
