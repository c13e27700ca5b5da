"""CLI test fixtures: the live-server fixtures of the contract suite plus a CLI runner bound to it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tests.contract.conftest import LiveServer, lv, make_server, s3, s3_endpoint, server
from typer.testing import CliRunner

from openlookout.cli.main import app

__all__ = ["lv", "make_server", "s3", "s3_endpoint", "server"]


@dataclass
class CliResult:
    """What one CLI run produced."""

    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


RunCli = Callable[..., CliResult]


def invoke(*args: str) -> CliResult:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli(server: LiveServer) -> RunCli:
    """Run ``openlookout --endpoint-url <server> <args>`` in-process."""

    def run(*args: str) -> CliResult:
        return invoke("--endpoint-url", server.url, *args)

    return run


@pytest.fixture
def dead_endpoint() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def start_serve(endpoint: str, *flags: str) -> tuple[subprocess.Popen[str], httpx.Response]:
    """``openlookout serve --port <endpoint's port> <flags>`` as a child process (without this
    environment's OPENLOOKOUT_* settings), and its answer to the first ListProjects once it
    listens. The caller stops it (SIGINT) and reads its output."""
    port = endpoint.rsplit(":", 1)[1]
    command = [sys.executable, "-m", "openlookout.cli", "serve", "--port", port, *flags]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLOOKOUT_")}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise AssertionError(process.communicate()[0])
        try:
            return process, httpx.get(f"{endpoint}/2020-11-20/projects", timeout=1)
        except httpx.TransportError:
            if time.monotonic() >= deadline:
                process.kill()
                raise AssertionError("the server did not start within 30 s") from None
            time.sleep(0.1)


def assert_one_line_error(result: CliResult, starts_with: str, exit_code: int = 1) -> str:
    """The run failed with exactly one ``error: ...`` line on stderr and no traceback."""
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: " + starts_with), lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]
