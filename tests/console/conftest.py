"""The console tests use the contract suite's live-server fixtures (a real server per test)."""

from __future__ import annotations

from tests.contract.conftest import lv, make_server, s3, s3_endpoint, server

__all__ = ["lv", "make_server", "s3", "s3_endpoint", "server"]
