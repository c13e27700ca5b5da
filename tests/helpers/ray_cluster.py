"""A throwaway local Ray cluster for tests (the session-scoped ``ray_cluster`` fixture).

``ray start --head --block`` runs in a new session with its files in a fresh temporary directory
(short, for Ray's socket paths), on 127.0.0.1, without the dashboard, with 4 logical CPUs (the
scheduler's tokens: two fractional inference units and a training fit beside Serve's controller
on a 2-core machine) and a small object store. At the end every process of that session (the
head's own, the workers it started) is stopped by its id, and the directory removed; a cluster
whose test process was killed first is reaped by the next start, like the PostgreSQL helper's.

Without Ray installed the tests that need it fail in CI (``CI=true``) and are skipped elsewhere.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tests.helpers.moto_s3 import TEST_CREDENTIALS
from tests.helpers.postgres import running_in_ci

_PREFIX = "olray-"
_OWNER_FILE = "owner-pid"
_HEAD_FILE = "head-pid"
START_TIMEOUT_S = 90.0


@dataclass
class RayCluster:
    """A running local cluster: its GCS address, temporary directory and head process."""

    address: str
    base_dir: Path
    head: subprocess.Popen[bytes]
    # blob buckets handed out to servers of this cluster (each test's server gets a fresh one)
    buckets: list[str] = field(default_factory=list)

    def stop(self) -> None:
        stop_session(self.head.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.head.wait(timeout=10)
        shutil.rmtree(self.base_dir, ignore_errors=True)


def ray_binary() -> Path | None:
    """The ``ray`` command of this interpreter's environment, or None when Ray is not installed
    (or cannot be imported by this interpreter)."""
    candidate = Path(sys.executable).parent / "ray"
    if importlib.util.find_spec("ray") is None:
        return None
    return candidate if candidate.exists() else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _session_members(session: int) -> list[int]:
    """Live (not zombie) processes whose session id is ``session``."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[3]) == session:
            members.append(int(entry))
    return members


def stop_session(session: int, grace_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL, to every process of the session the head started (by id)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        members = _session_members(session)
        if not members:
            return
        for pid in members:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and _session_members(session):
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_abandoned_clusters() -> None:
    """Stop and remove clusters whose test process died before stopping them."""
    for base_dir in Path(tempfile.gettempdir()).glob(_PREFIX + "*"):
        try:
            owner = int((base_dir / _OWNER_FILE).read_text().strip())
            head = int((base_dir / _HEAD_FILE).read_text().strip())
        except (OSError, ValueError):
            continue
        if _alive(owner):
            continue
        stop_session(head)
        shutil.rmtree(base_dir, ignore_errors=True)


def start_cluster(num_cpus: int = 4) -> RayCluster:
    """A head node on 127.0.0.1; raises RuntimeError with its log when it does not come up."""
    binary = ray_binary()
    if binary is None:
        raise FileNotFoundError("Ray is not installed (pip install 'openlookout[ray]')")
    reap_abandoned_clusters()
    # the cluster's workers sign their requests to the loopback S3 with the test credentials
    for name, value in TEST_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    base_dir = Path(tempfile.mkdtemp(prefix=_PREFIX, dir=tempfile.gettempdir()))
    (base_dir / _OWNER_FILE).write_text(str(os.getpid()))
    log_path = base_dir / "head.log"
    environment = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    command = [
        str(binary),
        "start",
        "--head",
        "--block",
        f"--temp-dir={base_dir}",
        "--node-ip-address=127.0.0.1",
        f"--port={_free_port()}",
        f"--ray-client-server-port={_free_port()}",
        f"--dashboard-agent-listen-port={_free_port()}",
        f"--num-cpus={num_cpus}",
        "--num-gpus=0",
        "--include-dashboard=false",
        "--object-store-memory=200000000",
        "--disable-usage-stats",
    ]
    with log_path.open("wb") as log:
        head = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=environment
        )
    (base_dir / _HEAD_FILE).write_text(str(head.pid))
    cluster_file = base_dir / "ray_current_cluster"
    deadline = time.monotonic() + START_TIMEOUT_S
    while not cluster_file.exists() or not cluster_file.read_text().strip():
        if head.poll() is not None or time.monotonic() > deadline:
            RayCluster("", base_dir, head).stop()
            raise RuntimeError("the local Ray cluster did not start:\n" + log_path.read_text()[-4000:])
        time.sleep(0.2)
    return RayCluster(cluster_file.read_text().strip(), base_dir, head)


@contextlib.contextmanager
def local_ray_cluster(num_cpus: int = 4) -> Iterator[RayCluster]:
    cluster = start_cluster(num_cpus)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    """The session's local Ray cluster (fails in CI and skips elsewhere when Ray is missing)."""
    try:
        cluster = start_cluster()
    except FileNotFoundError as exc:
        message = f"Ray engine tests need Ray: {exc}"
        if running_in_ci():
            pytest.fail(message + " (CI installs the ray extra)", pytrace=False)
        pytest.skip(message)
    try:
        yield cluster
    finally:
        cluster.stop()
