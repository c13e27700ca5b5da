"""The server's hosted models: one ``InferencePool`` per model id, started and stopped on request.

``unit_limit`` caps the inference units running across every pool of the server: a pool scales
up only while the pools together run fewer (StartModel checks the models' minimums against it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from openlookout.hosting.pool import HostingError, InferencePool


class HostingManager:
    """Owns every pool of one server process; thread-safe."""

    def __init__(
        self, pool_factory: Callable[..., InferencePool] = InferencePool, *, unit_limit: int | None = None
    ) -> None:
        self.unit_limit = unit_limit
        self._pools: dict[int, InferencePool] = {}
        self._lock = threading.Lock()
        self._starting: dict[int, threading.Lock] = {}
        self._factory = pool_factory
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether ``shutdown`` was called (the server is stopping)."""
        return self._closed

    def running_units(self) -> int:
        """Inference units running in every pool of this server."""
        with self._lock:
            pools = list(self._pools.values())
        return sum(pool.units for pool in pools)

    def room_for_a_unit(self) -> bool:
        """Whether one more unit stays within ``unit_limit``."""
        return self.unit_limit is None or self.running_units() < self.unit_limit

    def get(self, model_id: int) -> InferencePool | None:
        with self._lock:
            return self._pools.get(model_id)

    def pools(self) -> dict[int, InferencePool]:
        """The running pools by model id (a snapshot)."""
        with self._lock:
            return dict(self._pools)

    def ensure(
        self,
        model_id: int,
        model_path: str,
        *,
        min_units: int,
        max_units: int | None,
        colors: dict[str, str],
        threads_per_unit: int = 1,
        max_queue_s: float = 3.0,
    ) -> InferencePool:
        """The model's pool, starting it if this server does not run it yet (one start at a time)."""
        with self._lock:
            if self._closed:
                raise HostingError("the server is shutting down")
            existing = self._pools.get(model_id)
            if existing is not None and existing.healthy():
                return existing
            gate = self._starting.setdefault(model_id, threading.Lock())
        with gate:
            with self._lock:
                existing = self._pools.get(model_id)
                if existing is not None and existing.healthy():
                    return existing
            pool = self._factory(
                model_path,
                min_units=min_units,
                max_units=max_units,
                colors=colors,
                threads_per_unit=threads_per_unit,
                max_queue_s=max_queue_s,
                may_add_unit=self.room_for_a_unit,
            )
            pool.start()
            with self._lock:
                old = self._pools.get(model_id)
                self._pools[model_id] = pool
                closed = self._closed
            if old is not None:
                old.stop()
            if closed:
                pool.stop()
                raise HostingError("the server is shutting down")
            return pool

    def stop(self, model_id: int) -> None:
        with self._lock:
            pool = self._pools.pop(model_id, None)
        if pool is not None:
            pool.stop()

    def shutdown(self) -> None:
        """Stop every pool (server stop)."""
        with self._lock:
            self._closed = True
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.stop()
