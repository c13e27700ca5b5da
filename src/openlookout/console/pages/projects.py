"""The projects list (``/``), project creation and deletion with its confirmation page."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from openlookout.console.calls import call, call_sync, console_context, every_page
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
        description = call_sync(runtime, "DescribeProject", {"ProjectName": name})["ProjectDescription"]
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
        await call(runtime, "CreateProject", {"ProjectName": name})
    except ServiceError as exc:
        return await projects_page(runtime, request, error=exc.message, status_code=exc.status)
    return RedirectResponse(f"/projects/{url_part(name)}", status_code=303)


def _remaining(runtime: Runtime, name: str) -> list[str]:
    description = call_sync(runtime, "DescribeProject", {"ProjectName": name})["ProjectDescription"]
    items = [f"dataset '{d['DatasetType']}'" for d in description.get("Datasets", [])]
    try:
        models = every_page(runtime, "ListModels", {"ProjectName": name}, "Models")
    except ServiceError:
        models = []
    items += [f"model version {m.get('ModelVersion')}" for m in models]
    return items


async def confirm_delete(
    runtime: Runtime, request: Request, error: str | None = None, status_code: int = 200
) -> Response:
    name = request.path_params["name"]
    try:
        remaining = await run_in_threadpool(_remaining, runtime, name)
    except ServiceError as exc:
        back = '<p><a href="/">Back to projects</a></p>'
        return page("Delete project", back, error=exc.message, status_code=exc.status)
    listing = "".join(f"<li>{esc(item)}</li>" for item in remaining)
    body = (
        f"<p>Project <strong>{esc(name)}</strong> will be deleted.</p>"
        + (
            f"<p>It still holds these, which must be deleted first:</p><ul class='remaining'>{listing}</ul>"
            if remaining
            else "<p>It holds no datasets or models.</p>"
        )
        + f'<form method="post" action="/projects/{url_part(name)}/delete"><button class="danger">'
        'Delete project</button> <a href="/">Cancel</a></form>'
    )
    return page(f"Delete {name}", body, error=error, status_code=status_code)


async def delete_project(runtime: Runtime, request: Request) -> Response:
    name = request.path_params["name"]
    try:
        await call(runtime, "DeleteProject", {"ProjectName": name})
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
