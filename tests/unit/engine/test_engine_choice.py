"""Choosing the engine: the default never imports Ray; ``--engine ray`` refuses what cannot work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from openlookout.engine.base import StorageAddress
from openlookout.engine.local import LocalEngine
from openlookout.runtime import StartupError, build_engine
from openlookout.settings import Settings
from openlookout.store.db import Database


def test_the_local_engine_runs_a_whole_server_without_importing_ray(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from openlookout.runtime import build_runtime, close_runtime\n"
        "from openlookout.api.app import create_app\n"
        "from openlookout.cli.main import app\n"
        "from pathlib import Path\n"
        "from openlookout.settings import Settings\n"
        f"runtime = build_runtime(Settings(data_dir=Path({str(tmp_path)!r}), gc_interval_s=0))\n"
        "create_app(runtime)\n"
        "assert runtime.engine.name == 'local'\n"
        "close_runtime(runtime)\n"
        "assert not [m for m in sys.modules if m == 'ray' or m.startswith('ray.')], 'ray imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(f"sqlite:///{tmp_path / 'engine.db'}")


def test_local_is_the_default(tmp_path: Path, db: Database) -> None:
    settings = Settings(data_dir=tmp_path)
    engine = build_engine(settings, db, StorageAddress(settings.resolved_blob_url, "", "us-east-1").open())
    try:
        assert isinstance(engine, LocalEngine)
    finally:
        engine.shutdown()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"engine": "spark"}, "unknown engine 'spark'"),
        ({"engine": "ray", "ray_address": "auto"}, "needs a blob store every Ray node reaches"),
        ({"engine": "ray", "blob_url": "s3://bucket/blobs"}, "needs --ray-address"),
    ],
)
def test_unusable_engine_settings_are_refused_at_start(
    tmp_path: Path, db: Database, overrides: dict[str, str], reason: str
) -> None:
    settings = Settings(data_dir=tmp_path, extra=overrides)
    storage = StorageAddress((tmp_path / "blobs").as_uri(), "", "us-east-1").open()
    with pytest.raises(StartupError, match=reason):
        build_engine(settings, db, storage)
