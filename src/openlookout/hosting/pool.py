"""A hosted model's pool of inference units, with a request queue and autoscaling.

Each unit is a spawned worker process (``openlookout.hosting.worker``) plus a dispatcher thread in
the server that takes requests from the pool's shared queue, sends them to its process and hands
the answer back. Scaling (checked every ``tick_s``): while requests wait in the queue for longer
than ``scale_up_after_s`` and fewer than ``max_units`` run, one unit is added; after
``scale_down_after_s`` without waiting requests, one unit above ``min_units`` is retired (and a
unit is added only while ``may_add_unit()`` allows it: the server-wide cap on units). A unit
whose process dies is replaced (its request is retried once on another unit).

Load shedding: each request's service time feeds a moving average; a new request is refused with
``PoolBusy`` (the API's ThrottlingException, HTTP 429) when the requests already waiting would
take the running units more than ``max_queue_s`` seconds to serve, instead of queueing for tens
of seconds. ``submit`` returns the request at once, its ``future`` completes with the result, so
a caller may wait without holding a thread; ``detect`` waits for it.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


class HostingError(Exception):
    """The pool cannot start, or cannot answer a request; the message says why."""


class PoolBusy(HostingError):
    """Too many requests are waiting; the caller should retry later."""


@dataclass
class _Request:
    data: bytes
    width: int
    height: int
    heatmap: bool
    # Completes with the result dict, or a HostingError.
    future: Future[dict[str, Any]] = field(default_factory=Future)
    attempts: int = 0
    enqueued_at: float = field(default_factory=time.monotonic)

    def fail(self, reason: str) -> None:
        if not self.future.done():
            self.future.set_exception(HostingError(reason))

    def answer(self, result: dict[str, Any]) -> None:
        if not self.future.done():
            self.future.set_result(result)


class _Unit:
    """One worker process and its dispatcher thread."""

    def __init__(self, pool: InferencePool, number: int) -> None:
        self.pool = pool
        self.number = number
        self.retiring = False
        self.busy = False
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        from openlookout.hosting.worker import serve

        self.process = context.Process(
            target=serve,
            args=(child, pool.model_path, pool.threads_per_unit, pool.colors),
            name=f"openlookout-unit-{number}",
            daemon=True,
        )
        self.process.start()
        child.close()
        self.thread = threading.Thread(target=self._dispatch, name=f"openlookout-unit-{number}", daemon=True)

    def wait_ready(self, timeout: float) -> None:
        if not self.conn.poll(timeout):
            self.kill()
            raise HostingError(f"the inference unit did not start within {timeout:.0f} s")
        try:
            kind, info = self.conn.recv()
        except (EOFError, OSError):
            self.kill()
            raise HostingError("the inference unit stopped while loading the model") from None
        if kind != "ready":
            self.kill()
            raise HostingError(f"the inference unit could not load the model: {info}")
        self.thread.start()

    def _dispatch(self) -> None:
        requests = self.pool._requests
        while not self.retiring and not self.pool._stopping:
            try:
                request = requests.get(timeout=0.2)
            except queue.Empty:
                continue
            if request.future.cancelled():  # its caller stopped waiting
                continue
            self.busy = True
            started = time.monotonic()
            try:
                self._answer(request)
            finally:
                self.busy = False
                self.pool._last_activity = time.monotonic()
                if request.future.done() and request.future.exception() is None:
                    self.pool._observe(self.pool._last_activity - started)
            if not self.process.is_alive():
                break
        self.shutdown()

    def _answer(self, request: _Request) -> None:
        request.attempts += 1
        try:
            self.conn.send((request.data, request.width, request.height, request.heatmap))
            kind, payload = self.conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            log.warning("inference unit %s died while answering a request", self.number)
            self.retiring = True  # take no more requests; the autoscaler starts a replacement
            if request.attempts < 2 and not self.pool._stopping:
                self.pool._requests.put(request)
            else:
                request.fail("the inference unit stopped while answering")
            return
        if kind == "ok":
            request.answer(payload)
        else:
            request.fail(str(payload))

    def shutdown(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self.conn.send(None)
        self.process.join(timeout=2)
        self.kill()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=2)
        with contextlib.suppress(OSError):
            self.conn.close()


class InferencePool:
    """Between ``min_units`` and ``max_units`` units serving one ONNX model file."""

    def __init__(
        self,
        model_path: str,
        *,
        min_units: int,
        max_units: int | None = None,
        colors: dict[str, str] | None = None,
        threads_per_unit: int = 1,
        start_timeout_s: float = 120.0,
        max_waiting: int = 256,
        max_queue_s: float = 3.0,
        scale_up_after_s: float = 0.5,
        scale_down_after_s: float = 30.0,
        tick_s: float = 0.25,
        may_add_unit: Callable[[], bool] | None = None,
    ) -> None:
        if min_units < 1:
            raise ValueError("a pool needs at least one unit")
        self.model_path = model_path
        self.min_units = min_units
        self.max_units = max(min_units, max_units or min_units)
        self.colors = dict(colors or {})
        self.threads_per_unit = threads_per_unit
        self.start_timeout_s = start_timeout_s
        self.max_waiting = max_waiting
        self.max_queue_s = max_queue_s
        self.may_add_unit = may_add_unit
        # Moving average of one request's service time on a unit (None until the first answer).
        self.service_s: float | None = None
        self.scale_up_after_s = scale_up_after_s
        self.scale_down_after_s = scale_down_after_s
        self.tick_s = tick_s
        self._requests: queue.Queue[_Request] = queue.Queue()
        self._units: list[_Unit] = []
        self._lock = threading.Lock()
        self._numbers = 0
        self._stopping = False
        self._last_activity = time.monotonic()
        self._scaler: threading.Thread | None = None
        self._adding = False

    # -- life cycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start ``min_units`` units and the autoscaler; HostingError if the model cannot be served."""
        try:
            for _ in range(self.min_units):
                self._add_unit()
        except HostingError:
            self.stop()
            raise
        self._scaler = threading.Thread(target=self._scale_loop, name="openlookout-autoscaler", daemon=True)
        self._scaler.start()

    def stop(self) -> None:
        """Stop every unit; waiting requests fail."""
        self._stopping = True
        with self._lock:
            units, self._units = list(self._units), []
        if self._scaler is not None and self._scaler is not threading.current_thread():
            self._scaler.join(timeout=5)
        with self._lock:
            units += self._units
            self._units = []
        for unit in units:
            unit.retiring = True
        for unit in units:
            if unit.thread.is_alive():
                unit.thread.join(timeout=5)
            unit.kill()
        while True:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                break
            request.fail("the model was stopped")

    @property
    def units(self) -> int:
        """Units in service (started and alive)."""
        with self._lock:
            return sum(1 for u in self._units if u.process.is_alive() and not u.retiring)

    @property
    def waiting(self) -> int:
        return self._requests.qsize()

    def healthy(self) -> bool:
        return not self._stopping and self.units > 0

    # -- requests -------------------------------------------------------------------------------

    def detect(
        self, data: bytes, width: int, height: int, *, heatmap: bool = False, timeout_s: float = 60.0
    ) -> dict[str, Any]:
        """The unit's result dict for one image (PoolBusy / HostingError on trouble)."""
        future = self.submit(data, width, height, heatmap=heatmap)
        try:
            return future.result(timeout_s)
        except FutureTimeout:
            raise HostingError(f"no inference unit answered within {timeout_s:.0f} s") from None

    def submit(
        self, data: bytes, width: int, height: int, *, heatmap: bool = False
    ) -> Future[dict[str, Any]]:
        """Queue one image; its future gives the result dict (or raises HostingError).

        PoolBusy at once when the queue already holds more work than ``max_queue_s`` seconds.
        """
        if self._stopping:
            raise HostingError("the model is not running")
        waiting = self._requests.qsize()
        if waiting >= self.max_waiting:
            raise PoolBusy(f"{self.max_waiting} requests are already waiting for this model")
        expected = self.expected_wait(waiting)
        if expected > self.max_queue_s:
            raise PoolBusy(
                f"{waiting} requests are waiting, about {expected:.1f} s of work for its "
                f"{self.units} inference units"
            )
        request = _Request(data, width, height, heatmap)
        self._requests.put(request)
        return request.future

    def expected_wait(self, waiting: int) -> float:
        """Seconds a request arriving behind ``waiting`` others would wait (0 until measured)."""
        if self.service_s is None:
            return 0.0
        return (waiting + 1) * self.service_s / max(1, self.units)

    def _observe(self, seconds: float) -> None:
        previous = self.service_s
        self.service_s = seconds if previous is None else 0.8 * previous + 0.2 * seconds

    # -- scaling --------------------------------------------------------------------------------

    def _add_unit(self) -> None:
        with self._lock:
            self._numbers += 1
            number = self._numbers
        unit = _Unit(self, number)
        unit.wait_ready(self.start_timeout_s)
        with self._lock:
            if self._stopping:
                unit.retiring = True
            else:
                self._units.append(unit)
        if unit.retiring:
            unit.kill()

    def _scale_loop(self) -> None:
        backlog_since: float | None = None
        while not self._stopping:
            time.sleep(self.tick_s)
            with self._lock:
                self._units = [u for u in self._units if u.process.is_alive() or u.thread.is_alive()]
                live = [u for u in self._units if u.process.is_alive() and not u.retiring]
            now = time.monotonic()
            if self._stopping:
                return
            try:
                if len(live) < self.min_units:
                    log.warning("replacing a stopped inference unit")
                    self._add_unit()
                    continue
                if self._requests.qsize() > 0:
                    backlog_since = backlog_since or now
                    grow = now - backlog_since >= self.scale_up_after_s and len(live) < self.max_units
                    if grow and (self.may_add_unit is None or self.may_add_unit()):
                        self._add_unit()
                        backlog_since = None
                    continue
                backlog_since = None
                idle_for = now - self._last_activity
                if (
                    len(live) > self.min_units
                    and idle_for >= self.scale_down_after_s
                    and not any(u.busy for u in live)
                ):
                    live[-1].retiring = True
                    self._last_activity = now
            except HostingError as exc:
                log.warning("could not add an inference unit: %s", exc)
