"""Repository functions for the ``jobs`` table (background work that survives a restart)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from openlookout.store.tables import jobs

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"


@dataclass(frozen=True)
class JobRow:
    """One persisted job."""

    id: int
    kind: str
    payload: dict[str, Any]
    state: str
    error: str | None
    created_at: float
    updated_at: float
    attempts: int


def _row(r: Any) -> JobRow:
    return JobRow(
        id=r.id,
        kind=r.kind,
        payload=dict(r.payload or {}),
        state=r.state,
        error=r.error,
        created_at=r.created_at,
        updated_at=r.updated_at,
        attempts=r.attempts or 0,
    )


def insert_job(conn: Connection, kind: str, payload: dict[str, Any]) -> int:
    """Persist a new queued job; returns its id."""
    now = time.time()
    result = conn.execute(
        jobs.insert().values(
            kind=kind, payload=payload, state=QUEUED, error=None, created_at=now, updated_at=now, attempts=0
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def get_job(conn: Connection, job_id: int) -> JobRow | None:
    r = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
    return _row(r) if r is not None else None


def claim_job(conn: Connection, job_id: int) -> bool:
    """Move a queued job to running (counting the attempt); False if it is not queued any more."""
    result = conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.state == QUEUED)
        .values(state=RUNNING, attempts=jobs.c.attempts + 1, updated_at=time.time())
    )
    return result.rowcount == 1


def finish_job(conn: Connection, job_id: int, *, error: str | None = None) -> None:
    """Record the outcome of a running job: done, or failed with ``error``."""
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id)
        .values(state=FAILED if error is not None else DONE, error=error, updated_at=time.time())
    )


def requeue_interrupted(conn: Connection, max_attempts: int) -> tuple[list[JobRow], list[JobRow]]:
    """At start-up: jobs left ``running`` by a stopped server.

    Those with fewer than ``max_attempts`` attempts go back to ``queued``; the others are marked
    failed. Returns (requeued, given_up) as they were before the change.
    """
    rows = [_row(r) for r in conn.execute(select(jobs).where(jobs.c.state == RUNNING).order_by(jobs.c.id))]
    requeued = [r for r in rows if r.attempts < max_attempts]
    given_up = [r for r in rows if r.attempts >= max_attempts]
    now = time.time()
    if requeued:
        conn.execute(
            update(jobs).where(jobs.c.id.in_([r.id for r in requeued])).values(state=QUEUED, updated_at=now)
        )
    for r in given_up:
        conn.execute(
            update(jobs)
            .where(jobs.c.id == r.id)
            .values(
                state=FAILED,
                error=f"interrupted by a server stop {r.attempts} times; not retried again",
                updated_at=now,
            )
        )
    return requeued, given_up


def queued_job_ids(conn: Connection) -> list[int]:
    """Ids of all queued jobs, oldest first."""
    return [
        int(i)
        for i in conn.execute(select(jobs.c.id).where(jobs.c.state == QUEUED).order_by(jobs.c.id)).scalars()
    ]
