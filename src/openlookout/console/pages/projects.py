"""The projects list (``/``), project creation and deletion with its confirmation page.

The confirmation page lists what the project holds (datasets with their image counts, model
versions). A project with datasets but no models can be deleted together with its datasets
(DeleteDataset for each, then DeleteProject), as the AWS console offered.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from openlookout.console.calls import call, console_context, every_page
from openlookout.console.forms import first, read_form
from openlookout.console.render import esc, page, url_part, when
from openlookout.console.routing import Binder, PageRoute
from openlookout.errors import ServiceError
from openlookout.service.context import Runtime
from openlookout.service.readiness import training_readiness


def readiness_summary(runtime: Runtime, name: str) -> str:
    """'ready to train' or what is missing, as one line of text."""
    readiness = training_readiness(runtime, console_context(runtime), name)
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


async def projects_page(
    runtime: Runtime, request: Request, error: str | None = None, status_code: int = 200
) -> Response:
    rows = await run_in_threadpool(_project_rows, runtime)
    lines = "".join(
        f'<tr><td><a href="/projects/{url_part(r["name"])}">{esc(r["name"])}</a></td>'
        f"<td>{esc(when(r['created']))}</td><td>{esc(', '.join(r['datasets']) or 'none')}</td>"
        f'<td class="readiness">{esc(r["readiness"])}</td>'
        f'<td><a href="/projects/{url_part(r["name"])}/delete">delete</a></td></tr>'
        for r in rows
    )
    table = (
        "<table><thead><tr><th>Project</th><th>Created</th><th>Datasets</th><th>Readiness</th><th></th>"
        f"</tr></thead><tbody>{lines}</tbody></table>"
        if rows
        else "<p>No projects yet.</p>"
    )
    form = (
        '<form method="post" action="/projects" class="inline">'
        '<label>New project <input name="name" required maxlength="255"></label>'
        "<button>Create</button></form>"
    )
    return page("Projects", form + table, error=error, status_code=status_code)


async def create_project(runtime: Runtime, request: Request) -> Response:
    name = first(await read_form(request), "name")
    try:
        await run_in_threadpool(call, runtime, "CreateProject", {"ProjectName": name})
    except ServiceError as exc:
        return await projects_page(runtime, request, error=exc.message, status_code=exc.status)
    return RedirectResponse(f"/projects/{url_part(name)}", status_code=303)


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


def _holdings(runtime: Runtime, name: str) -> tuple[list[str], list[str], bool]:
    """Lines naming what the project holds, the dataset types, and whether models remain."""
    datasets, models = _remaining(runtime, name)
    items = [f"dataset '{t}' ({_image_count(runtime, name, t)} images)" for t in datasets]
    items += [f"model version {version}" for version in models]
    return items, datasets, bool(models)


async def confirm_delete(
    runtime: Runtime, request: Request, error: str | None = None, status_code: int = 200
) -> Response:
    name = request.path_params["name"]
    try:
        items, datasets, has_models = await run_in_threadpool(_holdings, runtime, name)
    except ServiceError as exc:
        back = '<p><a href="/">Back to projects</a></p>'
        return page("Delete project", back, error=exc.message, status_code=exc.status)
    listing = "".join(f"<li>{esc(item)}</li>" for item in items)
    if has_models:
        models = f'<a href="/projects/{url_part(name)}/models">models page</a>'
        held = f"<p>It still holds these; delete its model versions first (on the {models}):</p>"
    elif datasets:
        held = "<p>It still holds these, which must be deleted first:</p>"
    else:
        held = "<p>It holds no datasets or models.</p>"
    option = (
        '<p><label><input type="checkbox" name="datasets" value="yes"> '
        "also delete its datasets (their images and labels; your original files stay)</label></p>"
        if datasets and not has_models
        else ""
    )
    body = (
        f"<p>Project <strong>{esc(name)}</strong> will be deleted.</p>"
        + held
        + (f"<ul class='remaining'>{listing}</ul>" if items else "")
        + f'<form method="post" action="/projects/{url_part(name)}/delete">{option}<button class="danger">'
        'Delete project</button> <a href="/">Cancel</a></form>'
    )
    return page(f"Delete {name}", body, error=error, status_code=status_code)


def _delete_project(runtime: Runtime, name: str, with_datasets: bool) -> None:
    if with_datasets:
        datasets, models = _remaining(runtime, name)
        if not models:
            for dataset_type in datasets:
                call(runtime, "DeleteDataset", {"ProjectName": name, "DatasetType": dataset_type})
    call(runtime, "DeleteProject", {"ProjectName": name})


async def delete_project(runtime: Runtime, request: Request) -> Response:
    name = request.path_params["name"]
    with_datasets = first(await read_form(request), "datasets") == "yes"
    try:
        await run_in_threadpool(_delete_project, runtime, name, with_datasets)
    except ServiceError as exc:
        return await confirm_delete(runtime, request, error=exc.message, status_code=exc.status)
    return RedirectResponse("/", status_code=303)


def routes(bind: Binder) -> list[BaseRoute]:
    """The projects list, creation and deletion."""
    return [
        PageRoute("/", bind(projects_page), methods=["GET"]),
        PageRoute("/projects", bind(create_project), methods=["POST"]),
        PageRoute("/projects/{name}/delete", bind(confirm_delete), methods=["GET"]),
        PageRoute("/projects/{name}/delete", bind(delete_project), methods=["POST"]),
    ]
