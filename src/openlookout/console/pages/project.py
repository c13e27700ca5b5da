"""One project (``/projects/{name}``): its datasets, image stats, readiness, uploads and imports.

- creating the datasets: a single dataset (train only) or separate train and test datasets
  (CreateDataset); adding the test dataset later, or deleting a dataset after a confirmation page
  that says how many images go away (DeleteDataset);
- importing a local folder or S3 prefix whose ``normal/`` and ``anomaly/`` sub-folders give the
  labels (``service.imports.import_labeled_source``, the extension route's service function);
- importing a Ground Truth manifest from S3: CreateDataset with the manifest as its source when the
  dataset does not exist yet, otherwise the manifest's lines go to UpdateDatasetEntries;
- while a dataset is being created or updated, the page reloads itself every two seconds and the
  dataset's StatusMessage (progress, or the reason of a failure) shows in its row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from openlookout.console.calls import call, console_context
from openlookout.console.forms import first, read_form
from openlookout.console.render import esc, page, project_nav, url_part
from openlookout.console.routing import Binder, Page, PageRoute
from openlookout.errors import ServiceError, ValidationException
from openlookout.service.context import Runtime
from openlookout.service.imports import import_labeled_source, import_manifest
from openlookout.service.readiness import training_readiness

DATASET_TYPES = ("train", "test")
LAYOUTS = {"single": ("train",), "separate": ("train", "test")}
MAX_SOURCE_CHARS = 2048


def project_path(name: str) -> str:
    return f"/projects/{url_part(name)}"


def _describe_datasets(runtime: Runtime, name: str) -> list[dict[str, Any]]:
    description = call(runtime, "DescribeProject", {"ProjectName": name})["ProjectDescription"]
    return [
        call(runtime, "DescribeDataset", {"ProjectName": name, "DatasetType": item["DatasetType"]})[
            "DatasetDescription"
        ]
        for item in description.get("Datasets", [])
    ]


def _project_view(runtime: Runtime, name: str) -> dict[str, Any]:
    datasets = _describe_datasets(runtime, name)
    readiness = training_readiness(runtime, console_context(runtime), name)
    return {"datasets": datasets, "readiness": readiness}


def _status_class(status: str) -> str:
    if status.endswith("_IN_PROGRESS"):
        return "status busy"
    if "FAILED" in status:
        return "status failed"
    return "status"


def _dataset_rows(name: str, datasets: list[dict[str, Any]]) -> str:
    rows = []
    for d in datasets:
        stats = d.get("ImageStats", {})
        dataset_type = d["DatasetType"]
        base = f"{project_path(name)}/datasets/{url_part(dataset_type)}"
        message = (
            f'<br><span class="status-message">{esc(d["StatusMessage"])}</span>'
            if d.get("StatusMessage")
            else ""
        )
        rows.append(
            f'<tr data-dataset="{esc(dataset_type)}">'
            f'<td><a href="{esc(base)}/gallery">{esc(dataset_type)}</a></td>'
            f'<td class="{_status_class(d["Status"])}">{esc(d["Status"])}{message}</td>'
            f'<td class="total">{stats.get("Total", 0)}</td><td class="labeled">{stats.get("Labeled", 0)}'
            f'</td><td class="normal">{stats.get("Normal", 0)}</td>'
            f'<td class="anomaly">{stats.get("Anomaly", 0)}</td>'
            f'<td><a href="{esc(base)}/delete" class="delete-dataset">delete</a></td></tr>'
        )
    if not rows:
        return "<p>No datasets yet.</p>"
    return (
        "<table><thead><tr><th>Dataset</th><th>Status</th><th>Images</th><th>Labeled</th>"
        f"<th>Normal</th><th>Anomaly</th><th></th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _create_forms(name: str, existing: set[str]) -> str:
    action = f"{project_path(name)}/datasets"
    if not existing:
        return (
            f'<form method="post" action="{esc(action)}" class="inline create-datasets">'
            "<fieldset><legend>Create the datasets</legend>"
            '<label><input type="radio" name="layout" value="single" checked> '
            "a single dataset (train only; training splits it)</label><br>"
            '<label><input type="radio" name="layout" value="separate"> '
            "separate train and test datasets</label></fieldset>"
            "<button>Create datasets</button></form>"
        )
    titles = {"train": "Create the train dataset", "test": "Add a test dataset"}
    buttons = "".join(
        f'<button name="type" value="{t}">{titles[t]}</button> ' for t in DATASET_TYPES if t not in existing
    )
    if not buttons:
        return ""
    return f'<form method="post" action="{esc(action)}" class="inline">{buttons}</form>'


def _type_options(existing: set[str]) -> str:
    return "".join(
        f'<option value="{t}">{t}{"" if t in existing else " (new)"}</option>' for t in DATASET_TYPES
    )


def _upload_form(name: str, existing: set[str]) -> str:
    return f"""<section id="upload" data-project="{esc(name)}">
<h2>Upload images</h2>
<form class="inline upload-form">
<label>Dataset <select name="type">{_type_options(existing)}</select></label>
<label>Label <select name="label"><option value="">unlabeled</option>
<option value="normal">normal</option><option value="anomaly">anomaly</option></select></label>
<input type="file" name="files" multiple accept="image/png,image/jpeg">
</form>
<div class="dropzone" tabindex="0">Drop PNG or JPEG images here</div>
<p class="progress" aria-live="polite"></p>
<ul class="upload-errors"></ul>
</section>"""


def _import_forms(name: str, existing: set[str]) -> str:
    base = f"{project_path(name)}/datasets"
    options = _type_options(existing)
    return f"""<section id="imports">
<h2>Import images</h2>
<form method="post" action="{esc(base)}/import" class="inline import-folder">
<label>Dataset <select name="type">{options}</select></label>
<label>Folder or S3 prefix <input name="source" size="40" required maxlength="{MAX_SOURCE_CHARS}"
 placeholder="/data/parts or s3://bucket/prefix/"></label>
<label><input type="checkbox" name="labeled" value="yes" checked>
 label from the normal/ and anomaly/ sub-folders</label>
<button>Import folder</button></form>
<form method="post" action="{esc(base)}/manifest" class="inline import-manifest">
<label>Dataset <select name="type">{options}</select></label>
<label>Ground Truth manifest <input name="manifest" size="40" required maxlength="{MAX_SOURCE_CHARS}"
 placeholder="s3://bucket/path/output.manifest"></label>
<button>Import manifest</button></form>
</section>"""


def _readiness(readiness: Any) -> str:
    if readiness.ready:
        return f'<p class="readiness ready">Ready to train a {esc(readiness.kind)} model.</p>'
    items = "".join(f"<li>{esc(m)}</li>" for m in readiness.missing)
    return f'<div class="readiness"><p>Not ready to train yet:</p><ul>{items}</ul></div>'


async def project_page(
    runtime: Runtime, request: Request, error: str | None = None, status_code: int = 200
) -> Response:
    name = request.path_params["name"]
    try:
        view = await run_in_threadpool(_project_view, runtime, name)
    except ServiceError as exc:
        return page(
            name, '<p><a href="/">Back to projects</a></p>', error=exc.message, status_code=exc.status
        )
    existing = {d["DatasetType"] for d in view["datasets"]}
    busy = any(d["Status"].endswith("_IN_PROGRESS") for d in view["datasets"])
    refresh = '<p class="auto-refresh" data-auto-refresh="2000">Working; this page refreshes by itself.</p>'
    body = (
        (refresh if busy else "")
        + _dataset_rows(name, view["datasets"])
        + _create_forms(name, existing)
        + "<h2>Readiness</h2>"
        + _readiness(view["readiness"])
        + _upload_form(name, existing)
        + _import_forms(name, existing)
    )
    return page(name, body, error=error, status_code=status_code, nav=project_nav(name, "overview"))


def _back(name: str) -> RedirectResponse:
    return RedirectResponse(project_path(name), status_code=303)


def _create_datasets(runtime: Runtime, name: str, form: dict[str, list[str]]) -> None:
    layout = first(form, "layout")
    if layout:
        if layout not in LAYOUTS:
            raise ValidationException("Choose a single dataset or separate train and test datasets.")
        types: tuple[str, ...] = LAYOUTS[layout]
    else:
        types = (first(form, "type"),)
    for dataset_type in types:
        call(runtime, "CreateDataset", {"ProjectName": name, "DatasetType": dataset_type})


def _import_folder(runtime: Runtime, name: str, form: dict[str, list[str]]) -> None:
    source = first(form, "source")
    if len(source) > MAX_SOURCE_CHARS:
        raise ValidationException(f"The source has {len(source)} characters; at most {MAX_SOURCE_CHARS}.")
    labeled = first(form, "labeled") == "yes"
    import_labeled_source(runtime, console_context(runtime), name, first(form, "type"), source, labeled)


def _import_manifest(runtime: Runtime, name: str, form: dict[str, list[str]]) -> None:
    import_manifest(runtime, console_context(runtime), name, first(form, "type"), first(form, "manifest"))


FormWork = Callable[[Runtime, str, dict[str, list[str]]], None]


def form_action(work: FormWork) -> Page:
    """A POST handler that runs ``work(runtime, project, form)`` and goes back to the project page.

    A refusal from the service re-renders the project page with its message.
    """

    async def handler(runtime: Runtime, request: Request) -> Response:
        name = request.path_params["name"]
        form = await read_form(request)
        try:
            await run_in_threadpool(work, runtime, name, form)
        except ServiceError as exc:
            return await project_page(runtime, request, error=exc.message, status_code=exc.status)
        return _back(name)

    return handler


async def confirm_delete_dataset(
    runtime: Runtime, request: Request, error: str | None = None, status_code: int = 200
) -> Response:
    name = request.path_params["name"]
    dataset_type = request.path_params["dataset_type"]
    nav = project_nav(name, "overview")
    title = f"Delete the {dataset_type} dataset"
    try:
        target = {"ProjectName": name, "DatasetType": dataset_type}
        described = await run_in_threadpool(call, runtime, "DescribeDataset", target)
    except ServiceError as exc:
        back = f'<p><a href="{esc(project_path(name))}">Back to the project</a></p>'
        return page(title, back, error=exc.message, status_code=exc.status, nav=nav)
    stats = described["DatasetDescription"].get("ImageStats", {})
    total, labeled = int(stats.get("Total", 0)), int(stats.get("Labeled", 0))
    images = "image" if total == 1 else "images"
    consequence = (
        "The project then has a single dataset: training splits the train dataset to test."
        if dataset_type == "test"
        else "No model can be trained until the project has a train dataset again."
    )
    body = (
        f'<p class="consequence">Deleting the {esc(dataset_type)} dataset of <strong>{esc(name)}</strong> '
        f'removes its <strong class="image-count">{total}</strong> {images} ({labeled} labeled) and '
        "their labels and masks from the project. Your original image files are not touched.</p>"
        f"<p>{esc(consequence)}</p>"
        f'<form method="post"><button class="danger">Delete the {esc(dataset_type)} dataset</button> '
        f'<a href="{esc(project_path(name))}">Cancel</a></form>'
    )
    return page(title, body, error=error, status_code=status_code, nav=nav)


async def delete_dataset(runtime: Runtime, request: Request) -> Response:
    name = request.path_params["name"]
    target = {"ProjectName": name, "DatasetType": request.path_params["dataset_type"]}
    try:
        await run_in_threadpool(call, runtime, "DeleteDataset", target)
    except ServiceError as exc:
        return await confirm_delete_dataset(runtime, request, error=exc.message, status_code=exc.status)
    return _back(name)


def routes(bind: Binder) -> list[BaseRoute]:
    """The project page, dataset creation and deletion, folder and manifest imports."""
    base = "/projects/{name}/datasets"
    return [
        PageRoute("/projects/{name}", bind(project_page), methods=["GET"]),
        PageRoute(base, bind(form_action(_create_datasets)), methods=["POST"]),
        PageRoute(base + "/import", bind(form_action(_import_folder)), methods=["POST"]),
        PageRoute(base + "/manifest", bind(form_action(_import_manifest)), methods=["POST"]),
        PageRoute(base + "/{dataset_type}/delete", bind(confirm_delete_dataset), methods=["GET"]),
        PageRoute(base + "/{dataset_type}/delete", bind(delete_dataset), methods=["POST"]),
    ]
