"""The one way OpenLookout makes boto3 S3 clients: references, the blob store and model outputs.

Path-style addressing (MinIO, Ceph and moto need it; AWS accepts it), a few standard retries and
bounded timeouts. Clients are thread-safe; they come from one shared session (made under a lock,
since sessions are not) so the S3 service model is loaded once per process.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

DEFAULT_REGION = "us-east-1"

_SESSION_LOCK = threading.Lock()
_SESSION: boto3.session.Session | None = None


def make_s3_client(endpoint_url: str, region: str) -> Any:
    """A boto3 S3 client for ``endpoint_url`` (empty: boto3's default) in ``region``."""
    global _SESSION
    config = Config(
        s3={"addressing_style": "path"},
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
    )
    with _SESSION_LOCK:
        if _SESSION is None:
            _SESSION = boto3.session.Session()
        return _SESSION.client(
            "s3", endpoint_url=endpoint_url or None, region_name=region or DEFAULT_REGION, config=config
        )
