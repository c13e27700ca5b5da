"""What every service function receives: who is asking (account, region) and the runtime parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from openlookout.blobs.base import BlobStore
from openlookout.engine.base import Engine
from openlookout.jobs.runner import JobRunner
from openlookout.service.metrics import ServiceMetrics
from openlookout.service.paging import Pager
from openlookout.settings import Settings
from openlookout.sources.reader import SourceReader
from openlookout.store.db import Database


@dataclass(frozen=True)
class RequestContext:
    """The caller, as taken from the SigV4 credential scope (or the defaults)."""

    account_id: str
    region: str
    request_id: str = ""


@dataclass(frozen=True)
class Runtime:
    """Everything long-lived a running server holds, built once at start-up from one ``Settings``
    by ``openlookout.runtime.build_runtime`` (the composition root); nothing is attached later."""

    settings: Settings
    db: Database
    blobs: BlobStore
    sources: SourceReader
    jobs: JobRunner
    # Where trainings run and hosted models' inference units live (local processes or Ray).
    engine: Engine
    pager: Pager
    # The boto3 S3 client for the service's outputs (evaluation files, edge packages), made by
    # ``sources.s3.make_s3_client`` like the clients that read references.
    s3: Any
    # The Prometheus registry and counters of this server (``GET /metrics``).
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
