"""``GET /metrics``: the Prometheus text format, open on a server without credentials, behind a
bearer token on one with them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from openlookout.api.metrics_route import refuse
from openlookout.service.context import Runtime
from openlookout.service.metrics import DetectObservation, GaugeSources, HostedModelGauge
from openlookout.settings import Settings


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_detections_per_model_and_read_gauges_when_scraped(
    runtime: Runtime, client_for: Callable[[dict[str, Any]], TestClient]
) -> None:
    metrics = runtime.metrics
    metrics.watch(
        GaugeSources(
            job_counts=lambda: [("model.train", "done", 3), ("dataset.import", "queued", 1)],
            hosted_models=lambda: [HostedModelGauge("111122223333", "cookies", "2", units=2, waiting=5)],
        )
    )
    for error in (None, None, "ThrottlingException"):
        observation = DetectObservation(metrics, "111122223333")
        observation.model("cookies", 2)
        if error:
            observation.failed(error)
        else:
            observation.done()
        observation.done()  # a request is counted once
    unknown = DetectObservation(metrics, "111122223333")
    unknown.failed("ResourceNotFoundException")  # never named a model: not counted
    metrics.observe_training("ray", "trained", 42.0)
    metrics.observe_import(30, 1.5)

    answer = client_for({}).get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    found = samples(answer.text)
    model = (("account", "111122223333"), ("project", "cookies"), ("version", "2"))
    assert found[("openlookout_detect_anomalies_total", model)] == 3
    assert (
        found[
            (
                "openlookout_detect_anomalies_errors_total",
                (*model[:1], ("error", "ThrottlingException"), *model[1:]),
            )
        ]
        == 1
    )
    assert found[("openlookout_detect_anomalies_seconds_count", model)] == 3
    assert found[("openlookout_inference_units", model)] == 2
    assert found[("openlookout_detect_queue_depth", model)] == 5
    assert found[("openlookout_jobs", (("kind", "model.train"), ("state", "done")))] == 3
    assert found[("openlookout_training_seconds_sum", (("engine", "ray"), ("outcome", "trained")))] == 42.0
    assert found[("openlookout_imported_images_total", ())] == 30
    assert found[("openlookout_import_seconds_count", ())] == 1
    assert not any(labels and dict(labels).get("project") == "" for _, labels in found)


@pytest.mark.parametrize(
    ("token", "authorization", "status"),
    [
        ("", "", 403),
        ("s3cret-token", "", 401),
        ("s3cret-token", "Bearer wrong", 401),
        ("s3cret-token", "Basic s3cret-token", 401),
        ("s3cret-token", "Bearer s3cret-token", None),
    ],
)
def test_with_credentials_a_scraper_needs_the_metrics_token(
    token: str, authorization: str, status: int | None
) -> None:
    settings = Settings(credentials_file="/etc/keys.csv", metrics_token=token)
    refusal = refuse(settings, authorization)
    assert (refusal.status_code if refusal is not None else None) == status


def test_without_credentials_metrics_are_open() -> None:
    assert refuse(Settings(), "") is None
