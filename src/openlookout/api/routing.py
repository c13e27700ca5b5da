"""Method + path -> operation, from the model's ``requestUri`` templates.

Matching works on the RAW (still percent-encoded) path split at ``/``, so a percent-encoded ARN
(``arn%3Aaws%3A...%2Fmodel%2Fp%2F1``) stays one segment; captured values are percent-decoded
afterwards. Templates with more literal segments win over ones with more parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from openlookout.spec.loader import Operation, ServiceModel


@dataclass(frozen=True)
class Route:
    """One operation's template, pre-split into segments."""

    operation: Operation
    segments: tuple[str, ...]

    @property
    def literal_count(self) -> int:
        return sum(1 for s in self.segments if not s.startswith("{"))

    def match(self, raw_segments: list[str]) -> dict[str, str] | None:
        if len(raw_segments) != len(self.segments):
            return None
        captured: dict[str, str] = {}
        for template, raw in zip(self.segments, raw_segments, strict=True):
            if template.startswith("{"):
                if not raw:
                    return None
                try:
                    captured[template.strip("{}+")] = unquote(raw, errors="strict")
                except UnicodeDecodeError:
                    return None
            elif raw != template:
                return None
        return captured


@dataclass(frozen=True)
class RouteMatch:
    """The operation found and its URI parameters by their ``locationName``."""

    operation: Operation
    uri_params: dict[str, str]


class Router:
    """All operations' routes; ``match`` answers ``None`` for an unknown method or path."""

    def __init__(self, model: ServiceModel) -> None:
        routes = [
            Route(op, tuple(op.request_uri.split("?", 1)[0].strip("/").split("/")))
            for op in model.operations.values()
        ]
        self.routes = sorted(routes, key=lambda r: -r.literal_count)

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        raw_segments = raw_path.strip("/").split("/")
        for route in self.routes:
            if route.operation.method != method.upper():
                continue
            params = route.match(raw_segments)
            if params is not None:
                return RouteMatch(route.operation, params)
        return None

    def path_known(self, raw_path: str) -> bool:
        """True when some operation has this path (so only the method is wrong)."""
        raw_segments = raw_path.strip("/").split("/")
        return any(route.match(raw_segments) is not None for route in self.routes)
