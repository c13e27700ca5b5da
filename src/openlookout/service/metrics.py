"""The server's Prometheus metrics (``GET /metrics``; the queries are in docs/scale-out.md).

``ServiceMetrics`` holds one registry per runtime (several servers in one process keep their
counts apart). Counters and histograms are updated where the work happens: DetectAnomalies
(``DetectObservation``, per model: requests, errors by error code, latency), trainings (seconds,
by engine and outcome) and dataset imports (images and seconds, for the throughput). The gauges
are read when scraped (``RuntimeCollector``): jobs by kind and state (the shared database's, so
every server of an installation reports the same totals) and, per hosted model, the inference
units and the requests waiting for them as this server's engine sees them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

MODEL_LABELS = ("account", "project", "version")
# DetectAnomalies answers in tens of milliseconds on a warm unit; a queue or a cold unit shows in seconds.
DETECT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
TRAINING_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0)
IMPORT_BUCKETS = (0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


@dataclass(frozen=True)
class HostedModelGauge:
    """One hosted model as a scrape reports it."""

    account: str
    project: str
    version: str
    units: int
    waiting: int


@dataclass(frozen=True)
class GaugeSources:
    """Where the scrape-time gauges come from: the jobs by (kind, state) with their counts, and the
    hosted models (both read when ``/metrics`` is asked)."""

    job_counts: Callable[[], Iterable[tuple[str, str, int]]]
    hosted_models: Callable[[], Iterable[HostedModelGauge]]


class RuntimeCollector(Collector):
    """The gauges read at scrape time (see the module doc)."""

    def __init__(self, sources: GaugeSources) -> None:
        self.sources = sources

    def collect(self) -> Iterable[Metric]:
        jobs = GaugeMetricFamily(
            "openlookout_jobs", "Background jobs by kind and state.", labels=["kind", "state"]
        )
        for kind, state, count in self.sources.job_counts():
            jobs.add_metric([kind, state], count)
        units = GaugeMetricFamily(
            "openlookout_inference_units", "Running inference units of a hosted model.", labels=MODEL_LABELS
        )
        waiting = GaugeMetricFamily(
            "openlookout_detect_queue_depth",
            "DetectAnomalies requests waiting for a hosted model's units on this server.",
            labels=MODEL_LABELS,
        )
        for model in self.sources.hosted_models():
            labels = [model.account, model.project, model.version]
            units.add_metric(labels, model.units)
            waiting.add_metric(labels, model.waiting)
        return [jobs, units, waiting]


@dataclass
class ServiceMetrics:
    """The registry and the counters the service updates (see the module doc)."""

    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=True))

    def __post_init__(self) -> None:
        registry = self.registry
        self.detect_requests = Counter(
            "openlookout_detect_anomalies", "DetectAnomalies requests.", MODEL_LABELS, registry=registry
        )
        self.detect_errors = Counter(
            "openlookout_detect_anomalies_errors",
            "DetectAnomalies requests answered with an error, by error code.",
            (*MODEL_LABELS, "error"),
            registry=registry,
        )
        self.detect_seconds = Histogram(
            "openlookout_detect_anomalies_seconds",
            "DetectAnomalies latency in this server, from the request's arrival to its answer.",
            MODEL_LABELS,
            buckets=DETECT_BUCKETS,
            registry=registry,
        )
        self.training_seconds = Histogram(
            "openlookout_training_seconds",
            "Training duration, by engine and outcome (trained, failed).",
            ("engine", "outcome"),
            buckets=TRAINING_BUCKETS,
            registry=registry,
        )
        self.imported_images = Counter(
            "openlookout_imported_images", "Images imported into datasets.", registry=registry
        )
        self.import_seconds = Histogram(
            "openlookout_import_seconds",
            "Duration of dataset imports and updates that completed.",
            buckets=IMPORT_BUCKETS,
            registry=registry,
        )

    def watch(self, sources: GaugeSources) -> None:
        """Add the scrape-time gauges (once the runtime they read exists)."""
        self.registry.register(RuntimeCollector(sources))

    def observe_training(self, engine: str, outcome: str, seconds: float) -> None:
        self.training_seconds.labels(engine, outcome).observe(seconds)

    def observe_import(self, images: int, seconds: float) -> None:
        self.imported_images.inc(images)
        self.import_seconds.observe(seconds)

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


class DetectObservation:
    """One DetectAnomalies request being measured: ``model`` names it once it is resolved, then
    ``done`` or ``failed``. Requests refused before their model is known (an unknown model or
    content type) are not counted: their labels would be whatever a caller sends."""

    def __init__(self, metrics: ServiceMetrics, account: str) -> None:
        self.metrics = metrics
        self.account = account
        self.labels: tuple[str, str, str] | None = None
        self.started = time.perf_counter()
        self._finished = False

    def model(self, project: str, version: int) -> None:
        self.labels = (self.account, project, str(version))

    def done(self) -> None:
        self._finish(None)

    def failed(self, error: str) -> None:
        self._finish(error)

    def _finish(self, error: str | None) -> None:
        if self._finished or self.labels is None:
            return
        self._finished = True
        metrics = self.metrics
        metrics.detect_requests.labels(*self.labels).inc()
        metrics.detect_seconds.labels(*self.labels).observe(time.perf_counter() - self.started)
        if error is not None:
            metrics.detect_errors.labels(*self.labels, error).inc()
