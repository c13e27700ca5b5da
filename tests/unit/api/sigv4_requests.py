"""Helpers for the SigV4 tests: requests signed by botocore's own signer, as Starlette requests.

``signed(...)`` signs a request with ``botocore.auth.SigV4Auth`` (header form) or
``SigV4QueryAuth`` (presigned form) at a chosen time and returns what would arrive on the wire;
``as_request`` turns that into the ``starlette.requests.Request`` the verifier reads.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace
from unittest import mock
from urllib.parse import unquote, urlsplit

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.requests import Request

HOST = "127.0.0.1"
NOW = datetime.datetime(2025, 3, 14, 15, 9, 26, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class WireRequest:
    """A request as it arrives: method, raw path, raw query, headers in order, body."""

    method: str
    raw_path: str
    raw_query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def with_header(self, name: str, value: str) -> WireRequest:
        kept = tuple((k, v) for k, v in self.headers if k.lower() != name.lower())
        return replace(self, headers=(*kept, (name, value)))

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def signed(
    method: str,
    path: str,
    *,
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    key: str = "AKIDEXAMPLE0000000001",
    secret: str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    region: str = "us-east-1",
    service: str = "lookoutvision",
    at: datetime.datetime = NOW,
    presign_expires: int | None = None,
) -> WireRequest:
    """A request signed by botocore at time ``at`` (presigned when ``presign_expires`` is given)."""
    url = f"http://{HOST}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    credentials = Credentials(key, secret)
    signer = (
        SigV4QueryAuth(credentials, service, region, expires=presign_expires)
        if presign_expires is not None
        else SigV4Auth(credentials, service, region)
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
        signer.add_auth(request)
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    sent = [("host", HOST), *((k, str(v)) for k, v in prepared.headers.items())]
    if body:
        sent.append(("content-length", str(len(body))))
    return WireRequest(method, parts.path, parts.query, tuple(sent), body)


def as_request(wire: WireRequest) -> Request:
    """The Starlette request for ``wire`` (body included)."""
    scope = {
        "type": "http",
        "method": wire.method,
        "path": unquote(wire.raw_path),
        "raw_path": wire.raw_path.encode("latin-1"),
        "query_string": wire.raw_query.encode("latin-1"),
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in wire.headers],
        "scheme": "http",
        "server": (HOST, 80),
    }
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": wire.body, "more_body": False}

    return Request(scope, receive)
