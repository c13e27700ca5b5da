"""Every command and sub-command of the CLI prints its help (help texts are rendered as markup, so
a stray bracket in one of them breaks ``--help`` for that command)."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from openlookout.cli.main import app


def _command_paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        paths.append(path)
        for name, child in getattr(command, "commands", {}).items():
            walk(child, [*path, name])

    walk(root, [])
    return paths


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "openlookout")
def test_help_renders(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
