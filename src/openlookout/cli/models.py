"""``openlookout models``: create (optionally waiting, with progress), describe, list, delete, start,
stop and package model versions over the public API."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from openlookout.cli.projects import iterate_pages
from openlookout.cli.render import emit, print_fields, print_table
from openlookout.cli.state import state_of

app = typer.Typer(help="Models: train, inspect, host, stop, delete and package.", no_args_is_help=True)

ProjectName = Annotated[str, typer.Argument(help="Project name.")]
Version = Annotated[str, typer.Argument(help="Model version (a number, or 'latest').")]
FINAL = {
    "TRAINED",
    "TRAINING_FAILED",
    "HOSTED",
    "HOSTING_FAILED",
}


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix); BadParameter otherwise."""
    if not uri.startswith("s3://") or len(uri) <= 5:
        raise typer.BadParameter(f"'{uri}' is not an s3://bucket/prefix location")
    bucket, _, prefix = uri[5:].partition("/")
    if not bucket:
        raise typer.BadParameter(f"'{uri}' names no bucket")
    return bucket, prefix


def wait_for_model(
    lv: Any,
    project: str,
    version: str,
    wanted: set[str],
    *,
    quiet: bool,
    timeout: float,
    interval: float = 2.0,
) -> dict[str, Any]:
    """Poll DescribeModel until the status is in ``wanted`` (showing progress unless ``quiet``)."""
    from rich.console import Console

    console = Console(stderr=True)
    started = time.monotonic()
    last = ""
    with console.status("waiting", spinner="dots") as status:
        while True:
            description: dict[str, Any] = lv.describe_model(ProjectName=project, ModelVersion=version)[
                "ModelDescription"
            ]
            text = f"{description['Status']}: {description.get('StatusMessage', '')}"
            elapsed = time.monotonic() - started
            if not quiet:
                status.update(f"model {project}/{version} {text} ({elapsed:.0f} s)")
                if text != last:
                    console.log(text)
                    last = text
            if description["Status"] in wanted:
                return description
            if elapsed > timeout:
                raise typer.BadParameter(
                    f"gave up after {timeout:.0f} s; the model is {description['Status']}"
                )
            time.sleep(interval)


@app.command("create")
def create(
    ctx: typer.Context,
    project: ProjectName,
    output: Annotated[str, typer.Option("--output-s3", help="s3://bucket/prefix for evaluation files.")],
    description: Annotated[str | None, typer.Option(help="Description (no spaces).")] = None,
    kms_key_id: Annotated[str | None, typer.Option(help="KMS key id to record.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="KEY=VALUE, repeatable.")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for training to end.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait at most.")] = 24 * 3600,
) -> None:
    """Train a new model version from the project's datasets."""
    state = state_of(ctx)
    bucket, prefix = parse_s3_uri(output)
    params: dict[str, Any] = {"ProjectName": project, "OutputConfig": {"S3Location": {"Bucket": bucket}}}
    if prefix:
        params["OutputConfig"]["S3Location"]["Prefix"] = prefix
    if description:
        params["Description"] = description
    if kms_key_id:
        params["KmsKeyId"] = kms_key_id
    tags = []
    for item in tag or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"tag '{item}' must look like KEY=VALUE")
        tags.append({"Key": key, "Value": value})
    if tags:
        params["Tags"] = tags
    result = state.api.lv.create_model(**params)
    metadata = result["ModelMetadata"]
    if wait:
        final = wait_for_model(
            state.api.lv, project, metadata["ModelVersion"], FINAL, quiet=state.json, timeout=timeout
        )
        result = {"ModelDescription": final}
        emit(state.output, result, lambda: print_fields(f"model {project}/{final['ModelVersion']}", final))
        if final["Status"] != "TRAINED":
            raise typer.Exit(1)
        return
    emit(state.output, result, lambda: print_fields("model created", metadata))


@app.command("describe")
def describe(ctx: typer.Context, project: ProjectName, version: Version = "latest") -> None:
    """Show a model version: status, performance, evaluation files, inference units."""
    state = state_of(ctx)
    result = state.api.lv.describe_model(ProjectName=project, ModelVersion=version)
    emit(state.output, result, lambda: print_fields(f"model {project}/{version}", result["ModelDescription"]))


@app.command("list")
def list_models(ctx: typer.Context, project: ProjectName) -> None:
    """List the project's model versions."""
    state = state_of(ctx)
    models = list(iterate_pages(state.api.lv.list_models, "Models", ProjectName=project))
    emit(
        state.output,
        {"Models": models},
        lambda: print_table(
            f"{len(models)} model(s)",
            ("version", "status", "F1", "created", "message"),
            (
                (
                    m.get("ModelVersion"),
                    m.get("Status"),
                    (m.get("Performance") or {}).get("F1Score"),
                    m.get("CreationTimestamp"),
                    m.get("StatusMessage"),
                )
                for m in models
            ),
        ),
    )


@app.command("delete")
def delete(ctx: typer.Context, project: ProjectName, version: Annotated[str, typer.Argument()]) -> None:
    """Delete a model version (it must not be training or running)."""
    state = state_of(ctx)
    result = state.api.lv.delete_model(ProjectName=project, ModelVersion=version)
    emit(state.output, result, lambda: print_fields("model deleted", result))


@app.command("start")
def start(
    ctx: typer.Context,
    project: ProjectName,
    version: Version,
    min_units: Annotated[int, typer.Option("--min-units", help="MinInferenceUnits.")] = 1,
    max_units: Annotated[int | None, typer.Option("--max-units", help="MaxInferenceUnits.")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until HOSTED.")] = False,
) -> None:
    """Host a trained model on inference units."""
    state = state_of(ctx)
    params: dict[str, Any] = {"ProjectName": project, "ModelVersion": version, "MinInferenceUnits": min_units}
    if max_units is not None:
        params["MaxInferenceUnits"] = max_units
    result = state.api.lv.start_model(**params)
    if wait:
        final = wait_for_model(
            state.api.lv, project, version, FINAL, quiet=state.json, timeout=600, interval=0.5
        )
        result = {"Status": final["Status"], "StatusMessage": final.get("StatusMessage")}
    emit(state.output, result, lambda: print_fields(f"model {project}/{version}", result))


@app.command("stop")
def stop(ctx: typer.Context, project: ProjectName, version: Version) -> None:
    """Stop a hosted model."""
    state = state_of(ctx)
    result = state.api.lv.stop_model(ProjectName=project, ModelVersion=version)
    emit(state.output, result, lambda: print_fields(f"model {project}/{version}", result))


@app.command("package")
def package(
    ctx: typer.Context,
    project: ProjectName,
    version: Version,
    output: Annotated[str, typer.Option("--output-s3", help="s3://bucket/prefix for the bundle.")],
    component: Annotated[str, typer.Option(help="Greengrass component name.")],
    component_version: Annotated[str | None, typer.Option(help="Component version (x.y.z).")] = None,
    arch: Annotated[str, typer.Option(help="X86_64 or ARM64.")] = "X86_64",
    job_name: Annotated[str | None, typer.Option(help="Packaging job name.")] = None,
) -> None:
    """Build an edge bundle (ONNX model + runner + Greengrass recipe) into S3."""
    state = state_of(ctx)
    bucket, prefix = parse_s3_uri(output)
    greengrass: dict[str, Any] = {
        "ComponentName": component,
        "S3OutputLocation": {"Bucket": bucket, **({"Prefix": prefix} if prefix else {})},
        "TargetPlatform": {"Os": "LINUX", "Arch": arch},
    }
    if component_version:
        greengrass["ComponentVersion"] = component_version
    params: dict[str, Any] = {
        "ProjectName": project,
        "ModelVersion": version,
        "Configuration": {"Greengrass": greengrass},
    }
    if job_name:
        params["JobName"] = job_name
    result = state.api.lv.start_model_packaging_job(**params)
    emit(state.output, result, lambda: print_fields("packaging job started", result))
