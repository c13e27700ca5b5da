"""A loopback S3 endpoint shared by the unit tests that need one (blobs, sources)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from tests.helpers.moto_s3 import moto_s3_endpoint


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a moto S3 server on 127.0.0.1 (free port), with dummy credentials."""
    with moto_s3_endpoint() as url:
        yield url


@pytest.fixture
def s3_client(moto_endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
