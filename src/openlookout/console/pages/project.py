"""One project (``/projects/{name}``): its datasets with image stats, readiness and the upload form."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from openlookout.console.calls import call, call_sync, console_context
from openlookout.console.forms import first, read_form
from openlookout.console.render import esc, page, project_nav, url_part
from openlookout.console.routing import Binder, PageRoute
from openlookout.errors import ServiceError
from openlookout.service.context import Runtime
from openlookout.service.readiness import training_readiness

DATASET_TYPES = ("train", "test")


def _project_view(runtime: Runtime, name: str) -> dict[str, Any]:
    description = call_sync(runtime, "DescribeProject", {"ProjectName": name})["ProjectDescription"]
    datasets = []
    for item in description.get("Datasets", []):
        described = call_sync(
            runtime, "DescribeDataset", {"ProjectName": name, "DatasetType": item["DatasetType"]}
        )
        datasets.append(described["DatasetDescription"])
    readiness = training_readiness(runtime, console_context(runtime), name)
    return {"datasets": datasets, "readiness": readiness}


def _dataset_rows(name: str, datasets: list[dict[str, Any]]) -> str:
    rows = []
    for d in datasets:
        stats = d.get("ImageStats", {})
        gallery = f"/projects/{url_part(name)}/datasets/{url_part(d['DatasetType'])}/gallery"
        message = f" ({d['StatusMessage']})" if d.get("StatusMessage") else ""
        rows.append(
            f'<tr data-dataset="{esc(d["DatasetType"])}"><td><a href="{esc(gallery)}">'
            f"{esc(d['DatasetType'])}</a></td><td>{esc(d['Status'])}{esc(message)}</td>"
            f'<td class="total">{stats.get("Total", 0)}</td><td class="labeled">{stats.get("Labeled", 0)}'
            f'</td><td class="normal">{stats.get("Normal", 0)}</td>'
            f'<td class="anomaly">{stats.get("Anomaly", 0)}</td></tr>'
        )
    if not rows:
        return "<p>No datasets yet.</p>"
    return (
        "<table><thead><tr><th>Dataset</th><th>Status</th><th>Images</th><th>Labeled</th>"
        f"<th>Normal</th><th>Anomaly</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _create_buttons(name: str, existing: set[str]) -> str:
    buttons = "".join(
        f'<button name="type" value="{t}">Create {t} dataset</button> '
        for t in DATASET_TYPES
        if t not in existing
    )
    if not buttons:
        return ""
    return f'<form method="post" action="/projects/{url_part(name)}/datasets" class="inline">{buttons}</form>'


def _upload_form(name: str, existing: set[str]) -> str:
    options = "".join(f'<option value="{t}">{t}</option>' for t in DATASET_TYPES)
    return f"""<section id="upload" data-project="{esc(name)}">
<h2>Add images</h2>
<form class="inline upload-form">
<label>Dataset <select name="type">{options}</select></label>
<label>Label <select name="label"><option value="">unlabeled</option>
<option value="normal">normal</option><option value="anomaly">anomaly</option></select></label>
<input type="file" name="files" multiple accept="image/png,image/jpeg">
</form>
<div class="dropzone" tabindex="0">Drop PNG or JPEG images here</div>
<p class="progress" aria-live="polite"></p>
<ul class="upload-errors"></ul>
</section>"""


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
    readiness = view["readiness"]
    existing = {d["DatasetType"] for d in view["datasets"]}
    if readiness.ready:
        ready = f'<p class="readiness ready">Ready to train a {esc(readiness.kind)} model.</p>'
    else:
        items = "".join(f"<li>{esc(m)}</li>" for m in readiness.missing)
        ready = f'<div class="readiness"><p>Not ready to train yet:</p><ul>{items}</ul></div>'
    body = (
        _dataset_rows(name, view["datasets"])
        + _create_buttons(name, existing)
        + "<h2>Readiness</h2>"
        + ready
        + _upload_form(name, existing)
    )
    return page(name, body, error=error, status_code=status_code, nav=project_nav(name, "overview"))


async def create_dataset(runtime: Runtime, request: Request) -> Response:
    name = request.path_params["name"]
    dataset_type = first(await read_form(request), "type")
    try:
        await call(runtime, "CreateDataset", {"ProjectName": name, "DatasetType": dataset_type})
    except ServiceError as exc:
        return await project_page(runtime, request, error=exc.message, status_code=exc.status)
    return RedirectResponse(f"/projects/{url_part(name)}", status_code=303)


def routes(bind: Binder) -> list[BaseRoute]:
    """The project page and dataset creation."""
    return [
        PageRoute("/projects/{name}", bind(project_page), methods=["GET"]),
        PageRoute("/projects/{name}/datasets", bind(create_dataset), methods=["POST"]),
    ]
