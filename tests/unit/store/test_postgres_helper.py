"""The throwaway-PostgreSQL helper: binaries discovery and the CI rule for missing binaries."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers import postgres


def test_missing_binaries_fail_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        postgres.postgres_missing("no initdb")


def test_missing_binaries_skip_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no initdb"):
        postgres.postgres_missing("no initdb")


def test_the_newest_installed_version_is_chosen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for version in ("9.6", "15", "13", "16-beta"):
        bin_dir = tmp_path / version / "bin"
        bin_dir.mkdir(parents=True)
        for tool in ("initdb", "pg_ctl"):
            (bin_dir / tool).touch()
    (tmp_path / "17" / "bin").mkdir(parents=True)  # incomplete install: ignored
    monkeypatch.setattr(postgres, "PG_ROOT", tmp_path)
    assert postgres.find_pg_bin() == tmp_path / "15" / "bin"
    monkeypatch.setattr(postgres, "PG_ROOT", tmp_path / "absent")
    assert postgres.find_pg_bin() is None
    with pytest.raises(FileNotFoundError):
        postgres.start_cluster()


def test_the_session_cluster_answers_on_its_url(postgres_url: str) -> None:
    from sqlalchemy import text

    from openlookout.store.db import Database

    assert postgres_url.startswith("postgresql://postgres@127.0.0.1:")
    db = Database(postgres_url)
    try:
        with db.begin() as conn:
            assert conn.execute(text("select 1")).scalar_one() == 1
    finally:
        db.dispose()
