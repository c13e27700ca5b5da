"""``LocalEngine``: everything on this server (the default; Ray is never imported here).

Training runs in the calling job worker's thread on the runtime's own blob store and S3 client.
Each hosted model gets an ``InferencePool`` of child processes (``hosting.HostingManager``), its
units capped by the server-wide limit; a model file is copied from the blob store to local disk
by ``model_file`` before its units load it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from openlookout.engine.base import (
    Deployment,
    EngineStopped,
    HostedUnits,
    Progress,
    Storage,
    TrainingWork,
)
from openlookout.hosting.manager import HostingManager
from openlookout.hosting.pool import HostingError


class LocalEngine:
    """Trainings in this process, inference units as its child processes."""

    name = "local"

    def __init__(
        self,
        storage: Storage,
        *,
        model_file: Callable[[Deployment], Path],
        unit_limit: int,
        max_queue_s: float,
        manager: HostingManager | None = None,
    ) -> None:
        self.storage = storage
        self._model_file = model_file
        self._unit_limit = unit_limit
        self._max_queue_s = max_queue_s
        self.manager = manager or HostingManager(unit_limit=unit_limit)

    @property
    def closed(self) -> bool:
        return self.manager.closed

    def unit_limit(self) -> int | None:
        return self._unit_limit

    # -- training ---------------------------------------------------------------------------

    def run_training(self, key: str, work: TrainingWork, progress: Progress) -> dict[str, Any]:
        if self.closed:
            raise EngineStopped("the server is stopping")
        return work(self.storage, progress, 0)

    def cancel_training(self, key: str) -> None:
        """Nothing to do: a local training lives in a job worker thread and ends with the server."""

    # -- hosting ----------------------------------------------------------------------------

    def deploy(self, deployment: Deployment) -> None:
        path = self._model_file(deployment)
        self.manager.ensure(
            deployment.model_id,
            str(path),
            min_units=deployment.min_units,
            max_units=deployment.max_units,
            colors=dict(deployment.colors),
            threads_per_unit=deployment.threads_per_unit or unit_threads(deployment.max_units),
            max_queue_s=self._max_queue_s,
        )

    def is_deployed(self, model_id: int) -> bool:
        pool = self.manager.get(model_id)
        return pool is not None and pool.healthy()

    def undeploy(self, model_id: int) -> None:
        self.manager.stop(model_id)

    def submit_detect(
        self, model_id: int, data: bytes, width: int, height: int, *, heatmap: bool = False
    ) -> Future[dict[str, Any]]:
        pool = self.manager.get(model_id)
        if pool is None or not pool.healthy():
            raise HostingError("the model's inference units are not running on this server")
        return pool.submit(data, width, height, heatmap=heatmap)

    def hosted(self) -> dict[int, HostedUnits]:
        return {
            model_id: HostedUnits(units=pool.units, waiting=pool.waiting)
            for model_id, pool in self.manager.pools().items()
        }

    def shutdown(self) -> None:
        self.manager.shutdown()


def unit_threads(max_units: int) -> int:
    """onnxruntime threads per unit when the setting leaves it open: the cores shared by the units."""
    return max(1, (os.cpu_count() or 1) // max(1, max_units))
