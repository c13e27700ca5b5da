"""Anomaly types defined in the web console (``console_anomaly_types``) before any mask uses them.

The types the service knows from entries live in ``anomaly_labels`` (``store.entries``); these
rows only let a user name a type and pick its colour ahead of painting. Plain SQLAlchemy Core on
a connection the caller holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select

from openlookout.store.tables import console_anomaly_types


@dataclass(frozen=True)
class ConsoleType:
    """One console-defined anomaly type: its name and ``#RRGGBB`` colour (upper case)."""

    name: str
    color: str
    created_at: float


def list_console_types(conn: Connection, project_id: int) -> list[ConsoleType]:
    """The project's console-defined types, oldest first."""
    c = console_anomaly_types.c
    rows = conn.execute(
        select(c.name, c.color, c.created_at).where(c.project_id == project_id).order_by(c.created_at, c.id)
    )
    return [ConsoleType(r.name, r.color, r.created_at) for r in rows]


def add_console_type(conn: Connection, project_id: int, name: str, color: str, now: float) -> None:
    """Record a type; the table's unique constraints refuse a second row with the same name or colour."""
    conn.execute(
        insert(console_anomaly_types).values(project_id=project_id, name=name, color=color, created_at=now)
    )


def delete_console_type(conn: Connection, project_id: int, name: str) -> bool:
    """Forget a console-defined type; True when there was one of that name."""
    c = console_anomaly_types.c
    result = conn.execute(delete(console_anomaly_types).where(c.project_id == project_id, c.name == name))
    return bool(result.rowcount)
