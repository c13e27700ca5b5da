"""JobRunner: persisted jobs on worker threads, failures recorded, restarts resumed (SQLite + PostgreSQL)."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import update

from openlookout.jobs.runner import JobRunner
from openlookout.store import jobs as job_store
from openlookout.store.db import Database
from openlookout.store.tables import jobs

RUNTIME = object()  # what handlers receive; any object will do here


def test_submitted_jobs_run_with_the_runtime_and_are_recorded_done(db: Database) -> None:
    seen: list[tuple[Any, dict[str, Any]]] = []
    runner = JobRunner(db, 2)
    runner.register("echo", lambda runtime, payload: seen.append((runtime, payload)))
    runner.start(RUNTIME)
    try:
        ids = [runner.submit("echo", {"n": n}) for n in range(5)]
        assert runner.wait_idle(10)
    finally:
        runner.stop()
    assert sorted(p["n"] for _, p in seen) == [0, 1, 2, 3, 4]
    assert all(r is RUNTIME for r, _ in seen)
    for job_id in ids:
        row = runner.job(job_id)
        assert row is not None and row.state == job_store.DONE and row.attempts == 1


def test_a_failing_job_is_recorded_and_the_worker_keeps_going(db: Database) -> None:
    failures: list[tuple[dict[str, Any], str]] = []
    done: list[int] = []

    def explode(_runtime: Any, payload: dict[str, Any]) -> None:
        raise RuntimeError(f"broken input {payload['n']}")

    runner = JobRunner(db, 1)
    runner.register("explode", explode, on_failure=lambda _r, p, m: failures.append((p, m)))
    runner.register("ok", lambda _r, p: done.append(p["n"]))
    runner.start(RUNTIME)
    try:
        bad = runner.submit("explode", {"n": 7})
        good = runner.submit("ok", {"n": 8})
        assert runner.wait_idle(10)
    finally:
        runner.stop()
    bad_row, good_row = runner.job(bad), runner.job(good)
    assert bad_row is not None and bad_row.state == job_store.FAILED
    assert bad_row.error == "RuntimeError: broken input 7"
    assert failures == [({"n": 7}, "RuntimeError: broken input 7")]
    assert good_row is not None and good_row.state == job_store.DONE and done == [8]


def test_a_job_interrupted_by_a_stop_runs_again_at_the_next_start(db: Database) -> None:
    first = JobRunner(db, 1)
    job_id = first.submit("resume-me", {"step": 1})  # never started: stays queued
    with db.begin() as conn:  # as if a worker had claimed it and the process then died
        assert job_store.claim_job(conn, job_id)
    ran: list[dict[str, Any]] = []
    second = JobRunner(db, 1)
    second.register("resume-me", lambda _r, p: ran.append(p))
    second.start(RUNTIME)
    try:
        assert second.wait_idle(10)
    finally:
        second.stop()
    assert ran == [{"step": 1}]
    row = second.job(job_id)
    assert row is not None and row.state == job_store.DONE and row.attempts == 2


def test_a_job_interrupted_too_often_is_failed_and_its_hook_called(db: Database) -> None:
    runner = JobRunner(db, 1, max_attempts=2)
    job_id = runner.submit("fragile", {"dataset": 3})
    with db.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(state=job_store.RUNNING, attempts=2))
    hooks: list[tuple[dict[str, Any], str]] = []
    ran: list[Any] = []
    restarted = JobRunner(db, 1, max_attempts=2)
    restarted.register(
        "fragile", lambda _r, p: ran.append(p), on_failure=lambda _r, p, m: hooks.append((p, m))
    )
    restarted.start(RUNTIME)
    try:
        assert restarted.wait_idle(10)
    finally:
        restarted.stop()
    row = restarted.job(job_id)
    assert row is not None and row.state == job_store.FAILED and "interrupted" in (row.error or "")
    assert ran == []
    assert len(hooks) == 1 and hooks[0][0] == {"dataset": 3} and "interrupted" in hooks[0][1]


def test_jobs_of_an_unregistered_kind_wait_for_their_handler(db: Database) -> None:
    runner = JobRunner(db, 1)
    runner.start(RUNTIME)
    ran = threading.Event()
    try:
        job_id = runner.submit("late", {})
        assert runner.wait_idle(10)
        row = runner.job(job_id)
        assert row is not None and row.state == job_store.QUEUED
        runner.register("late", lambda _r, _p: ran.set())
        assert runner.wait_idle(10)
    finally:
        runner.stop()
    assert ran.is_set()
    row = runner.job(job_id)
    assert row is not None and row.state == job_store.DONE


def test_submit_inside_a_transaction_runs_after_commit_and_never_after_rollback(db: Database) -> None:
    ran: list[str] = []
    runner = JobRunner(db, 1)
    runner.register("tx", lambda _r, p: ran.append(p["name"]))
    runner.start(RUNTIME)
    try:
        with db.begin() as conn:
            committed = runner.submit("tx", {"name": "kept"}, conn=conn)
        try:
            with db.begin() as conn:
                runner.submit("tx", {"name": "dropped"}, conn=conn)
                raise KeyError("abort")
        except KeyError:
            pass
        # the rolled-back job is looked for during a grace period; wait for the committed one only
        for _ in range(200):
            row = runner.job(committed)
            if row is not None and row.state == job_store.DONE:
                break
            threading.Event().wait(0.05)
    finally:
        runner.stop(timeout=5)
    assert ran == ["kept"]


def test_wait_idle_times_out_while_a_job_is_still_running(db: Database) -> None:
    release = threading.Event()
    runner = JobRunner(db, 1)
    runner.register("slow", lambda _r, _p: release.wait(10) and None)
    runner.start(RUNTIME)
    try:
        runner.submit("slow", {})
        assert runner.wait_idle(0.2) is False
        release.set()
        assert runner.wait_idle(10) is True
    finally:
        runner.stop()


def _running_elsewhere(db: Database, job_id: int, owner: str, heartbeat_at: float) -> None:
    with db.begin() as conn:
        assert job_store.claim_job(conn, job_id, owner)
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(heartbeat_at=heartbeat_at))


def test_start_leaves_jobs_of_live_servers_alone_but_takes_over_stale_ones(db: Database) -> None:
    import time

    submitter = JobRunner(db, 1)
    live = submitter.submit("shared", {"which": "live"})
    dead = submitter.submit("shared", {"which": "dead"})
    _running_elsewhere(db, live, "other-live-node", time.time())
    _running_elsewhere(db, dead, "other-dead-node", time.time() - 3600)
    ran: list[str] = []
    runner = JobRunner(db, 1, node_id="me", stale_after=60)
    runner.register("shared", lambda _r, p: ran.append(p["which"]))
    runner.start(RUNTIME)
    try:
        assert runner.wait_idle(10)
    finally:
        runner.stop()
    assert ran == ["dead"]
    live_row, dead_row = runner.job(live), runner.job(dead)
    assert (
        live_row is not None and live_row.state == job_store.RUNNING and live_row.owner == "other-live-node"
    )
    assert dead_row is not None and dead_row.state == job_store.DONE and dead_row.owner == "me"


def test_a_running_server_takes_over_the_job_of_a_server_that_stops_beating(db: Database) -> None:
    import time

    ran = threading.Event()
    runner = JobRunner(db, 1, node_id="survivor", stale_after=0.4)
    runner.register("orphan", lambda _r, _p: ran.set())
    runner.start(RUNTIME)
    try:
        other = JobRunner(db, 1)
        job_id = other.submit("orphan", {})  # queued in a runner that never starts
        _running_elsewhere(db, job_id, "crashed-node", time.time())
        assert ran.wait(10), "the stale job was never taken over"
        assert runner.wait_idle(10)
    finally:
        runner.stop()
    row = runner.job(job_id)
    assert row is not None and row.state == job_store.DONE and row.owner == "survivor"


def test_long_jobs_keep_their_heartbeat_and_are_not_taken_over(db: Database) -> None:
    release = threading.Event()
    runs: list[int] = []

    def slow(_runtime: Any, _payload: dict[str, Any]) -> None:
        runs.append(1)
        release.wait(10)

    first = JobRunner(db, 1, node_id="a", stale_after=0.3)
    second = JobRunner(db, 1, node_id="b", stale_after=0.3)
    for runner in (first, second):
        runner.register("slow", slow)
    first.start(RUNTIME)
    try:
        job_id = first.submit("slow", {})
        threading.Event().wait(0.3)
        second.start(RUNTIME)
        threading.Event().wait(1.2)  # several sweeps of the second server
        release.set()
        assert first.wait_idle(10)
    finally:
        first.stop()
        second.stop()
    assert runs == [1]
    row = first.job(job_id)
    assert row is not None and row.state == job_store.DONE and row.owner == "a" and row.attempts == 1


def test_old_finished_jobs_are_pruned_at_start(db: Database) -> None:
    import time

    runner = JobRunner(db, 1)
    old_done, old_failed, recent_done, queued = (runner.submit("x", {}) for _ in range(4))
    with db.begin() as conn:
        for job_id, error in ((old_done, None), (old_failed, "boom"), (recent_done, None)):
            assert job_store.claim_job(conn, job_id, "n")
            job_store.finish_job(conn, job_id, error=error)
        conn.execute(
            update(jobs)
            .where(jobs.c.id.in_([old_done, old_failed, queued]))
            .values(updated_at=time.time() - 90)
        )
    restarted = JobRunner(db, 1, keep_finished_s=60)
    restarted.start(RUNTIME)
    restarted.stop()
    assert restarted.job(old_done) is None and restarted.job(old_failed) is None
    assert restarted.job(recent_done) is not None
    row = restarted.job(queued)
    assert row is not None and row.state == job_store.QUEUED  # unfinished work is never pruned


def test_periodic_tasks_run_while_started_and_survive_their_failures(db: Database) -> None:
    import time

    calls: list[Any] = []

    def task(runtime: Any) -> None:
        calls.append(runtime)
        if len(calls) == 1:
            raise RuntimeError("the first round fails; the next ones still run")

    runner = JobRunner(db, workers=1)
    runner.every("test-task", 0.05, task)
    runner.start("the runtime")
    try:
        deadline = time.monotonic() + 5
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        runner.stop()
    assert len(calls) >= 3 and set(calls) == {"the runtime"}
    stopped_at = len(calls)
    time.sleep(0.2)
    assert len(calls) == stopped_at


def test_a_failure_hook_that_cannot_write_is_retried_until_it_can(db: Database) -> None:
    import time

    attempts: list[str] = []

    def explode(_runtime: Any, _payload: dict[str, Any]) -> None:
        raise OSError(28, "No space left on device")

    def hook(_runtime: Any, payload: dict[str, Any], message: str) -> None:
        attempts.append(message)
        if len(attempts) < 3:
            raise RuntimeError("database or disk is full")

    runner = JobRunner(db, workers=1)
    runner.register("fills.disk", explode, on_failure=hook)
    runner.start(None)
    try:
        job_id = runner.submit("fills.disk", {})
        deadline = time.monotonic() + 15
        while len(attempts) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(attempts) == 3 and "No space left on device" in attempts[0]
        assert runner.pending_retries == 0
        row = runner.job(job_id)
        assert row is not None and row.state == job_store.FAILED
    finally:
        runner.stop()
