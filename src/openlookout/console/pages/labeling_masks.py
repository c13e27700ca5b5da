"""The mask editor's JSON routes: read an image's mask as a label map, save a painted one.

``GET /console/api/projects/{name}/datasets/{type}/mask?ref=...`` answers
``{"width", "height", "types": [{"name", "color"}], "runs"}`` (see ``console.masks``; no runs
when the image has no mask). ``POST`` to the same address takes the editor's label map, builds the
colour-indexed PNG, stores it as a blob and applies UpdateDatasetEntries with a Ground Truth line
that keeps the image's source-ref and label attribute, labels it anomaly and points its
``anomaly-mask-ref`` at ``upload://<sha256>/<name>`` (the service reads such refs from its blob
store). Nothing painted means the image stays anomaly without a mask.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from openlookout.blobs.base import BlobError
from openlookout.console.masks import encode_runs, mask_png, read_painted, stored_labels
from openlookout.console.pages.anomaly_types import types_of_project
from openlookout.console.pages.labeling_lookup import apply_line, find_entry
from openlookout.console.routing import Binder
from openlookout.errors import ServiceError, ValidationException
from openlookout.imaging.images import ImageRejected
from openlookout.imaging.manifest import DEFAULT_MASK_ATTRIBUTE, new_entry, render_entry
from openlookout.service.context import Runtime
from openlookout.sources.reader import upload_ref

# A run-length label map is small; even an all-noise 4096 x 4096 map stays well below this.
MAX_BODY_BYTES = 64 * 1024 * 1024
JOB_NAME = "openlookout/console"


def read_mask(runtime: Runtime, name: str, dataset_type: str, ref: str) -> dict[str, Any]:
    """The image's stored mask as the editor's label map document."""
    image = find_entry(runtime, name, dataset_type, ref)
    entry = image.entry
    document: dict[str, Any] = {"width": image.width, "height": image.height, "types": [], "runs": []}
    if image.mask_sha256 is None or entry.mask_ref is None:
        return document
    try:
        data = runtime.blobs.get(image.mask_sha256)
        labels, names = stored_labels(
            data, entry.colors, entry.background, image.width, image.height, name=entry.mask_ref
        )
    except BlobError as exc:
        raise ValidationException(f"The stored mask cannot be read: {exc}") from None
    except ImageRejected as exc:
        raise ValidationException(f"The stored mask cannot be used: {exc.reason}") from None
    colour_of = {n: c for c, n in reversed(entry.colors.items())}
    document["types"] = [{"name": n, "color": colour_of[n]} for n in names]
    document["runs"] = encode_runs(labels)
    return document


def save_mask(runtime: Runtime, name: str, dataset_type: str, ref: str, document: Any) -> dict[str, Any]:
    """Store the painted label map as the image's mask; the pixel count of each type saved."""
    image = find_entry(runtime, name, dataset_type, ref)
    painted = read_painted(document, image.width, image.height)
    known = {t.name: t.color for t in types_of_project(runtime, image.project_id)}
    for type_name in painted.types:
        if type_name not in known:
            raise ValidationException(
                f"The project has no anomaly type {type_name}; add it on the anomaly types page first."
            )
    built = mask_png(painted, {n: known[n] for n in painted.types})
    old = image.entry
    if built is None:
        entry = new_entry(ref, "anomaly", label_attribute=old.label_attribute, job_name=JOB_NAME)
    else:
        png, colors = built
        key = runtime.blobs.put(png)
        stem = ref.rsplit("/", 1)[-1].rsplit(".", 1)[0] or "image"
        entry = new_entry(
            ref,
            "anomaly",
            mask_ref=upload_ref(key, f"{stem}-mask.png"),
            colors=colors,
            label_attribute=old.label_attribute,
            mask_attribute=old.mask_attribute or DEFAULT_MASK_ATTRIBUTE,
            job_name=JOB_NAME,
        )
    apply_line(runtime, name, dataset_type, render_entry(entry))
    counts = np.bincount(painted.labels.ravel(), minlength=len(painted.types) + 1)
    painted_counts = {t: int(counts[k]) for k, t in enumerate(painted.types, start=1) if counts[k]}
    total = sum(painted_counts.values())
    empty = "Saved as anomaly, without a mask (nothing painted)."
    message = f"Saved: {total} mask pixels." if total else empty
    return {"message": message, "maskRef": entry.mask_ref, "counts": painted_counts}


def _target(request: Request) -> tuple[str, str, str]:
    p = request.path_params
    return p["name"], p["dataset_type"], request.query_params.get("ref", "")


async def get_mask(runtime: Runtime, request: Request) -> Response:
    try:
        document = await run_in_threadpool(read_mask, runtime, *_target(request))
    except ServiceError as exc:
        return JSONResponse({"message": exc.message}, status_code=exc.status)
    return JSONResponse(document, headers={"Cache-Control": "no-store"})


async def post_mask(runtime: Runtime, request: Request) -> Response:
    body = await request.body()
    try:
        if len(body) > MAX_BODY_BYTES:
            raise ValidationException(f"The mask is larger than {MAX_BODY_BYTES} bytes.")
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise ValidationException("The mask must be sent as JSON.") from None
        result = await run_in_threadpool(save_mask, runtime, *_target(request), document)
    except ServiceError as exc:
        return JSONResponse({"message": exc.message}, status_code=exc.status)
    return JSONResponse(result)


def routes(bind: Binder) -> list[BaseRoute]:
    """Reading and saving an image's mask (JSON)."""
    path = "/console/api/projects/{name}/datasets/{dataset_type}/mask"
    return [
        Route(path, bind(get_mask), methods=["GET"]),
        Route(path, bind(post_mask), methods=["POST"]),
    ]
