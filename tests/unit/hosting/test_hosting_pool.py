"""Inference pools with real worker processes on a tiny ONNX graph: results, scaling, unit failure."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.unit.hosting.conftest import HEIGHT, WIDTH

from openlookout.hosting.manager import HostingManager
from openlookout.hosting.pool import HostingError, InferencePool

COLORS = {"defect": "#00FF00"}


def png(value: int, width: int = WIDTH * 2, height: int = HEIGHT * 2) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), value, dtype=np.uint8), "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_unit_answers_with_the_api_result(fake_model: Path) -> None:
    pool = InferencePool(str(fake_model), min_units=1, colors=COLORS)
    pool.start()
    try:
        bright = pool.detect(png(250), WIDTH * 2, HEIGHT * 2, heatmap=True)
        dark = pool.detect(png(5), WIDTH * 2, HEIGHT * 2)
    finally:
        pool.stop()
    assert bright["IsAnomalous"] is True and dark["IsAnomalous"] is False
    assert bright["Confidence"] == pytest.approx(250 / 255, abs=1e-4)
    assert dark["Confidence"] == pytest.approx(1 - 5 / 255, abs=1e-4)
    assert [a["Name"] for a in bright["Anomalies"]] == ["background", "defect"]
    assert bright["Anomalies"][1]["PixelAnomaly"] == {"TotalPercentageArea": 1.0, "Color": "#00FF00"}
    assert dark["Anomalies"] == [
        {"Name": "background", "PixelAnomaly": {"TotalPercentageArea": 1.0, "Color": "#FFFFFF"}}
    ]
    mask = Image.open(io.BytesIO(bright["AnomalyMask"]))
    assert mask.size == (WIDTH * 2, HEIGHT * 2)
    assert Image.open(io.BytesIO(bright["Heatmap"])).size == (WIDTH * 2, HEIGHT * 2)
    assert "Heatmap" not in dark


def test_a_broken_model_file_fails_the_start_with_the_reason(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    pool = InferencePool(str(broken), min_units=1)
    with pytest.raises(HostingError, match="could not load the model"):
        pool.start()
    assert pool.units == 0


def test_the_pool_scales_up_under_load_and_back_down(fake_model: Path) -> None:
    pool = InferencePool(
        str(fake_model), min_units=1, max_units=2, scale_up_after_s=0.05, scale_down_after_s=0.5, tick_s=0.05
    )
    pool.start()
    try:
        assert pool.units == 1
        stop = time.monotonic() + 20
        big = png(128, WIDTH * 40, HEIGHT * 40)

        def load() -> None:
            while pool.units < 2 and time.monotonic() < stop:
                pool.detect(big, WIDTH * 40, HEIGHT * 40)

        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert pool.units == 2
        deadline = time.monotonic() + 10
        while pool.units > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.units == 1
    finally:
        pool.stop()


def test_a_dead_unit_is_replaced_and_the_request_retried(fake_model: Path) -> None:
    pool = InferencePool(str(fake_model), min_units=1, tick_s=0.05)
    pool.start()
    try:
        victim = pool._units[0].process.pid
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        result = pool.detect(png(250), WIDTH * 2, HEIGHT * 2, timeout_s=30)
        assert result["IsAnomalous"] is True
        assert pool._units and all(u.process.pid != victim for u in pool._units if u.process.is_alive())
    finally:
        pool.stop()


def test_manager_starts_once_and_stops_everything(fake_model: Path) -> None:
    manager = HostingManager()
    first = manager.ensure(1, str(fake_model), min_units=1, max_units=None, colors={})
    assert manager.ensure(1, str(fake_model), min_units=1, max_units=None, colors={}) is first
    manager.shutdown()
    assert first.units == 0
    with pytest.raises(HostingError):
        manager.ensure(2, str(fake_model), min_units=1, max_units=None, colors={})
