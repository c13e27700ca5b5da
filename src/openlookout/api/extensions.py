"""OpenLookout's own routes (not part of the AWS API), mounted under ``/openlookout/``.

Same caller context and error format as the AWS routes. Each handler only checks the shape of
its input and calls one service function; the rules live in the service layer.

- ``POST /openlookout/v1/projects/{project}/datasets/{type}/images?name=..&label=normal|anomaly``
  (raw image bytes as body) -> ``{"SourceRef": ...}``
- ``POST /openlookout/v1/projects/{project}/datasets/{type}/import`` with
  ``{"Source": "...", "Labeled": true}`` -> ``{"JobId": n}`` (202)
- ``GET /openlookout/v1/projects/{project}/readiness`` -> the training readiness as JSON
- ``GET /openlookout/health`` -> ``{"status": "ok"}``
"""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from openlookout.api.authentication import Authenticator
from openlookout.api.content_types import require_content_type
from openlookout.api.decoding import parse_json_object
from openlookout.api.http import guarded, json_response, read_body
from openlookout.errors import ValidationException
from openlookout.service import imports, readiness
from openlookout.service.context import Runtime
from openlookout.spec.loader import ServiceModel
from openlookout.spec.validation import check_value

MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_SOURCE_CHARS = 2048
MAX_IMAGE_NAME_CHARS = 255
MAX_IMPORT_BODY_BYTES = 64 * 1024
# Raw image bytes: the image's own type, or untyped bytes (a type no web form can send).
IMAGE_BODY_TYPES = ("image/png", "image/jpeg", "application/octet-stream")
LABELS = ("normal", "anomaly")


def extension_routes(runtime: Runtime, model: ServiceModel, auth: Authenticator) -> list[BaseRoute]:
    """The extension routes bound to ``runtime``, their callers decided by ``auth``."""

    def target(request: Request) -> tuple[str, str]:
        project = request.path_params["project"]
        check_value(model, model.shape("ProjectName"), project, "project")
        dataset_type = request.path_params.get("dataset_type", "train")
        check_value(model, model.shape("DatasetType"), dataset_type, "dataset type")
        return project, dataset_type

    async def add_image(request: Request) -> Response:
        async def handle(request_id: str) -> Response:
            signed = auth.check_headers(request)
            project, dataset_type = target(request)
            name = _image_name(request.query_params.get("name"))
            label = _label(request.query_params.get("label"))
            data = await read_body(request, limit=MAX_IMAGE_BYTES, require_length=True)
            ctx = auth.context(request, signed, data, request_id)
            require_content_type(request, data, IMAGE_BODY_TYPES)
            ref = await run_in_threadpool(
                imports.add_image, runtime, ctx, project, dataset_type, name, data, label
            )
            return json_response({"SourceRef": ref}, request_id)

        return await guarded(request, handle)

    async def import_source(request: Request) -> Response:
        async def handle(request_id: str) -> Response:
            signed = auth.check_headers(request)
            project, dataset_type = target(request)
            body = await read_body(request, limit=MAX_IMPORT_BODY_BYTES)
            ctx = auth.context(request, signed, body, request_id)
            require_content_type(request, body, ("application/json",))
            document = parse_json_object(body)
            source, labeled = _import_request(document)
            job_id = await run_in_threadpool(
                imports.import_labeled_source, runtime, ctx, project, dataset_type, source, labeled
            )
            return json_response({"JobId": job_id}, request_id, status_code=202)

        return await guarded(request, handle)

    async def training_readiness(request: Request) -> Response:
        async def handle(request_id: str) -> Response:
            signed = auth.check_headers(request)
            project, _ = target(request)
            body = await read_body(request, limit=MAX_IMPORT_BODY_BYTES)
            ctx = auth.context(request, signed, body, request_id)
            result = await run_in_threadpool(readiness.training_readiness, runtime, ctx, project)
            return json_response(_readiness_json(result), request_id)

        return await guarded(request, handle)

    async def health(request: Request) -> Response:
        return await guarded(request, lambda request_id: _ok(request_id))

    base = "/openlookout/v1/projects/{project}"
    return [
        Route("/openlookout/health", health, methods=["GET"]),
        Route(base + "/datasets/{dataset_type}/images", add_image, methods=["POST"]),
        Route(base + "/datasets/{dataset_type}/import", import_source, methods=["POST"]),
        Route(base + "/readiness", training_readiness, methods=["GET"]),
    ]


async def _ok(request_id: str) -> Response:
    return json_response({"status": "ok"}, request_id)


def _image_name(name: str | None) -> str:
    if not name or not name.strip():
        raise ValidationException("The query parameter 'name' (the image's file name) is required.")
    if len(name) > MAX_IMAGE_NAME_CHARS or "/" in name or "\\" in name or name in (".", ".."):
        raise ValidationException(
            f"The image name must be a plain file name of at most {MAX_IMAGE_NAME_CHARS} characters."
        )
    return name


def _label(label: str | None) -> str | None:
    if label is None or label == "":
        return None
    if label not in LABELS:
        raise ValidationException(f"The label '{label[:64]}' must be 'normal' or 'anomaly' (or left out).")
    return label


def _import_request(document: dict[str, Any]) -> tuple[str, bool]:
    source = document.get("Source")
    if not isinstance(source, str) or not source.strip():
        raise ValidationException("Source (a folder path, file:// URI or s3:// prefix) is required.")
    if len(source) > MAX_SOURCE_CHARS:
        raise ValidationException(f"Source has {len(source)} characters; at most {MAX_SOURCE_CHARS} allowed.")
    labeled = document.get("Labeled", True)
    if not isinstance(labeled, bool):
        raise ValidationException("Labeled must be true or false.")
    return source, labeled


def _readiness_json(result: Any) -> dict[str, Any]:
    """The readiness dataclass with its field names in the API's PascalCase (values untouched)."""
    if not dataclasses.is_dataclass(result) or isinstance(result, type):
        raise TypeError("training_readiness must return a dataclass instance")
    return {_pascal_name(k): v for k, v in dataclasses.asdict(result).items()}


def _pascal_name(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))
