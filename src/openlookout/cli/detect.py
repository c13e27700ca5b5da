"""``openlookout detect``: DetectAnomalies for one image, a folder or an S3 prefix, with a progress
bar, a summary, optional JSON lines output and optional heatmaps (our extension route)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from openlookout.cli.errors import describe_error
from openlookout.cli.render import emit, print_fields
from openlookout.cli.state import state_of

IMAGE_SUFFIXES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def content_type_of(name: str) -> str | None:
    return IMAGE_SUFFIXES.get(Path(name).suffix.lower())


def local_images(target: Path) -> list[Path]:
    """The image files of a path (one file, or a folder searched recursively, sorted)."""
    if target.is_file():
        return [target]
    if target.is_dir():
        return sorted(p for p in target.rglob("*") if p.is_file() and content_type_of(p.name))
    raise typer.BadParameter(f"{target} is neither an image file nor a folder")


def s3_images(uri: str, endpoint_url: str | None, region: str) -> Iterator[tuple[str, bytes]]:
    import boto3

    bucket, _, prefix = uri[5:].partition("/")
    s3 = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if content_type_of(item["Key"]):
                yield (
                    f"s3://{bucket}/{item['Key']}",
                    s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read(),
                )


def detect(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name.")],
    version: Annotated[str, typer.Argument(help="Model version (number or 'latest').")],
    target: Annotated[str, typer.Argument(help="An image, a folder of images, or s3://bucket/prefix.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write one JSON line per image here.")] = None,
    heatmaps: Annotated[
        Path | None, typer.Option("--heatmaps", help="Folder for heatmap PNGs (OpenLookout extension).")
    ] = None,
    s3_endpoint_url: Annotated[str | None, typer.Option(help="S3 endpoint for s3:// targets.")] = None,
) -> None:
    """Detect anomalies in images with a hosted model."""
    from rich.progress import Progress

    state = state_of(ctx)
    if target.startswith("s3://"):
        items: Any = s3_images(target, s3_endpoint_url, state.region)
        total = None
    else:
        files = local_images(Path(target))
        items = ((str(p), p.read_bytes()) for p in files)
        total = len(files)
    if heatmaps is not None:
        heatmaps.mkdir(parents=True, exist_ok=True)
    counts = {"images": 0, "anomalous": 0, "normal": 0, "errors": 0}
    results: list[dict[str, Any]] = []
    sink = out.open("w", encoding="utf-8") if out is not None else None
    try:
        with Progress(disable=state.json, transient=True) as progress:
            task = progress.add_task("detecting", total=total)
            for number, (name, data) in enumerate(items, start=1):
                record = _detect_one(state, project, version, name, data, heatmaps, number)
                counts["images"] += 1
                if "Error" in record:
                    counts["errors"] += 1
                elif record["DetectAnomalyResult"]["IsAnomalous"]:
                    counts["anomalous"] += 1
                else:
                    counts["normal"] += 1
                results.append(record)
                if sink is not None:
                    sink.write(json.dumps(record) + "\n")
                progress.advance(task)
    finally:
        if sink is not None:
            sink.close()
    single = total == 1 and len(results) == 1
    payload: dict[str, Any] = results[0] if single else {"Summary": counts}
    emit(state.output, payload, lambda: print_fields("detection" if single else "summary", _flat(payload)))
    if counts["errors"]:
        raise typer.Exit(1)


def _detect_one(
    state: Any, project: str, version: str, name: str, data: bytes, heatmaps: Path | None, number: int
) -> dict[str, Any]:
    content_type = content_type_of(name) or "application/octet-stream"
    try:
        if heatmaps is not None:
            answer = state.api.extension(
                "POST",
                ["projects", project, "models", version, "detect"],
                query={"heatmap": "true"},
                body=data,
                content_type=content_type,
            )
            result = dict(answer["DetectAnomalyResult"])
            image = base64.b64decode(result.pop("Heatmap"))
            (heatmaps / f"{number:05d}-{Path(name).stem}.png").write_bytes(image)
        else:
            result = state.api.lv.detect_anomalies(
                ProjectName=project, ModelVersion=version, Body=data, ContentType=content_type
            )["DetectAnomalyResult"]
            if "AnomalyMask" in result:
                result["AnomalyMask"] = base64.b64encode(result["AnomalyMask"]).decode("ascii")
        return {"Image": name, "DetectAnomalyResult": result}
    except Exception as exc:
        return {"Image": name, "Error": describe_error(exc)}


def _flat(payload: dict[str, Any]) -> dict[str, Any]:
    if "Summary" in payload:
        return dict(payload["Summary"])
    if "Error" in payload:
        return {"image": payload["Image"], "error": payload["Error"]}
    result = payload["DetectAnomalyResult"]
    out = {"image": payload["Image"], "anomalous": result["IsAnomalous"], "confidence": result["Confidence"]}
    for anomaly in result.get("Anomalies", [])[1:]:
        out[anomaly["Name"]] = f"{anomaly['PixelAnomaly']['TotalPercentageArea']:.2%}"
    return out
