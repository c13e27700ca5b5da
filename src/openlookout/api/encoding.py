"""Handler result -> JSON body, following the operation's output shape.

Members are written by model member name; only members the model knows are sent, ``None`` values
are left out, timestamps become epoch seconds (float), blobs base64 text.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from openlookout.spec.loader import ServiceModel, Shape


def encode_result(model: ServiceModel, shape: Shape | None, result: dict[str, Any]) -> bytes:
    """The JSON body for a handler's result (``{}`` when the operation has no output)."""
    if shape is None:
        return b"{}"
    return json.dumps(to_json(model, shape, result), separators=(",", ":")).encode()


def to_json(model: ServiceModel, shape: Shape, value: Any) -> Any:
    """One value in its JSON wire form."""
    if shape.type == "structure":
        return {
            name: to_json(model, model.shape(member.shape_name), value[name])
            for name, member in shape.members.items()
            if member.location is None and value.get(name) is not None
        }
    if shape.type == "list":
        element = model.shape(shape.member_shape or "")
        return [to_json(model, element, item) for item in value]
    if shape.type == "timestamp":
        return epoch_seconds(value)
    if shape.type == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode("ascii")
    if shape.type in ("float", "double"):
        return float(value)
    return value


def epoch_seconds(value: datetime | float | int) -> float:
    """Epoch seconds of a datetime (naive means UTC) or a number."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.timestamp()
    return float(value)
