"""build_runtime / close_runtime: data dir, migrations, per-installation paging secret, job workers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from openlookout.runtime import StartupError, build_runtime, close_runtime
from openlookout.service import dataset_jobs
from openlookout.settings import Settings
from openlookout.store import installation, migrate


def test_a_fresh_data_dir_gets_a_migrated_database_blobs_and_running_workers(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    runtime = build_runtime(Settings(data_dir=data_dir, workers=3))
    try:
        assert (data_dir / "openlookout.db").is_file()
        assert migrate.current_revision(runtime.db) == migrate.head_revision()
        key = runtime.blobs.put(b"hello")
        assert runtime.blobs.get(key) == b"hello"
        assert runtime.jobs.is_registered(dataset_jobs.IMPORT_MANIFEST)
        ran = threading.Event()
        runtime.jobs.register("probe", lambda rt, _payload: ran.set() if rt is runtime else None)
        runtime.jobs.submit("probe", {})
        assert runtime.jobs.wait_idle(10) and ran.is_set()
    finally:
        close_runtime(runtime)


def test_the_paging_secret_is_made_once_per_installation(tmp_path: Path) -> None:
    first = build_runtime(Settings(data_dir=tmp_path / "a"))
    secret = installation.get_or_create_secret(first.db)
    close_runtime(first)
    again = build_runtime(Settings(data_dir=tmp_path / "a"))
    other = build_runtime(Settings(data_dir=tmp_path / "b"))
    try:
        assert installation.get_or_create_secret(again.db) == secret
        assert installation.get_or_create_secret(other.db) != secret
        assert len(secret) == 32
    finally:
        close_runtime(again)
        close_runtime(other)


def test_close_stops_the_workers_and_leaves_queued_jobs_for_the_next_start(tmp_path: Path) -> None:
    runtime = build_runtime(Settings(data_dir=tmp_path))
    close_runtime(runtime)
    job_id = runtime.jobs.submit("later", {"n": 1})  # persisted, but nobody runs it now
    restarted = build_runtime(Settings(data_dir=tmp_path))
    try:
        done = threading.Event()
        restarted.jobs.register("later", lambda _rt, payload: done.set() if payload == {"n": 1} else None)
        assert restarted.jobs.wait_idle(10) and done.is_set()
        row = restarted.jobs.job(job_id)
        assert row is not None and row.state == "done"
    finally:
        close_runtime(restarted)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"database_url": "mysql://u:secret@127.0.0.1:1/x"}, "database URL mysql://u:***@127.0.0.1:1/x"),
        ({"database_url": "not a url"}, "database URL"),
        ({"database_url": "postgresql://nobody@127.0.0.1:1/none"}, "cannot prepare the database"),
    ],
)
def test_an_unusable_database_is_a_one_line_startup_error(
    tmp_path: Path, overrides: dict[str, str], expected: str
) -> None:
    with pytest.raises(StartupError) as excinfo:
        build_runtime(Settings(data_dir=tmp_path).with_overrides(**overrides))
    message = str(excinfo.value)
    assert expected in message and "\n" not in message
    assert "secret" not in message


def test_an_unwritable_data_folder_is_a_startup_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StartupError, match="cannot create the data folder"):
        build_runtime(Settings(data_dir=blocker / "data"))
