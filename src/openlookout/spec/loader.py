"""Typed, read-only access to the API model files shipped as package data.

``load_service_model()`` reads ``spec/data/lookoutvision/2020-11-20/service-2.json`` (and the
paginators file) once and exposes operations and shapes with their constraints, so the HTTP layer
can route, decode, validate and encode from the model instead of hand-written tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

SERVICE_NAME = "lookoutvision"
API_VERSION = "2020-11-20"


@dataclass(frozen=True)
class Member:
    """One member of a structure: its name, target shape and where it travels on the wire."""

    name: str
    shape_name: str
    location: str | None = None  # "uri" | "querystring" | "header" | None (JSON body)
    location_name: str | None = None
    idempotency_token: bool = False
    jsonvalue: bool = False
    timestamp_format: str | None = None

    @property
    def wire_name(self) -> str:
        return self.location_name or self.name


@dataclass(frozen=True)
class Shape:
    """A named shape with the constraints the model gives it."""

    name: str
    type: str
    required: tuple[str, ...] = ()
    members: dict[str, Member] = field(default_factory=dict)
    member_shape: str | None = None  # element shape of a list
    min: int | float | None = None
    max: int | float | None = None
    pattern: str | None = None
    enum: tuple[str, ...] = ()
    payload: str | None = None
    streaming: bool = False
    requires_length: bool = False
    timestamp_format: str | None = None
    exception: bool = False
    fault: bool = False
    http_status: int | None = None


@dataclass(frozen=True)
class Operation:
    """An operation: its HTTP binding and its input/output shape names."""

    name: str
    method: str
    request_uri: str
    response_code: int
    input_shape: str | None
    output_shape: str | None
    errors: tuple[str, ...]


@dataclass(frozen=True)
class ServiceModel:
    """The whole model: metadata, operations and shapes by name, paginators by operation."""

    metadata: dict[str, Any]
    operations: dict[str, Operation]
    shapes: dict[str, Shape]
    paginators: dict[str, dict[str, Any]]

    def shape(self, name: str) -> Shape:
        return self.shapes[name]

    def input_of(self, operation: Operation) -> Shape | None:
        return self.shapes[operation.input_shape] if operation.input_shape else None

    def output_of(self, operation: Operation) -> Shape | None:
        return self.shapes[operation.output_shape] if operation.output_shape else None

    def idempotency_member(self, operation: Operation) -> Member | None:
        """The input member flagged ``idempotencyToken`` (ClientToken), if the operation has one."""
        shape = self.input_of(operation)
        if shape is None:
            return None
        return next((m for m in shape.members.values() if m.idempotency_token), None)


def model_data_dir() -> Path:
    """The folder holding ``lookoutvision/<version>/*.json`` (usable as a botocore data path)."""
    return Path(str(resources.files("openlookout.spec").joinpath("data")))


@lru_cache(maxsize=1)
def load_service_model() -> ServiceModel:
    """Parse the shipped model once; later calls return the same object."""
    folder = resources.files("openlookout.spec").joinpath("data", SERVICE_NAME, API_VERSION)
    service = json.loads(folder.joinpath("service-2.json").read_text(encoding="utf-8"))
    paginators = json.loads(folder.joinpath("paginators-1.json").read_text(encoding="utf-8"))
    return ServiceModel(
        metadata=dict(service.get("metadata", {})),
        operations={name: _operation(name, raw) for name, raw in service["operations"].items()},
        shapes={name: _shape(name, raw) for name, raw in service["shapes"].items()},
        paginators=dict(paginators.get("pagination", {})),
    )


def _operation(name: str, raw: dict[str, Any]) -> Operation:
    http = raw["http"]
    return Operation(
        name=name,
        method=http["method"].upper(),
        request_uri=http["requestUri"],
        response_code=int(http.get("responseCode", 200)),
        input_shape=raw.get("input", {}).get("shape"),
        output_shape=raw.get("output", {}).get("shape"),
        errors=tuple(e["shape"] for e in raw.get("errors", [])),
    )


def _shape(name: str, raw: dict[str, Any]) -> Shape:
    members = {
        member_name: Member(
            name=member_name,
            shape_name=spec["shape"],
            location=spec.get("location"),
            location_name=spec.get("locationName"),
            idempotency_token=bool(spec.get("idempotencyToken", False)),
            jsonvalue=bool(spec.get("jsonvalue", False)),
            timestamp_format=spec.get("timestampFormat"),
        )
        for member_name, spec in raw.get("members", {}).items()
    }
    return Shape(
        name=name,
        type=raw["type"],
        required=tuple(raw.get("required", ())),
        members=members,
        member_shape=raw.get("member", {}).get("shape"),
        min=raw.get("min"),
        max=raw.get("max"),
        pattern=raw.get("pattern"),
        enum=tuple(raw.get("enum", ())),
        payload=raw.get("payload"),
        streaming=bool(raw.get("streaming", False)),
        requires_length=bool(raw.get("requiresLength", False)),
        timestamp_format=raw.get("timestampFormat"),
        exception=bool(raw.get("exception", False)),
        fault=bool(raw.get("fault", False)),
        http_status=raw.get("error", {}).get("httpStatusCode"),
    )
