"""``openlookout projects``: create, list, describe, delete, readiness."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from openlookout.cli.render import emit, print_fields, print_table
from openlookout.cli.state import state_of

app = typer.Typer(
    help="Projects: create, list, describe, delete, check training readiness.", no_args_is_help=True
)

ProjectName = Annotated[str, typer.Argument(help="Project name.")]


@app.command("create")
def create(ctx: typer.Context, name: ProjectName) -> None:
    """Create an empty project."""
    state = state_of(ctx)
    result = state.api.lv.create_project(ProjectName=name)
    emit(state.output, result, lambda: print_fields("project created", result["ProjectMetadata"]))


@app.command("list")
def list_projects(ctx: typer.Context) -> None:
    """List every project (all pages)."""
    state = state_of(ctx)
    projects = list(iterate_pages(state.api.lv.list_projects, "Projects"))
    emit(
        state.output,
        {"Projects": projects},
        lambda: print_table(
            f"{len(projects)} project(s)",
            ("name", "created", "arn"),
            ((p.get("ProjectName"), p.get("CreationTimestamp"), p.get("ProjectArn")) for p in projects),
        ),
    )


@app.command("describe")
def describe(ctx: typer.Context, name: ProjectName) -> None:
    """Show a project and its datasets."""
    state = state_of(ctx)
    result = state.api.lv.describe_project(ProjectName=name)

    def show() -> None:
        description = dict(result["ProjectDescription"])
        datasets = description.pop("Datasets", [])
        print_fields(f"project {name}", description)
        print_table(
            "datasets",
            ("type", "status", "message", "created"),
            (
                (d.get("DatasetType"), d.get("Status"), d.get("StatusMessage"), d.get("CreationTimestamp"))
                for d in datasets
            ),
        )

    emit(state.output, result, show)


@app.command("delete")
def delete(ctx: typer.Context, name: ProjectName) -> None:
    """Delete a project (its datasets and models must be deleted first)."""
    state = state_of(ctx)
    result = state.api.lv.delete_project(ProjectName=name)
    emit(state.output, result, lambda: print_fields("project deleted", result))


@app.command("readiness")
def readiness(ctx: typer.Context, name: ProjectName) -> None:
    """Whether the project's datasets meet the minimums for training, and what is missing."""
    state = state_of(ctx)
    result = state.api.extension("GET", ["projects", name, "readiness"])
    emit(state.output, result, lambda: print_fields(f"training readiness of {name}", result))


def iterate_pages(operation: Any, result_key: str, **params: Any) -> Any:
    """Yield every item of a paginated list operation, following ``NextToken``."""
    token: str | None = None
    while True:
        page = operation(**params, **({"NextToken": token} if token else {}))
        yield from page.get(result_key, [])
        token = page.get("NextToken")
        if not token:
            return
