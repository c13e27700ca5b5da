"""Load shedding and the server-wide unit cap of the inference pools (issue 14, item 6).

Today's main queued 200 concurrent DetectAnomalies on one unit for 13-24 s. Here a pool whose
queue already holds more than ``max_queue_s`` seconds of work refuses new requests at once
(``PoolBusy``, the API's 429), the requests it accepts are answered within about that time, and
a manager at its unit cap does not let a pool scale up.
"""

from __future__ import annotations

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.unit.hosting.conftest import build_model

from openlookout.hosting.manager import HostingManager
from openlookout.hosting.pool import InferencePool, PoolBusy


@pytest.fixture(scope="module")
def slow_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A large input makes each answer take a few milliseconds (the image is resized up to it).
    return build_model(tmp_path_factory.mktemp("slow-model") / "model.onnx", height=768, width=1024)


def _png(width: int = 96, height: int = 64) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), 90, dtype=np.uint8)).save(out, format="PNG")
    return out.getvalue()


def test_a_deep_queue_is_shed_at_once_and_accepted_requests_stay_fast(slow_model: Path) -> None:
    pool = InferencePool(str(slow_model), min_units=1, max_queue_s=0.5, threads_per_unit=1)
    pool.start()
    image = _png()
    try:
        for _ in range(3):  # measure the service time
            pool.detect(image, 96, 64)
        assert pool.service_s is not None and pool.service_s > 0

        def one(_: int) -> tuple[str, float]:
            started = time.monotonic()
            try:
                pool.detect(image, 96, 64, timeout_s=30)
            except PoolBusy:
                return "shed", time.monotonic() - started
            return "ok", time.monotonic() - started

        with ThreadPoolExecutor(64) as threads:
            outcomes = list(threads.map(one, range(200)))
    finally:
        pool.stop()
    shed = [t for kind, t in outcomes if kind == "shed"]
    served = [t for kind, t in outcomes if kind == "ok"]
    assert shed and served, (len(shed), len(served))
    assert max(shed) < 1.0  # refused at once, not after waiting
    # Accepted requests waited about max_queue_s at most (plus slack for a shared machine).
    assert max(served) < 0.5 + 20 * (pool.service_s or 0) + 2.0


def test_the_manager_keeps_pools_within_the_server_unit_cap(slow_model: Path) -> None:
    manager = HostingManager(unit_limit=1)
    try:
        pool = manager.ensure(1, str(slow_model), min_units=1, max_units=3, colors={})
        pool.scale_up_after_s, pool.tick_s = 0.05, 0.05
        assert not manager.room_for_a_unit()
        stop = threading.Event()
        image = _png()

        def load() -> None:
            while not stop.is_set():
                try:
                    pool.detect(image, 96, 64)
                except PoolBusy:
                    time.sleep(0.01)

        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        stop.set()
        for thread in threads:
            thread.join()
        assert pool.units == 1 and manager.running_units() == 1
    finally:
        manager.shutdown()
