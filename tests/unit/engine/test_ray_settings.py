"""How the Ray engine turns a model's units into Ray Serve settings, and Serve's failures into the
hosting error's reason (needs Ray: skipped where it is not installed)."""

from __future__ import annotations

import pytest

ray_engine = pytest.importorskip("openlookout.engine.ray_engine")


def test_a_fixed_number_of_units_is_that_many_replicas() -> None:
    assert ray_engine._scaling(2, 2) == {"num_replicas": 2}


def test_min_and_max_units_are_the_autoscaling_bounds() -> None:
    config = ray_engine._scaling(1, 4)["autoscaling_config"]
    assert (config["min_replicas"], config["max_replicas"]) == (1, 4)
    assert config["target_ongoing_requests"] == 1


def test_the_units_own_reason_is_kept_from_serves_failure_message() -> None:
    message = (
        "The deployment failed to start 3 times in a row.\n"
        "Traceback (most recent call last):\n  File ...\n"
        f"RuntimeError: {ray_engine.LOAD_FAILED}: InvalidProtobuf: not an ONNX model\n  more"
    )
    assert (
        ray_engine._failure_reason(message) == f"{ray_engine.LOAD_FAILED}: InvalidProtobuf: not an ONNX model"
    )
    assert ray_engine._failure_reason("") == "the Ray Serve application failed to deploy"
