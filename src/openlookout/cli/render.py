"""Printing results: rich tables for people, exact JSON for programs (``--output json``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.table import Table


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def to_jsonable(value: Any) -> Any:
    """boto3 results as plain JSON: datetimes become ISO 8601, bytes become text, metadata dropped."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def print_json(value: Any) -> None:
    """Exactly one JSON document on stdout (no colours, no wrapping)."""
    print(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False))


def format_cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return "\n".join(format_cell(v) for v in value) or "-"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={format_cell(v)}" for k, v in value.items()) or "-"
    return str(value)


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(format_cell(cell) for cell in row))
    stdout.print(table)


def print_fields(title: str | None, fields: Mapping[str, Any]) -> None:
    """A two-column table of one object's fields (absent ones shown as '-')."""
    print_table(title, ("field", "value"), ((name, value) for name, value in fields.items()))


def emit(output: OutputFormat, result: Any, show_table: Callable[[], None]) -> None:
    """Print ``result`` as JSON, or call ``show_table()`` for the human form."""
    if output is OutputFormat.json:
        print_json(result)
    else:
        show_table()
