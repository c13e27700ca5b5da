"""``JobRunner``: background jobs persisted in the ``jobs`` table and run by in-process worker threads.

Life of a job: ``submit`` stores a ``queued`` row and hands its id to the workers; a worker claims it
(``running``, attempt counted, owner = this server's node id), calls the handler registered for its
kind with ``(runtime, payload)`` and records ``done`` or ``failed`` (with the error text). A failing
handler is logged and recorded; it never stops the worker.

Restarts: jobs are re-run, so handlers must be re-runnable (idempotent, or able to start over).

* At start-up, jobs still ``running`` under this server's node id (a previous life of it), with no
  owner, or whose owner stopped sending heartbeats (``stale_after`` seconds) go back to the queue.
* While running, a maintenance thread sends heartbeats for the jobs it runs and picks up the work of
  servers that died (stale running jobs, queued jobs nobody took), so several servers can share one
  PostgreSQL database; a claim is an atomic state change, so a job runs on one server at a time.
* A job interrupted ``max_attempts`` times is marked failed instead, and the kind's ``on_failure``
  hook (if registered) is called so the handler's resource can be put into a final state.
* Queued jobs whose kind has no handler yet wait until ``register`` is called for that kind.
* Finished (done or failed) jobs are kept ``keep_finished_s`` (30 days) and pruned at start-up.
* ``every(name, interval_s, fn)`` runs ``fn(runtime)`` on a thread of its own every ``interval_s``
  seconds while the runner is started (housekeeping such as the blob collector); a failure is
  logged and the next round runs as planned.
* A handler that raises ``JobInterrupted`` (the server is stopping while its work goes on
  elsewhere, such as a training on a Ray cluster) leaves no outcome: the job goes back to the
  queue at once (its attempt counted) and the next server to take it carries on.
* Recording a failure must not be lost to a full disk: when recording a job's outcome or its
  ``on_failure`` hook raises (the database cannot be written), the runner tries again after 1, 2,
  4 ... (at most ``retry_max_s``) seconds until it succeeds or the runner stops, so a resource
  never stays in progress once the failure can be written.

Use ``submit`` after your own transaction commits, or pass that transaction as ``conn=`` so the job
row commits (or rolls back) with your changes; never hold a write transaction open on SQLite while
calling ``submit`` without ``conn``, as the insert would wait on your own lock.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from openlookout.store import jobs as job_store
from openlookout.store.jobs import JobRow

if TYPE_CHECKING:
    from openlookout.store.db import Database

log = logging.getLogger(__name__)

# Handlers receive the object the runner was started with (the server's ``Runtime``) first.
JobHandler = Callable[[Any, dict[str, Any]], None]
FailureHook = Callable[[Any, dict[str, Any], str], None]

# How long a worker keeps looking for a job row submitted inside a caller's still-open transaction.
_UNCOMMITTED_GRACE_S = 120.0
_RETRY_DELAY_S = 0.05


class JobInterrupted(Exception):
    """Raised by a handler whose work is not finished when the server stops (see the module doc)."""


@dataclass
class _Registration:
    handler: JobHandler
    on_failure: FailureHook | None


@dataclass
class _Retry:
    """A failure record (a job's outcome or its failure hook) to try writing again."""

    what: str
    call: Callable[[], None]
    due: float
    delay: float


@dataclass
class _Work:
    job_id: int
    first_seen: float


class JobRunner:
    """N worker threads running persisted jobs; see the module docstring for the guarantees."""

    def __init__(
        self,
        db: Database,
        workers: int = 2,
        *,
        node_id: str | None = None,
        max_attempts: int = 3,
        stale_after: float = 60.0,
        keep_finished_s: float = 30 * 24 * 3600,
    ) -> None:
        self.db = db
        self.workers = max(1, int(workers))
        self.node_id = node_id or uuid.uuid4().hex
        self.max_attempts = max_attempts
        self.stale_after = stale_after
        self.keep_finished_s = keep_finished_s
        self._runtime: Any = None
        self._registry: dict[str, _Registration] = {}
        self._queue: queue.Queue[_Work | Callable[[], None] | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._cond = threading.Condition()
        self._pending = 0  # items handed to the workers and not finished
        self._known: set[int] = set()  # job ids queued here or running here
        self._running: set[int] = set()
        self._parked: dict[str, set[int]] = defaultdict(set)  # jobs whose kind is not registered
        self._given_up: dict[str, list[JobRow]] = defaultdict(list)
        self._started = False
        self._stopping = False
        self._stop_event = threading.Event()
        self._periodic: list[tuple[str, float, Callable[[Any], None]]] = []
        self._retries: list[_Retry] = []
        self.retry_max_s = 30.0

    # -- registration and submission ---------------------------------------------------------------

    def register(self, kind: str, fn: JobHandler, *, on_failure: FailureHook | None = None) -> None:
        """Run jobs of ``kind`` with ``fn``; ``on_failure(runtime, payload, message)`` on final failure.

        Registering the same kind again replaces the handler (so modules may register lazily).
        """
        with self._cond:
            self._registry[kind] = _Registration(fn, on_failure)
            parked = sorted(self._parked.pop(kind, set()))
            given_up = self._given_up.pop(kind, [])
        for job_id in parked:
            self._enqueue(job_id)
        for row in given_up:
            self._enqueue_call(self._failure_call(row.kind, row.payload, row.error or "interrupted"))

    def every(self, name: str, interval_s: float, fn: Callable[[Any], None]) -> None:
        """Run ``fn(runtime)`` every ``interval_s`` seconds while started (first after one interval)."""
        with self._cond:
            self._periodic.append((name, interval_s, fn))
            started = self._started
        if started:
            self._spawn(functools.partial(self._repeat, name, interval_s, fn), f"openlookout-{name}")

    def is_registered(self, kind: str) -> bool:
        with self._cond:
            return kind in self._registry

    def submit(self, kind: str, payload: dict[str, Any], *, conn: Connection | None = None) -> int:
        """Persist a queued job and schedule it; returns the job id.

        With ``conn`` the row is written in the caller's transaction (it runs once that commits).
        """
        if conn is not None:
            job_id = job_store.insert_job(conn, kind, payload)
        else:
            with self.db.begin() as own:
                job_id = job_store.insert_job(own, kind, payload)
        self._enqueue(job_id)
        return job_id

    def job(self, job_id: int) -> JobRow | None:
        """The persisted state of a job (None if unknown)."""
        with self.db.begin() as conn:
            return job_store.get_job(conn, job_id)

    # -- life cycle --------------------------------------------------------------------------------

    def start(self, runtime: Any = None) -> None:
        """Start the workers; ``runtime`` is what handlers receive. Resumes interrupted jobs."""
        with self._cond:
            if self._started:
                return
            self._runtime = runtime
            self._started = True
            self._stopping = False
        self._stop_event.clear()
        with self.db.begin() as conn:
            job_store.prune_finished(conn, finished_before=time.time() - self.keep_finished_s)
        self._recover(owner=self.node_id)
        with self.db.begin() as conn:
            queued = job_store.queued_job_ids(conn)
        for job_id in queued:
            self._enqueue(job_id)
        for index in range(self.workers):
            self._spawn(self._work_loop, f"openlookout-job-{index}")
        self._spawn(self._maintenance_loop, "openlookout-job-maintenance")
        self._spawn(self._retry_loop, "openlookout-job-retries")
        with self._cond:
            periodic = list(self._periodic)
        for name, interval_s, fn in periodic:
            self._spawn(functools.partial(self._repeat, name, interval_s, fn), f"openlookout-{name}")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking work and wait up to ``timeout`` s for running jobs (unfinished ones resume later)."""
        with self._cond:
            if not self._started:
                return
            self._stopping = True
        self._stop_event.set()
        for _ in range(self.workers):
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []
        with self._cond:
            self._started = False
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Block until no scheduled job is left (True) or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    # -- internals ---------------------------------------------------------------------------------

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _enqueue(self, job_id: int, first_seen: float | None = None) -> None:
        with self._cond:
            self._pending += 1
            self._known.add(job_id)
        self._queue.put(_Work(job_id, time.monotonic() if first_seen is None else first_seen))

    def _enqueue_call(self, call: Callable[[], None]) -> None:
        with self._cond:
            self._pending += 1
        self._queue.put(call)

    def _done_one(self, job_id: int | None = None) -> None:
        with self._cond:
            self._pending -= 1
            if job_id is not None:
                self._known.discard(job_id)
            self._cond.notify_all()

    def _recover(self, owner: str | None) -> None:
        """Requeue interrupted jobs (this node's from a previous life, or stale ones of dead servers)."""
        stale_before = time.time() - self.stale_after
        with self.db.begin() as conn:
            requeued, given_up = job_store.requeue_interrupted(
                conn, self.max_attempts, owner=owner, stale_before=stale_before
            )
        for row in requeued:
            log.warning("resuming job %s (%s) interrupted by a server stop", row.id, row.kind)
            self._enqueue(row.id)
        for row in given_up:
            log.error("job %s (%s) was interrupted %s times; marked failed", row.id, row.kind, row.attempts)
            with self._cond:
                registered = row.kind in self._registry
                if not registered:
                    self._given_up[row.kind].append(row)
            if registered:
                message = f"interrupted by a server stop {row.attempts} times"
                self._enqueue_call(self._failure_call(row.kind, row.payload, message))

    def _maintenance_loop(self) -> None:
        interval = max(0.05, self.stale_after / 4)
        while not self._stop_event.wait(interval):
            try:
                with self._cond:
                    running = list(self._running)
                with self.db.begin() as conn:
                    job_store.heartbeat(conn, running, self.node_id)
                self._recover(owner=None)
                with self.db.begin() as conn:
                    orphans = job_store.queued_job_ids(conn, updated_before=time.time() - self.stale_after)
                with self._cond:
                    parked = set().union(*self._parked.values()) if self._parked else set()
                    fresh = [i for i in orphans if i not in self._known and i not in parked]
                for job_id in fresh:
                    self._enqueue(job_id)
            except Exception:
                log.exception("job maintenance error")

    def _repeat(self, name: str, interval_s: float, fn: Callable[[Any], None]) -> None:
        while not self._stop_event.wait(interval_s):
            try:
                fn(self._runtime)
            except Exception:
                log.exception("periodic task %s failed", name)

    def _work_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            job_id = item.job_id if isinstance(item, _Work) else None
            try:
                if isinstance(item, _Work):
                    if not self._stopping:  # once stopping, queued jobs wait for the next start
                        self._run_job(item)
                else:
                    item()
            except Exception:  # a worker never dies
                log.exception("job worker error")
            finally:
                self._done_one(job_id)

    def _run_job(self, work: _Work) -> None:
        with self.db.begin() as conn:
            row = job_store.get_job(conn, work.job_id)
        if row is None:
            # Submitted inside a transaction that has not committed yet (or rolled back).
            if time.monotonic() - work.first_seen < _UNCOMMITTED_GRACE_S and not self._stopping:
                time.sleep(_RETRY_DELAY_S)
                self._enqueue(work.job_id, work.first_seen)
            return
        if row.state != job_store.QUEUED:
            return
        with self._cond:
            registration = self._registry.get(row.kind)
            if registration is None:
                self._parked[row.kind].add(row.id)
                return
        with self.db.begin() as conn:
            if not job_store.claim_job(conn, row.id, self.node_id):
                return
        with self._cond:
            self._running.add(row.id)
        try:
            registration.handler(self._runtime, dict(row.payload))
        except JobInterrupted as exc:
            log.warning("job %s (%s) handed back to the queue: %s", row.id, row.kind, exc)
            self._until_written(f"the release of job {row.id}", lambda: self._release(row.id))
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            log.exception("job %s (%s) failed", row.id, row.kind)
            self._record(row.id, message)
            self._call_failure_hook(registration, row.payload, message)
        else:
            self._record(row.id, None)
        finally:
            with self._cond:
                self._running.discard(row.id)

    def _release(self, job_id: int) -> None:
        with self.db.begin() as conn:
            job_store.release_job(conn, job_id, self.node_id)

    def _record(self, job_id: int, error: str | None) -> None:
        def record() -> None:
            with self.db.begin() as conn:
                job_store.finish_job(conn, job_id, error=error)

        self._until_written(f"the outcome of job {job_id}", record)

    def _call_failure_hook(self, registration: _Registration, payload: dict[str, Any], message: str) -> None:
        hook = registration.on_failure
        if hook is None:
            return
        self._until_written("a failure hook", lambda: hook(self._runtime, dict(payload), message))

    def _until_written(self, what: str, call: Callable[[], None]) -> None:
        """Run ``call``; if it raises, keep trying on the retry thread (see the module doc)."""
        try:
            call()
        except Exception:
            log.exception("could not record %s; trying again shortly", what)
            with self._cond:
                self._retries.append(_Retry(what, call, time.monotonic() + 1.0, 1.0))

    def _retry_loop(self) -> None:
        while not self._stop_event.wait(0.2):
            now = time.monotonic()
            with self._cond:
                due = [r for r in self._retries if r.due <= now]
                self._retries = [r for r in self._retries if r.due > now]
            for retry in due:
                try:
                    retry.call()
                    log.warning("recorded %s after retrying", retry.what)
                except Exception as exc:
                    retry.delay = min(self.retry_max_s, retry.delay * 2)
                    retry.due = time.monotonic() + retry.delay
                    log.warning("still cannot record %s (%s); next in %.0f s", retry.what, exc, retry.delay)
                    with self._cond:
                        self._retries.append(retry)

    @property
    def pending_retries(self) -> int:
        """Failure records still waiting to be written."""
        with self._cond:
            return len(self._retries)

    def _failure_call(self, kind: str, payload: dict[str, Any], message: str) -> Callable[[], None]:
        def call() -> None:
            with self._cond:
                registration = self._registry.get(kind)
            if registration is not None:
                self._call_failure_hook(registration, payload, message)

        return call
