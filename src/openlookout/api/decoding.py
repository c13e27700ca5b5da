"""Request -> params dict: each input member read from its wire location and coerced to its type.

URI, query-string and header members arrive as text and are parsed per their shape (integers,
``true``/``false`` booleans, ISO-8601 or epoch-second timestamps, repeated query keys for lists).
Body members come from the JSON object (blobs as base64, timestamps as epoch seconds); a raw blob
``payload`` (DetectAnomalies' ``Body``) is the request body itself. Type problems raise
``ValidationException`` naming the member; constraint checks happen afterwards in ``validation``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from openlookout.errors import ValidationException
from openlookout.spec.loader import Operation, ServiceModel, Shape

_INTEGER_TYPES = ("integer", "long")
_SURROGATES = re.compile("[\ud800-\udfff]")
_FLOAT_TYPES = ("float", "double")


def decode_request(
    model: ServiceModel,
    operation: Operation,
    uri_params: Mapping[str, str],
    headers: Mapping[str, str],
    raw_query: str,
    body: bytes,
) -> dict[str, Any]:
    """All input members present in the request, by model member name."""
    shape = model.input_of(operation)
    if shape is None:
        return {}
    query = _query_lists(raw_query)
    params: dict[str, Any] = {}
    for member in shape.members.values():
        target = model.shape(member.shape_name)
        if member.location == "uri" and member.wire_name in uri_params:
            params[member.name] = text_to_value(target, uri_params[member.wire_name], member.name)
        elif member.location == "querystring" and member.wire_name in query:
            params[member.name] = _query_value(target, query[member.wire_name], member.name)
        elif member.location == "header":
            value = headers.get(member.wire_name.lower())
            if value is not None:
                params[member.name] = text_to_value(target, value, member.name)
    params.update(_body_members(model, shape, body))
    return params


def _body_members(model: ServiceModel, shape: Shape, body: bytes) -> dict[str, Any]:
    if shape.payload:
        member = shape.members[shape.payload]
        target = model.shape(member.shape_name)
        if target.type == "blob":
            return {member.name: body} if body else {}
        document = parse_json_object(body)
        return {member.name: json_to_value(model, target, document, member.name)} if body else {}
    body_members = [m for m in shape.members.values() if m.location is None]
    if not body_members:
        return {}
    document = parse_json_object(body)
    return {
        m.name: json_to_value(model, model.shape(m.shape_name), document[m.name], m.name)
        for m in body_members
        if document.get(m.name) is not None
    }


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}``."""
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationException(f"The request body is not valid JSON: {exc}.") from None
    except (ValueError, RecursionError):  # absurdly long numbers or nesting
        raise ValidationException("The request body is not JSON this service can read.") from None
    if not isinstance(document, dict):
        raise ValidationException("The request body must be a JSON object.")
    return document


def _query_lists(raw_query: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    try:
        pairs = parse_qsl(raw_query, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise ValidationException("The query string is not valid percent-encoded UTF-8.") from None
    for key, value in pairs:
        found.setdefault(key, []).append(value)
    return found


def _query_value(shape: Shape, values: list[str], path: str) -> Any:
    if shape.type == "list":
        return values
    if len(values) > 1:
        raise ValidationException(f"{path}: the query parameter was given {len(values)} times; give it once.")
    return text_to_value(shape, values[0], path)


def text_to_value(shape: Shape, text: str, path: str) -> Any:
    """A scalar from its text form (URI, query string or header)."""
    text = plain_text(text, path)
    if shape.type in _INTEGER_TYPES:
        try:
            number = int(text.strip())
        except ValueError:
            raise ValidationException(f"{path}: '{text[:64]}' is not an integer.") from None
        return _in_bits(shape, number, path)
    if shape.type in _FLOAT_TYPES:
        try:
            real = float(text)
        except ValueError:
            raise ValidationException(f"{path}: '{text[:64]}' is not a number.") from None
        return _finite(real, path)
    if shape.type == "boolean":
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise ValidationException(f"{path}: '{text[:64]}' is not a boolean; use true or false.")
        return lowered == "true"
    if shape.type == "timestamp":
        return parse_timestamp(text, path)
    return text


def plain_text(text: str, path: str) -> str:
    """``text`` unless it holds NUL or lone surrogates (not storable, never sent by a real SDK)."""
    if "\x00" in text or _SURROGATES.search(text):
        raise ValidationException(f"{path}: the text contains NUL or unpaired surrogate characters.")
    return text


def _in_bits(shape: Shape, number: int, path: str) -> int:
    bits = 64 if shape.type == "long" else 32
    if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
        raise ValidationException(f"{path}: the number does not fit in a {bits}-bit integer.")
    return number


def parse_timestamp(value: str | int | float, path: str) -> datetime:
    """ISO-8601 (naive means UTC) or epoch seconds -> an aware UTC datetime."""
    if isinstance(value, bool):
        raise ValidationException(f"{path}: a timestamp is expected, not a boolean.")
    if isinstance(value, int | float):
        return _from_epoch(float(value), path)
    text = value.strip()
    try:
        return _from_epoch(float(text), path)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationException(
            f"{path}: '{text[:64]}' is not a timestamp; use ISO-8601 (2024-03-05T10:15:00Z) or epoch seconds."
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _from_epoch(seconds: float, path: str) -> datetime:
    try:
        return datetime.fromtimestamp(_finite(seconds, path), tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ValidationException(f"{path}: the timestamp {seconds} is out of range.") from None


def _finite(number: float, path: str) -> float:
    if not math.isfinite(number):
        raise ValidationException(f"{path}: the number must be finite.")
    return number


def json_to_value(model: ServiceModel, shape: Shape, value: Any, path: str) -> Any:
    """A JSON body value checked against its shape's type and converted (blobs, timestamps)."""
    kind = shape.type
    if kind == "structure":
        if not isinstance(value, dict):
            raise ValidationException(f"{path}: a JSON object is expected.")
        return {
            member.name: json_to_value(
                model, model.shape(member.shape_name), value[member.name], f"{path}.{member.name}"
            )
            for member in shape.members.values()
            if value.get(member.name) is not None
        }
    if kind == "list":
        if not isinstance(value, list):
            raise ValidationException(f"{path}: a JSON array is expected.")
        element = model.shape(shape.member_shape or "")
        return [json_to_value(model, element, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise ValidationException(f"{path}: a JSON object is expected.")
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise ValidationException(f"{path}: a string is expected.")
        return plain_text(value, path)
    if kind in _INTEGER_TYPES:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationException(f"{path}: an integer is expected.")
        return _in_bits(shape, value, path)
    if kind in _FLOAT_TYPES:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationException(f"{path}: a number is expected.")
        return _finite(float(value), path)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValidationException(f"{path}: true or false is expected.")
        return value
    if kind == "blob":
        return _base64(value, path)
    if kind == "timestamp":
        if not isinstance(value, str | int | float):
            raise ValidationException(f"{path}: a timestamp is expected.")
        return parse_timestamp(value, path)
    return value


def _base64(value: Any, path: str) -> bytes:
    if not isinstance(value, str):
        raise ValidationException(f"{path}: a base64-encoded string is expected.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationException(f"{path}: the value is not valid base64.") from None
