"""The CLI's only way to the server: the public API over HTTP.

AWS operations go through a real boto3 client (``openlookout.client.lookoutvision_client``); our
extension routes under ``/openlookout/v1/`` go through httpx, signed with SigV4 using the same
credentials and region so that both land in the same account and region scope.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

import boto3
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from openlookout.cli.errors import ApiError, ServerUnreachable

EXTENSION_PREFIX = "/openlookout/v1"
SIGNING_NAME = "lookoutvision"
# Used when no AWS credentials are configured: the server accepts any key.
PLACEHOLDER_KEY = "openlookout"


def resolve_credentials() -> Credentials:
    """The usual AWS credential chain, or a placeholder pair when nothing is configured."""
    found = boto3.session.Session().get_credentials()
    if found is None:
        return Credentials(PLACEHOLDER_KEY, PLACEHOLDER_KEY)
    frozen = found.get_frozen_credentials()
    if not frozen.access_key or not frozen.secret_key:
        return Credentials(PLACEHOLDER_KEY, PLACEHOLDER_KEY)
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token)


class ApiClient:
    """Lazily opened boto3 and httpx clients for one endpoint, region and set of credentials."""

    def __init__(self, endpoint_url: str, region: str, *, timeout: float = 60.0) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.region = region
        self.timeout = timeout
        self.credentials = resolve_credentials()
        self._lv: Any = None
        self._http: httpx.Client | None = None

    @property
    def lv(self) -> Any:
        """The boto3 ``lookoutvision`` client (retries off: a down server fails fast)."""
        if self._lv is None:
            from openlookout.client import lookoutvision_client

            self._lv = lookoutvision_client(
                self.endpoint_url,
                region_name=self.region,
                aws_access_key_id=self.credentials.access_key,
                aws_secret_access_key=self.credentials.secret_key,
                retries={"max_attempts": 1, "mode": "standard"},
                read_timeout=self.timeout,
            )
        return self._lv

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout)
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def extension(
        self,
        method: str,
        path_segments: list[str],
        *,
        query: dict[str, str] | None = None,
        body: bytes = b"",
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """Call ``/openlookout/v1/<segments>``; returns the JSON object or raises ``ApiError``."""
        path = EXTENSION_PREFIX + "".join("/" + quote(segment, safe="") for segment in path_segments)
        url = self.endpoint_url + path
        if query:
            url += "?" + urlencode(query, quote_via=quote)
        headers = self._signed_headers(method, url, body, content_type)
        try:
            response = self.http.request(method, url, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise ServerUnreachable(self.endpoint_url, _transport_reason(exc)) from exc
        return _decode(response)

    def extension_json(
        self, method: str, path_segments: list[str], payload: dict[str, Any]
    ) -> dict[str, Any]:
        return self.extension(method, path_segments, body=json.dumps(payload).encode())

    def _signed_headers(self, method: str, url: str, body: bytes, content_type: str) -> dict[str, str]:
        request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": content_type})
        SigV4Auth(self.credentials, SIGNING_NAME, self.region).add_auth(request)
        return {key: str(value) for key, value in request.headers.items()}


def _transport_reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "no connection"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return "connection lost"


def _decode(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json() if response.content else {}
    except ValueError:
        payload = None
    if response.is_success:
        if isinstance(payload, dict):
            return payload
        raise ApiError("InvalidResponse", "the server answered with something other than a JSON object", 0)
    code = response.headers.get("x-amzn-ErrorType", "").split(":")[0]
    message = ""
    if isinstance(payload, dict):
        code = code or str(payload.get("__type") or payload.get("code") or "")
        message = str(payload.get("message") or payload.get("Message") or "")
    if not message:
        message = response.text.strip()[:300] or response.reason_phrase
    raise ApiError(code or f"HTTP{response.status_code}", message, response.status_code)
