"""The one error of the sources layer: a reference that could not be resolved or read."""

from __future__ import annotations


class SourceError(Exception):
    """A reference could not be resolved or read; ``reason`` is a plain sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason
