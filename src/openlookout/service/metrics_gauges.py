"""What the scrape-time gauges of ``/metrics`` read from a running server (``service.metrics``):
the jobs of the shared database by kind and state, and the models this server's engine hosts with
their units and waiting requests, named by account, project and version."""

from __future__ import annotations

from openlookout.service.context import Runtime
from openlookout.service.metrics import GaugeSources, HostedModelGauge
from openlookout.store import jobs as job_store
from openlookout.store import models as model_store


def gauge_sources(runtime: Runtime) -> GaugeSources:
    """The gauges' sources for ``runtime`` (``ServiceMetrics.watch``)."""

    def job_counts() -> list[tuple[str, str, int]]:
        with runtime.db.begin() as conn:
            return job_store.counts_by_kind_and_state(conn)

    def hosted_models() -> list[HostedModelGauge]:
        hosted = runtime.engine.hosted()
        with runtime.db.begin() as conn:
            names = model_store.model_names(conn, hosted)
        return [
            HostedModelGauge(account, project, str(version), units.units, units.waiting)
            for model_id, units in sorted(hosted.items())
            if model_id in names
            for account, project, version in [names[model_id]]
        ]

    return GaugeSources(job_counts, hosted_models)
