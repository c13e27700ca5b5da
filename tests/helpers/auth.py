"""Two accounts with keys in a credentials file, each with its own S3 bucket, on a live server.

``auth_server(tmp, s3_endpoint, s3)`` starts a server with ``credentials_file`` and
``s3_allow`` set (buckets created on the moto endpoint); ``client_for(server, key)`` is a real boto3
``lookoutvision`` client signing with that key; ``signed_httpx`` signs a request with botocore's
signer for hand-made requests (console-less API calls, tampering).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from openlookout.auth.credentials import HEADER, AccessKey
from openlookout.client import lookoutvision_client

A1 = AccessKey("OLAKAAAAAAAAAAAAAAA1", "first-secret-of-account-a-000000000001", "111111111111")
A2 = AccessKey("OLAKAAAAAAAAAAAAAAA2", "second-secret-of-account-a-00000000002", "111111111111")
B1 = AccessKey("OLAKBBBBBBBBBBBBBBB1", "the-secret-of-account-b-00000000000001", "222222222222")
AUTH_ERRORS = {
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
    "IncompleteSignatureException",
    "AccessDeniedException",
}


@dataclass(frozen=True)
class Tenants:
    """The buckets of the two accounts."""

    bucket_a: str
    bucket_b: str


def write_credentials(path: Path, keys: list[AccessKey]) -> Path:
    lines = [",".join(HEADER)] + [f"{k.access_key_id},{k.secret_access_key},{k.account_id}" for k in keys]
    path.write_text("\n".join(lines) + "\n")
    return path


def tenant_settings(base: Path, s3: Any) -> tuple[dict[str, Any], Tenants]:
    """Settings overrides for a server with A1, A2 and B1, and a bucket granted to each account."""
    suffix = uuid.uuid4().hex[:10]
    tenants = Tenants(f"tenant-a-{suffix}", f"tenant-b-{suffix}")
    for bucket in (tenants.bucket_a, tenants.bucket_b):
        s3.create_bucket(Bucket=bucket)
    base.mkdir(parents=True, exist_ok=True)
    credentials = write_credentials(base / "credentials.csv", [A1, A2, B1])
    overrides = {
        "credentials_file": str(credentials),
        "s3_allow": (f"{A1.account_id}={tenants.bucket_a}", f"{B1.account_id}={tenants.bucket_b}"),
    }
    return overrides, tenants


def client_for(url: str, key: AccessKey, **config: Any) -> Any:
    """A real boto3 client signing with ``key`` (no retries)."""
    return lookoutvision_client(
        url,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        retries={"total_max_attempts": 1},
        **config,
    )


def signed_request(
    method: str, url: str, key: AccessKey, *, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[str, dict[str, str], bytes]:
    """(url, headers, body) of a request signed by botocore's SigV4 signer with ``key``."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), "lookoutvision", "us-east-1").add_auth(
        request
    )
    return url, {k: str(v) for k, v in request.headers.items()}, body


def send(method: str, url: str, headers: dict[str, str], body: bytes = b"") -> httpx.Response:
    return httpx.request(method, url, headers=headers, content=body, timeout=30)
