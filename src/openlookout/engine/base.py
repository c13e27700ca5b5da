"""The engine interface and the values that cross it (see the package docstring).

Errors: a model's units refuse or fail a request with ``hosting.pool.PoolBusy`` (too much work
waiting: ThrottlingException) or ``hosting.pool.HostingError`` (no answer, cannot start); both
engines raise those, so the service answers the same either way. ``EngineStopped`` means the
server is stopping while it waited for work running elsewhere: the work is not lost and the job
resumes at the next start. ``TrainingLost`` means the training's worker died or failed outside the
training code.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from openlookout.blobs import open_blob_store
from openlookout.blobs.base import BlobStore
from openlookout.sources.s3 import make_s3_client

Progress = Callable[[str], None]


class EngineStopped(Exception):
    """The engine is shutting down; work it was waiting for carries on (or resumes later)."""


class TrainingLost(Exception):
    """The training's worker was lost (a node died, the actor failed); the message says how."""


@dataclass(frozen=True)
class Storage:
    """What training reads images from and writes results to: the blob store and the S3 client."""

    blobs: BlobStore
    s3: Any


@dataclass(frozen=True)
class StorageAddress:
    """How a worker on another machine opens the same ``Storage`` (the blob URL and S3 endpoint)."""

    blob_url: str
    s3_endpoint_url: str
    s3_region: str

    def open(self) -> Storage:
        s3 = make_s3_client(self.s3_endpoint_url, self.s3_region)
        return Storage(open_blob_store(self.blob_url, s3), s3)


class TrainingWork(Protocol):
    """A training to run: picklable (it may travel to another machine), given the storage to use,
    a callback for progress sentences and the cores the engine gave it (0: the machine's own);
    returns the outcome as plain JSON-like values."""

    def __call__(self, storage: Storage, progress: Progress, cpus: int) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Deployment:
    """A model version to host: its ONNX export (a named blob), units and onnxruntime threads."""

    model_id: int
    model_blob: str
    min_units: int
    max_units: int
    threads_per_unit: int
    colors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HostedUnits:
    """A hosted model's inference units as this server sees them, and requests waiting for them."""

    units: int
    waiting: int


class Engine(Protocol):
    """Runs trainings and hosts models; see the package docstring for the two implementations."""

    name: str

    @property
    def closed(self) -> bool:
        """Whether ``shutdown`` was called (the server is stopping)."""
        ...

    def unit_limit(self) -> int | None:
        """Inference units all hosted models may hold together (None: the cluster decides)."""
        ...

    def run_training(self, key: str, work: TrainingWork, progress: Progress) -> dict[str, Any]:
        """Run ``work`` to its end and return its outcome. ``key`` names the training: asking again
        with a key that is still running attaches to it instead of starting another. Raises what
        the work raised (local), ``TrainingLost``, or ``EngineStopped``."""
        ...

    def cancel_training(self, key: str) -> None:
        """Stop the training named ``key`` if it still runs anywhere (nothing when it does not)."""
        ...

    def deploy(self, deployment: Deployment) -> None:
        """Host the model (idempotent: an identical deployment already running is kept); returns
        when its minimum units answer, else raises ``HostingError`` with the reason."""
        ...

    def is_deployed(self, model_id: int) -> bool:
        """Whether the model's units are running and can take requests."""
        ...

    def undeploy(self, model_id: int) -> None:
        """Stop the model's units (nothing when it is not hosted)."""
        ...

    def submit_detect(
        self, model_id: int, data: bytes, width: int, height: int, *, heatmap: bool = False
    ) -> Future[dict[str, Any]]:
        """Hand one admitted image to the model's units; the future gives the result dict of
        ``hosting.result.detect_image`` or raises ``HostingError``. ``PoolBusy`` at once when the
        model's queue already holds more work than its units serve in ``detect_queue_s``."""
        ...

    def hosted(self) -> dict[int, HostedUnits]:
        """Units and waiting requests of every model this server hosts or reaches (metrics)."""
        ...

    def shutdown(self) -> None:
        """Release what this server holds (local units stop; a cluster's work carries on)."""
        ...
