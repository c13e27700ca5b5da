"""What the Ray engine runs on cluster nodes: an inference unit (a Ray Serve replica) and a
training runner (a detached Ray actor). Plain classes: ``ray_engine`` wraps them with Ray's
decorators, so this module imports no Ray and both can be tested as they are.

Both open the shared storage from its address (``StorageAddress.open``) on the node itself:
a replica reads the model's ONNX export from the blob store, a training reads images and masks and
writes the artefacts back. The node's own credentials chain reaches S3 (instance role, IRSA,
environment), never the API server's.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from openlookout.engine.base import StorageAddress, TrainingWork
from openlookout.hosting.result import detect_image

# The first words of the error a unit that cannot load its model raises (the local pool's too).
LOAD_FAILED = "the inference unit could not load the model"


class InferenceUnit:
    """One inference unit: the model's ONNX export loaded once, one image at a time.

    ``__call__`` answers ``("ok", result, seconds)`` or ``("error", reason, seconds)`` (the
    reason of a request the model cannot answer), ``seconds`` being the time the model took.
    """

    def __init__(
        self, storage: StorageAddress, model_blob: str, threads: int, colors: dict[str, str]
    ) -> None:
        self._folder = tempfile.mkdtemp(prefix="openlookout-unit-")
        try:
            from openlookout.ml.runtime import OnnxDetector

            path = Path(self._folder) / "model.onnx"
            path.write_bytes(storage.open().blobs.get_named(model_blob))
            self.detector = OnnxDetector(path, threads=max(1, threads))
        except Exception as exc:
            shutil.rmtree(self._folder, ignore_errors=True)
            raise RuntimeError(f"{LOAD_FAILED}: {type(exc).__name__}: {exc}") from None
        self.colors = dict(colors)
        self._lock = threading.Lock()

    def __call__(self, data: bytes, width: int, height: int, heatmap: bool) -> tuple[str, Any, float]:
        with self._lock:
            started = time.perf_counter()
            try:
                result = detect_image(self.detector, data, width, height, self.colors, heatmap)
            except Exception as exc:
                return "error", f"{type(exc).__name__}: {exc}", time.perf_counter() - started
            return "ok", result, time.perf_counter() - started

    def pid(self) -> int:
        """The replica's process id (tests kill it to see Ray replace it)."""
        return os.getpid()

    def __del__(self) -> None:
        shutil.rmtree(getattr(self, "_folder", ""), ignore_errors=True)


class TrainingRunner:
    """Runs one training on a thread of its own and tells how it goes when asked (``poll``).

    A detached, named actor: the API server that started it may stop, and the next one to take
    the job finds it by name and asks again; ``start`` a second time changes nothing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._messages: list[str] = []
        self._state = "idle"
        self._outcome: dict[str, Any] | None = None
        self._error = ""

    def start(self, work: TrainingWork, storage: StorageAddress, cpus: int) -> bool:
        """Begin the training (False when it had begun already)."""
        with self._lock:
            if self._thread is not None:
                return False
            self._state = "running"
            self._thread = threading.Thread(
                target=self._run, args=(work, storage, cpus), name="openlookout-training", daemon=True
            )
        self._thread.start()
        return True

    def _run(self, work: TrainingWork, storage: StorageAddress, cpus: int) -> None:
        try:
            outcome = work(storage.open(), self._progress, cpus)
        except Exception as exc:
            with self._lock:
                self._state, self._error = "error", f"{type(exc).__name__}: {exc}"
            return
        with self._lock:
            self._state, self._outcome = "done", outcome

    def _progress(self, message: str) -> None:
        with self._lock:
            self._messages.append(message)

    def poll(self, seen: int) -> tuple[list[str], str, dict[str, Any] | None, str]:
        """(progress sentences after the first ``seen``, state, outcome, error); the state is
        ``idle``, ``running``, ``done`` (with the outcome) or ``error`` (with the reason)."""
        with self._lock:
            return list(self._messages[seen:]), self._state, self._outcome, self._error
