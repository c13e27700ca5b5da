"""Fixtures for the API unit tests: a small local runtime (SQLite only) and an in-process client."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from openlookout.api.app import create_app
from openlookout.service.context import Runtime
from openlookout.service.paging import Pager
from openlookout.settings import Settings
from openlookout.spec.loader import ServiceModel, load_service_model
from openlookout.store.db import Database
from openlookout.store.tables import metadata

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette suggests another httpx package; the test client works
    from starlette.testclient import TestClient


@pytest.fixture
def model() -> ServiceModel:
    return load_service_model()


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    """Settings and a migrated-enough SQLite database; the API layer needs nothing else."""
    db = Database(f"sqlite:///{tmp_path / 'api.db'}")
    metadata.create_all(db.engine)
    settings = Settings(data_dir=tmp_path, default_account_id="111122223333", default_region="us-east-1")
    fake: Any = None  # blobs, sources, jobs, engine and S3 are never touched by the API layer itself
    pager = Pager(b"the api tests' paging secret 001")
    return Runtime(
        settings=settings, db=db, blobs=fake, sources=fake, jobs=fake, engine=fake, pager=pager, s3=fake
    )


@pytest.fixture
def client_for(runtime: Runtime) -> Callable[[dict[str, Any]], TestClient]:
    """An in-process HTTP client for an app serving exactly the given handlers."""

    def make(handlers: dict[str, Any]) -> TestClient:
        app = create_app(runtime, handlers=handlers)
        return TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)

    return make
