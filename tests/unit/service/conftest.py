"""Fixtures for the dataset service tests: a real runtime (SQLite, file blobs, the real SourceReader
limited to a temporary folder) and a ``Workspace`` bound to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.unit.service.dataset_support import Workspace

from openlookout.runtime import build_runtime, close_runtime
from openlookout.service.context import Runtime
from openlookout.settings import Settings


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    root = tmp_path / "sources"
    root.mkdir()
    settings = Settings(data_dir=tmp_path / "data", allow_local_roots=(root,), workers=2)
    rt = build_runtime(settings)
    try:
        yield rt
    finally:
        close_runtime(rt)


@pytest.fixture
def ws(runtime: Runtime) -> Workspace:
    return Workspace(runtime, runtime.settings.allow_local_roots[0])
