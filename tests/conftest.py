"""Test-wide set-up: make ``tests.helpers`` importable and share the PostgreSQL fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.helpers.postgres import fresh_postgres_url, postgres_cluster, postgres_url  # noqa: E402
from tests.helpers.ray_cluster import ray_cluster  # noqa: E402

__all__ = ["fresh_postgres_url", "postgres_cluster", "postgres_url", "ray_cluster"]
