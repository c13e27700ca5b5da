"""What every service function receives: who is asking (account, region) and the runtime parts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openlookout.blobs.base import BlobStore
    from openlookout.jobs.runner import JobRunner
    from openlookout.settings import Settings
    from openlookout.sources.reader import SourceReader
    from openlookout.store.db import Database


@dataclass(frozen=True)
class RequestContext:
    """The caller, as taken from the SigV4 credential scope (or the defaults)."""

    account_id: str
    region: str
    request_id: str = ""


@dataclass
class Runtime:
    """The infrastructure a running server holds, built once at start-up (see ``openlookout.app``)."""

    settings: Settings
    db: Database
    blobs: BlobStore
    sources: SourceReader
    jobs: JobRunner
