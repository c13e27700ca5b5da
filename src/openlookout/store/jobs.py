"""Repository functions for the ``jobs`` table (background work that survives a restart)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, func, or_, select, update

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
    owner: str | None
    heartbeat_at: float | None


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
        owner=r.owner,
        heartbeat_at=r.heartbeat_at,
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


def claim_job(conn: Connection, job_id: int, owner: str | None = None) -> bool:
    """Move a queued job to running for ``owner`` (counting the attempt); False if it is not queued."""
    now = time.time()
    result = conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.state == QUEUED)
        .values(state=RUNNING, attempts=jobs.c.attempts + 1, owner=owner, heartbeat_at=now, updated_at=now)
    )
    return result.rowcount == 1


def release_job(conn: Connection, job_id: int, owner: str) -> bool:
    """Put a job ``owner`` runs back in the queue unfinished (its attempt stays counted)."""
    result = conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.state == RUNNING, jobs.c.owner == owner)
        .values(state=QUEUED, owner=None, updated_at=time.time())
    )
    return result.rowcount == 1


def finish_job(conn: Connection, job_id: int, *, error: str | None = None) -> None:
    """Record the outcome of a running job: done, or failed with ``error``."""
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id)
        .values(state=FAILED if error is not None else DONE, error=error, updated_at=time.time())
    )


def heartbeat(conn: Connection, job_ids: Iterable[int], owner: str) -> None:
    """Note that ``owner`` is still running these jobs."""
    ids = list(job_ids)
    if ids:
        conn.execute(
            update(jobs)
            .where(jobs.c.id.in_(ids), jobs.c.state == RUNNING, jobs.c.owner == owner)
            .values(heartbeat_at=time.time())
        )


def requeue_interrupted(
    conn: Connection, max_attempts: int, *, owner: str | None = None, stale_before: float | None = None
) -> tuple[list[JobRow], list[JobRow]]:
    """Jobs left ``running`` by a server that is gone.

    A running job counts as interrupted when it belongs to ``owner`` (this server, in a previous
    life), has no owner, or its heartbeat is older than ``stale_before`` (a server that died).
    Those with fewer than ``max_attempts`` attempts go back to ``queued``; the others are marked
    failed. Returns (requeued, given_up) as they were before the change.
    """
    gone: list[ColumnElement[bool]] = [jobs.c.owner.is_(None)]
    if owner is not None:
        gone.append(jobs.c.owner == owner)
    if stale_before is not None:
        gone += [jobs.c.heartbeat_at.is_(None), jobs.c.heartbeat_at < stale_before]
    query = select(jobs).where(jobs.c.state == RUNNING, or_(*gone)).order_by(jobs.c.id)
    rows = [_row(r) for r in conn.execute(query)]
    requeued = [r for r in rows if r.attempts < max_attempts]
    given_up = [r for r in rows if r.attempts >= max_attempts]
    now = time.time()
    for r in requeued:
        conn.execute(
            update(jobs)
            .where(jobs.c.id == r.id, jobs.c.state == RUNNING)
            .values(state=QUEUED, owner=None, updated_at=now)
        )
    for r in given_up:
        conn.execute(
            update(jobs)
            .where(jobs.c.id == r.id, jobs.c.state == RUNNING)
            .values(
                state=FAILED,
                error=f"interrupted by a server stop {r.attempts} times; not retried again",
                updated_at=now,
            )
        )
    return requeued, given_up


def queued_job_ids(conn: Connection, *, updated_before: float | None = None) -> list[int]:
    """Ids of queued jobs (optionally only those unchanged since ``updated_before``), oldest first."""
    query = select(jobs.c.id).where(jobs.c.state == QUEUED)
    if updated_before is not None:
        query = query.where(jobs.c.updated_at < updated_before)
    return [int(i) for i in conn.execute(query.order_by(jobs.c.id)).scalars()]


def prune_finished(conn: Connection, *, finished_before: float) -> int:
    """Delete done/failed jobs last changed before ``finished_before``; returns how many went."""
    result = conn.execute(
        delete(jobs).where(jobs.c.state.in_([DONE, FAILED]), jobs.c.updated_at < finished_before)
    )
    return int(result.rowcount or 0)


def counts_by_kind_and_state(conn: Connection) -> list[tuple[str, str, int]]:
    """(kind, state, number of jobs) for every kind and state that has jobs (the metrics)."""
    rows = conn.execute(
        select(jobs.c.kind, jobs.c.state, func.count()).group_by(jobs.c.kind, jobs.c.state)
    ).all()
    return [(str(kind), str(state), int(count)) for kind, state, count in rows]
