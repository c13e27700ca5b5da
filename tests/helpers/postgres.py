"""A throwaway PostgreSQL cluster for tests (session-scoped ``postgres_url`` fixture).

Uses the newest Debian PostgreSQL binaries under ``/usr/lib/postgresql/<version>/bin`` (not on PATH).
The cluster lives in a temporary directory, listens on 127.0.0.1 on a free port with its unix
socket inside that directory, trusts local connections, runs without fsync, and is stopped and
removed at the end of the session. As root, initdb/pg_ctl run as the ``postgres`` user. A cluster
whose test process was killed before it could clean up is stopped and removed by the next start.

Without PostgreSQL binaries the tests that need it fail in CI (``CI=true``) and are skipped elsewhere.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

PG_ROOT = Path("/usr/lib/postgresql")


def find_pg_bin() -> Path | None:
    """The ``bin`` folder of the newest installed PostgreSQL version, or None."""
    if not PG_ROOT.is_dir():
        return None
    candidates = []
    for entry in PG_ROOT.iterdir():
        if (entry / "bin" / "initdb").exists() and (entry / "bin" / "pg_ctl").exists():
            try:
                candidates.append((float(entry.name), entry / "bin"))
            except ValueError:
                continue
    return max(candidates)[1] if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresCluster:
    """A running throwaway cluster."""

    bin_dir: Path
    base_dir: Path
    port: int
    run_as: list[str]

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database and return its URL."""
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        self._psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _psql(self, sql: str) -> None:
        subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )

    def stop(self) -> None:
        subprocess.run(
            [*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.base_dir, ignore_errors=True)


_PREFIX = "openlookout-pg-"
_OWNER_FILE = "owner-pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_abandoned_clusters(bin_dir: Path, run_as: list[str]) -> None:
    """Stop and remove clusters left behind by test processes that were killed before cleaning up."""
    for base_dir in Path(tempfile.gettempdir()).glob(_PREFIX + "*"):
        try:
            owner = int((base_dir / _OWNER_FILE).read_text().strip())
        except (OSError, ValueError):
            continue
        if _alive(owner):
            continue
        if (base_dir / "data" / "postmaster.pid").exists():
            subprocess.run(
                [*run_as, str(bin_dir / "pg_ctl"), "-D", str(base_dir / "data"), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(base_dir, ignore_errors=True)


def start_cluster() -> PostgresCluster:
    """initdb + pg_ctl start in a fresh temporary directory; raises RuntimeError with the log on failure."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise FileNotFoundError(f"no PostgreSQL binaries (initdb, pg_ctl) under {PG_ROOT}/<version>/bin")
    run_as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    reap_abandoned_clusters(bin_dir, run_as_postgres)
    base_dir = Path(tempfile.mkdtemp(prefix=_PREFIX))
    (base_dir / _OWNER_FILE).write_text(str(os.getpid()))
    run_as = run_as_postgres
    if run_as:
        # initdb refuses to run as root: hand the directory to the postgres user and run as it.
        shutil.chown(base_dir, user="postgres", group="postgres")
    port = _free_port()
    cluster = PostgresCluster(bin_dir, base_dir, port, run_as)
    log_file = base_dir / "server.log"
    try:
        subprocess.run(
            [
                *run_as,
                str(bin_dir / "initdb"),
                "-D",
                str(cluster.data_dir),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        options = (
            f"-p {port} -k {base_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            [
                *run_as,
                str(bin_dir / "pg_ctl"),
                *("-D", str(cluster.data_dir), "-o", options, "-l", str(log_file)),
                *("-w", "-t", "60", "start"),
            ],
            check=True,
            capture_output=True,
            timeout=90,
        )
    except subprocess.CalledProcessError as exc:
        log = log_file.read_text(errors="replace") if log_file.exists() else ""
        shutil.rmtree(base_dir, ignore_errors=True)
        raise RuntimeError(
            f"could not start PostgreSQL: {exc.stderr.decode(errors='replace')}\n{log}"
        ) from exc
    return cluster


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def postgres_missing(reason: str) -> NoReturn:
    """Fail (in CI) or skip (elsewhere) a test that needs PostgreSQL binaries that are not installed."""
    message = f"PostgreSQL tests need the PostgreSQL server binaries: {reason}"
    if running_in_ci():
        pytest.fail(message + " (they are required in CI; install postgresql)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """The session's throwaway cluster (fails in CI and skips elsewhere when PostgreSQL is missing)."""
    try:
        cluster = start_cluster()
    except FileNotFoundError as exc:
        postgres_missing(str(exc))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """URL of a database in the session's cluster (``postgresql://...``); shared by the session."""
    return postgres_cluster.create_database("openlookout_test")


@pytest.fixture
def fresh_postgres_url(postgres_cluster: PostgresCluster) -> str:
    """URL of a new, empty database for one test."""
    return postgres_cluster.create_database()
