"""The click group class behind the app: the one place where errors become one stderr line.

Usage errors exit with 2, every other failure with 1, and no traceback is ever printed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from openlookout.cli.errors import describe_error

EXIT_FAILURE = 1
EXIT_USAGE = 2


def print_error(message: str) -> None:
    """Write ``error: <message>`` as a single line on stderr."""
    typer.echo(f"error: {message}", err=True)


class GuardedGroup(TyperGroup):
    """A ``TyperGroup`` whose ``main`` reports failures in one line and picks the exit status."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except typer.Abort:
            print_error("aborted")
            sys.exit(EXIT_FAILURE)
        except typer.TyperException as exc:
            # A group called without a command has already printed its help; nothing to add.
            if type(exc).__name__ != "NoArgsIsHelpError":
                print_error(_describe_click_error(exc))
            sys.exit(int(getattr(exc, "exit_code", EXIT_USAGE)))
        except Exception as exc:
            print_error(describe_error(exc))
            sys.exit(EXIT_FAILURE)
        code = result if isinstance(result, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


def _describe_click_error(exc: typer.TyperException) -> str:
    """A usage problem (bad option, missing argument) as one line with a pointer to --help."""
    format_message = getattr(exc, "format_message", None)
    text = format_message() if callable(format_message) else str(exc)
    line = " ".join(str(text).split())
    ctx = getattr(exc, "ctx", None)
    command_path = getattr(ctx, "command_path", None)
    return f"{line} (see '{command_path} --help')" if command_path else line
