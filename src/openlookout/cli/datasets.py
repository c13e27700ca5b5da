"""``openlookout datasets``: create (empty, from a manifest, from a local folder), server-side import,
describe, entries, update, delete."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from openlookout.cli.errors import CliError
from openlookout.cli.folder_upload import LocalImage, find_images, upload_images
from openlookout.cli.render import emit, print_fields, print_table, stderr
from openlookout.cli.state import CliState, state_of
from openlookout.cli.waiting import wait_for_dataset

app = typer.Typer(
    help="Datasets of a project: create, describe, list entries, update, delete.", no_args_is_help=True
)


class DatasetType(StrEnum):
    train = "train"
    test = "test"


class AnomalyClass(StrEnum):
    normal = "normal"
    anomaly = "anomaly"


ProjectArg = Annotated[str, typer.Argument(help="Project name.")]
TypeOption = Annotated[DatasetType, typer.Option("--type", "-t", help="train or test.")]
ISO_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S"]
UPDATE_FAILURES = {"UPDATE_FAILED_ROLLBACK_COMPLETE", "UPDATE_FAILED_ROLLBACK_IN_PROGRESS"}


@app.command("create")
def create(
    ctx: typer.Context,
    project: ProjectArg,
    dataset_type: TypeOption,
    manifest: Annotated[
        str | None, typer.Option(help="Ground Truth manifest to import, as s3://bucket/key.")
    ] = None,
    folder: Annotated[
        Path | None,
        typer.Option(help="Local folder of images (normal/ and anomaly/ sub-folders give labels)."),
    ] = None,
    unlabeled: Annotated[
        bool, typer.Option("--unlabeled", help="With --folder: upload every image unlabeled.")
    ] = False,
    wait: Annotated[bool, typer.Option(help="Wait for a manifest import to finish.")] = True,
) -> None:
    """Create a dataset: empty, imported from a manifest, or uploaded from a local folder."""
    state = state_of(ctx)
    if manifest is not None and folder is not None:
        raise typer.BadParameter("give --manifest or --folder, not both", param_hint="--manifest/--folder")
    if unlabeled and folder is None:
        raise typer.BadParameter("--unlabeled only applies to --folder", param_hint="--unlabeled")
    if folder is not None:
        _create_from_folder(state, project, dataset_type.value, folder, labeled=not unlabeled)
        return
    params: dict[str, Any] = {"ProjectName": project, "DatasetType": dataset_type.value}
    if manifest is not None:
        bucket, key = parse_s3_uri(manifest)
        params["DatasetSource"] = {"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Key": key}}}
    result = state.api.lv.create_dataset(**params)
    if manifest is None or not wait:
        emit(state.output, result, lambda: print_fields("dataset created", result["DatasetMetadata"]))
        return
    description = wait_for_dataset(state.api, project, dataset_type.value)
    _show_description(state, {"DatasetDescription": description})
    _fail_unless_complete(description, "import")


def _create_from_folder(
    state: CliState, project: str, dataset_type: str, folder: Path, *, labeled: bool
) -> None:
    images = find_images(folder, labeled=labeled)
    if not images:
        raise CliError(f"{folder}: no .png, .jpg or .jpeg files found")
    state.api.lv.create_dataset(ProjectName=project, DatasetType=dataset_type)
    columns = (
        TextColumn("uploading"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]} images/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr, transient=True, disable=not stderr.is_terminal) as progress:
        task = progress.add_task("upload", total=len(images), rate="-")

        def advance(_image: LocalImage, _error: str | None) -> None:
            progress.advance(task)
            speed = next(t.speed for t in progress.tasks if t.id == task)
            progress.update(task, rate=f"{speed:.1f}" if speed else "-")

        report = upload_images(state.api, project, dataset_type, images, on_done=advance)
    summary = {
        "ProjectName": project,
        "DatasetType": dataset_type,
        "Imported": len(report.imported),
        "Rejected": [{"File": name, "Reason": reason} for name, reason in report.rejected],
    }

    def show() -> None:
        stderr.print(f"imported {len(report.imported)} image(s), rejected {len(report.rejected)}")
        if report.rejected:
            print_table("rejected files", ("file", "reason"), report.rejected)

    emit(state.output, summary, show)
    if report.rejected:
        raise CliError(f"{len(report.rejected)} of {len(images)} image(s) were rejected")


@app.command("import")
def import_source(
    ctx: typer.Context,
    project: ProjectArg,
    dataset_type: TypeOption,
    source: Annotated[
        str,
        typer.Option(
            help="Folder on the server (path or file:// URI) or s3://bucket/prefix, read by the server."
        ),
    ],
    unlabeled: Annotated[bool, typer.Option("--unlabeled", help="Import every image unlabeled.")] = False,
    wait: Annotated[bool, typer.Option(help="Wait for the import to finish.")] = True,
) -> None:
    """Have the server import a folder or S3 prefix (normal/ and anomaly/ sub-folders give labels)."""
    state = state_of(ctx)
    started = state.api.extension_json(
        "POST",
        ["projects", project, "datasets", dataset_type.value, "import"],
        {"Source": source, "Labeled": not unlabeled},
    )
    if not wait:
        emit(state.output, started, lambda: print_fields("import started", started))
        return
    description = wait_for_dataset(state.api, project, dataset_type.value)
    _show_description(state, {"DatasetDescription": description})
    _fail_unless_complete(description, "import")


@app.command("describe")
def describe(ctx: typer.Context, project: ProjectArg, dataset_type: TypeOption) -> None:
    """Show a dataset's status and image counts."""
    state = state_of(ctx)
    result = state.api.lv.describe_dataset(ProjectName=project, DatasetType=dataset_type.value)
    _show_description(state, result)


def _show_description(state: CliState, result: dict[str, Any]) -> None:
    def show() -> None:
        description = dict(result["DatasetDescription"])
        stats = description.pop("ImageStats", None) or {}
        for name in ("Total", "Labeled", "Normal", "Anomaly"):
            description[f"Images {name.lower()}"] = stats.get(name)
        print_fields(
            f"dataset {description.get('ProjectName')}/{description.get('DatasetType')}", description
        )

    emit(state.output, result, show)


@app.command("entries")
def entries(
    ctx: typer.Context,
    project: ProjectArg,
    dataset_type: TypeOption,
    labeled: Annotated[
        bool | None, typer.Option("--labeled/--unlabeled", help="Only labeled, or only unlabeled, entries.")
    ] = None,
    anomaly_class: Annotated[AnomalyClass | None, typer.Option("--class", help="normal or anomaly.")] = None,
    created_before: Annotated[
        datetime | None, typer.Option(formats=ISO_FORMATS, help="ISO date/time.")
    ] = None,
    created_after: Annotated[
        datetime | None, typer.Option(formats=ISO_FORMATS, help="ISO date/time.")
    ] = None,
    contains: Annotated[
        str | None, typer.Option(help="Only entries whose source-ref contains this text.")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Stop after this many entries.")] = None,
) -> None:
    """List dataset entries (Ground Truth JSON lines), following every page."""
    state = state_of(ctx)
    filters: dict[str, Any] = {"ProjectName": project, "DatasetType": dataset_type.value}
    if labeled is not None:
        filters["Labeled"] = labeled
    if anomaly_class is not None:
        filters["AnomalyClass"] = anomaly_class.value
    if created_before is not None:
        filters["BeforeCreationDate"] = created_before
    if created_after is not None:
        filters["AfterCreationDate"] = created_after
    if contains is not None:
        filters["SourceRefContains"] = contains
    lines = fetch_entries(state, filters, limit)
    parsed = [_parse_entry(line) for line in lines]
    emit(
        state.output,
        parsed,
        lambda: print_table(
            f"{len(parsed)} entr{'y' if len(parsed) == 1 else 'ies'}",
            ("source-ref", "class", "mask"),
            (_entry_row(entry) for entry in parsed),
        ),
    )


def fetch_entries(state: CliState, filters: dict[str, Any], limit: int | None) -> list[str]:
    """Page through ListDatasetEntries until done or ``limit`` entries were collected."""
    collected: list[str] = []
    token: str | None = None
    while limit is None or len(collected) < limit:
        page_size = 100 if limit is None else min(100, limit - len(collected))
        params = dict(filters, MaxResults=page_size, **({"NextToken": token} if token else {}))
        page = state.api.lv.list_dataset_entries(**params)
        collected.extend(page.get("DatasetEntries", []))
        token = page.get("NextToken")
        if not token:
            break
    return collected if limit is None else collected[:limit]


def _parse_entry(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return {"source-ref": line}


def _entry_row(entry: Any) -> tuple[Any, ...]:
    if not isinstance(entry, dict):
        return (str(entry), "-", "-")
    label: str | None = None
    mask = False
    for key, value in entry.items():
        if key.endswith("-metadata") and isinstance(value, dict) and "class-name" in value:
            label = str(value["class-name"])
        elif key.endswith("-ref") and key != "source-ref":
            mask = True
    return (entry.get("source-ref"), label or "unlabeled", mask)


@app.command("update")
def update(
    ctx: typer.Context,
    project: ProjectArg,
    dataset_type: TypeOption,
    changes: Annotated[Path, typer.Option(help="JSON Lines file of entries to add or replace.")],
    wait: Annotated[bool, typer.Option(help="Wait for the update to finish.")] = True,
) -> None:
    """Add or replace dataset entries (keyed by source-ref) from a JSON Lines file."""
    state = state_of(ctx)
    result = state.api.lv.update_dataset_entries(
        ProjectName=project, DatasetType=dataset_type.value, Changes=changes.read_bytes()
    )
    if not wait:
        emit(state.output, result, lambda: print_fields("update started", result))
        return
    description = wait_for_dataset(state.api, project, dataset_type.value)
    _show_description(state, {"DatasetDescription": description})
    _fail_unless_complete(description, "update")


@app.command("delete")
def delete(ctx: typer.Context, project: ProjectArg, dataset_type: TypeOption) -> None:
    """Delete a dataset (the images it references are not touched)."""
    state = state_of(ctx)
    result = state.api.lv.delete_dataset(ProjectName=project, DatasetType=dataset_type.value)
    emit(state.output, result, lambda: stderr.print(f"dataset {project}/{dataset_type.value} deleted"))


def _fail_unless_complete(description: dict[str, Any], what: str) -> None:
    status = str(description.get("Status", ""))
    if status.endswith("_COMPLETE") and status not in UPDATE_FAILURES:
        return
    message = description.get("StatusMessage") or "no details"
    if status.endswith("_IN_PROGRESS"):
        raise CliError(f"the {what} is still {status} after waiting; check again with 'datasets describe'")
    raise CliError(f"the {what} ended in {status}: {message}")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``; anything else is a usage error."""
    if not uri.startswith("s3://"):
        raise typer.BadParameter(f"expected s3://bucket/key, got '{uri}'", param_hint="--manifest")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise typer.BadParameter(f"expected s3://bucket/key, got '{uri}'", param_hint="--manifest")
    return bucket, key
