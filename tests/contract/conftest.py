"""Live-server fixtures for contract tests: a moto S3 endpoint and real OpenLookout servers.

- ``s3_endpoint`` (session): URL of a moto ``ThreadedMotoServer`` on 127.0.0.1 (free port).
- ``s3``: a boto3 S3 client on it.
- ``make_server(**settings_overrides)``: starts a uvicorn server on 127.0.0.1:<free port> in a
  background thread, with a fresh data dir, ``s3_endpoint_url`` set to the moto endpoint and
  ``allow_local_roots=(local_root,)``; built with ``build_runtime`` and ``create_app``. Every
  server made is stopped (and its runtime closed) at the end of the test.
- ``server``: ``make_server()`` with the defaults.
- ``lv``: a real boto3 ``lookoutvision`` client for ``server.url`` (no retries, so a failure
  shows at once).
- ``shared_server`` / ``shared_lv``: the same, one per test module, for tests that leave no state
  behind (validation and error-format checks) so they do not pay a server start each.
- ``engine_settings``: parametrised over both engines: ``{}`` (the local engine) and the settings of
  a server whose trainings and units run on the session's local Ray cluster (``ray_cluster``),
  with its blobs in a bucket of the loopback S3. A test taking it runs once per engine.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import uvicorn
from tests.helpers.moto_s3 import TEST_CREDENTIALS, moto_s3_endpoint
from tests.helpers.ray_cluster import RayCluster

from openlookout.api.app import create_app
from openlookout.client import lookoutvision_client
from openlookout.runtime import build_runtime, close_runtime
from openlookout.service.context import Runtime
from openlookout.settings import Settings
from openlookout.web.connections import uvicorn_limits

S3_TEST_CREDENTIALS = TEST_CREDENTIALS
STARTUP_TIMEOUT_S = 20.0


@dataclass
class LiveServer:
    """A running server: its base URL, runtime and folders."""

    url: str
    runtime: Runtime
    data_dir: Path
    local_root: Path
    _uvicorn: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        self._uvicorn.should_exit = True
        self._thread.join(timeout=10)
        close_runtime(self.runtime)


def _start_server(base_dir: Path, s3_endpoint: str, overrides: dict[str, Any]) -> LiveServer:
    data_dir = base_dir / "data"
    local_root = base_dir / "local"
    local_root.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        data_dir=data_dir,
        s3_endpoint_url=s3_endpoint,
        allow_local_roots=(local_root,),
        workers=2,
    ).with_overrides(**overrides)
    runtime = build_runtime(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    limits = uvicorn_limits(
        header_timeout_s=settings.header_timeout_s, max_connections=settings.max_connections
    )
    app = create_app(runtime)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, **limits)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            close_runtime(runtime)
            raise RuntimeError("the OpenLookout test server did not start")
        time.sleep(0.01)
    return LiveServer(f"http://127.0.0.1:{port}", runtime, data_dir, local_root, server, thread)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with moto_s3_endpoint() as url:
        yield url


@pytest.fixture
def s3(s3_endpoint: str) -> Any:
    return s3_client(s3_endpoint)


def s3_client(endpoint: str) -> Any:
    """A boto3 S3 client for the loopback S3 server at ``endpoint``, with the test credentials."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=S3_TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture
def make_server(tmp_path: Path, s3_endpoint: str) -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def make(**settings_overrides: Any) -> LiveServer:
        live = _start_server(tmp_path / f"server{len(started)}", s3_endpoint, settings_overrides)
        started.append(live)
        return live

    yield make
    for live in reversed(started):
        live.stop()


@pytest.fixture
def server(make_server: Callable[..., LiveServer]) -> LiveServer:
    return make_server()


@pytest.fixture
def lv(server: LiveServer) -> Any:
    return lookoutvision_client(server.url, retries={"total_max_attempts": 1})


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str) -> Iterator[LiveServer]:
    live = _start_server(tmp_path_factory.mktemp("shared-server"), s3_endpoint, {})
    yield live
    live.stop()


@pytest.fixture(scope="module")
def shared_lv(shared_server: LiveServer) -> Any:
    return lookoutvision_client(shared_server.url, retries={"total_max_attempts": 1})


ENGINES = ("local", "ray")


@pytest.fixture(params=ENGINES)
def engine_settings(request: pytest.FixtureRequest, s3_endpoint: str) -> dict[str, Any]:
    """Server settings for each engine (see the module doc); ``ray`` needs the Ray cluster."""
    return settings_for_engine(request, str(request.param), s3_endpoint)


def settings_for_engine(request: pytest.FixtureRequest, engine: str, s3_endpoint: str) -> dict[str, Any]:
    """``{}`` for the local engine; for ``ray`` the session's cluster and a fresh blob bucket."""
    if engine == "local":
        return {}
    cluster: RayCluster = request.getfixturevalue("ray_cluster")
    bucket = f"ray-blobs-{len(cluster.buckets)}"
    cluster.buckets.append(bucket)
    s3_client(s3_endpoint).create_bucket(Bucket=bucket)
    return {"engine": "ray", "ray_address": cluster.address, "blob_url": f"s3://{bucket}/blobs"}
