"""Constraint checks of decoded params against the model: required, lengths, ranges, patterns, enums.

Every problem found is reported at once in one ``ValidationException`` whose message names each
member path (``DatasetSource.GroundTruthManifest.S3Object.Bucket``, ``Tags[3].Key``) and the rule
it breaks. Patterns are applied as full matches (see ``spec.patterns``).
"""

from __future__ import annotations

from typing import Any

from openlookout.errors import ValidationException
from openlookout.spec.loader import ServiceModel, Shape
from openlookout.spec.patterns import matches

_MAX_SHOWN = 64


def validate_params(model: ServiceModel, shape: Shape, params: dict[str, Any]) -> None:
    """Raise ``ValidationException`` listing every broken rule, or return when all hold."""
    problems: list[str] = []
    _check_structure(model, shape, params, "", problems)
    if problems:
        count = f"{len(problems)} validation problems" if len(problems) > 1 else "1 validation problem"
        raise ValidationException(f"{count}: " + "; ".join(problems))


def check_value(model: ServiceModel, shape: Shape, value: Any, path: str) -> None:
    """Validate one value of ``shape`` (used for extension-route parameters)."""
    problems: list[str] = []
    _check(model, shape, value, path, problems)
    if problems:
        raise ValidationException("; ".join(problems))


def _check(model: ServiceModel, shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if shape.type == "structure":
        _check_structure(model, shape, value, path, problems)
    elif shape.type == "list":
        _check_size(shape, len(value), path, "items", problems)
        element = model.shape(shape.member_shape or "")
        for index, item in enumerate(value):
            _check(model, element, item, f"{path}[{index}]", problems)
    elif shape.type == "string":
        _check_string(shape, value, path, problems)
    elif shape.type == "blob":
        _check_size(shape, len(value), path, "bytes", problems)
    elif shape.type in ("integer", "long", "float", "double"):
        _check_range(shape, value, path, problems)


def _check_structure(
    model: ServiceModel, shape: Shape, value: dict[str, Any], path: str, problems: list[str]
) -> None:
    for name in shape.required:
        if value.get(name) is None:
            problems.append(f"{_join(path, name)} is required")
    for name, member in shape.members.items():
        if value.get(name) is not None:
            _check(model, model.shape(member.shape_name), value[name], _join(path, name), problems)


def _check_string(shape: Shape, value: str, path: str, problems: list[str]) -> None:
    before = len(problems)
    _check_size(shape, len(value), path, "characters", problems)
    if len(problems) > before:
        return
    if shape.enum and value not in shape.enum:
        problems.append(f"{path} '{_shown(value)}' must be one of: {', '.join(shape.enum)}")
    elif shape.pattern and not matches(shape.pattern, value):
        problems.append(f"{path} '{_shown(value)}' must fully match the pattern {shape.pattern}")


def _check_size(shape: Shape, size: int, path: str, unit: str, problems: list[str]) -> None:
    if shape.min is not None and size < shape.min:
        problems.append(f"{path} has {size} {unit}; at least {shape.min} needed")
    elif shape.max is not None and size > shape.max:
        problems.append(f"{path} has {size} {unit}; at most {shape.max} allowed")


def _check_range(shape: Shape, value: float, path: str, problems: list[str]) -> None:
    if shape.min is not None and value < shape.min:
        problems.append(f"{path} is {value}; the minimum is {shape.min}")
    elif shape.max is not None and value > shape.max:
        problems.append(f"{path} is {value}; the maximum is {shape.max}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _shown(value: str) -> str:
    return value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "..."
