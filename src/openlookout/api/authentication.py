"""Whose request is it: verified SigV4 when a credentials file is configured, the scope's claim otherwise.

With keys (``--credentials-file``) every API request must carry a valid AWS Signature Version 4,
in the ``Authorization`` header or as a presigned query, for the service ``lookoutvision``; the
caller's account is the key's account and the region the scope's. Failures answer as AWS does,
all with status 403:

- no signature at all: ``MissingAuthenticationTokenException``;
- a malformed ``Authorization`` header, credential scope or presigned query, or a request that
  leaves ``host``, the date, ``content-type`` (with a body) or an ``x-amz-*`` header unsigned:
  ``IncompleteSignatureException``;
- an access key id the credentials file does not hold, or a session token (there are none):
  ``UnrecognizedClientException``;
- a wrong signature (any change to the method, path, query, a signed header or the body), a
  scope naming another service or another day, a request time more than 15 minutes away from the
  server's clock, an expired presigned request: ``InvalidSignatureException``.

The checks that need no body run first (``check_headers``), so an unsigned client cannot make the
server read a large body; the signature itself is checked once the body is read (``context``).
Without keys the legacy rule holds: the scope's access key is the account when it is 12 digits,
else the default account (the server then listens on loopback only unless told otherwise).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import parse_qsl

from starlette.requests import Request

from openlookout.api.sigv4 import caller_scope
from openlookout.auth import sigv4
from openlookout.auth.credentials import AccessKey, KeyStore
from openlookout.errors import ServiceError
from openlookout.service.context import RequestContext
from openlookout.settings import Settings

SERVICE = "lookoutvision"
MAX_SKEW_SECONDS = 15 * 60
MAX_PRESIGNED_SECONDS = 7 * 24 * 3600
_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_SIGNED_HEADER = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")
_MAX_AUTH_CHARS = 4096


class MissingAuthenticationTokenException(ServiceError):
    code: ClassVar[str] = "MissingAuthenticationTokenException"
    status: ClassVar[int] = 403


class IncompleteSignatureException(ServiceError):
    code: ClassVar[str] = "IncompleteSignatureException"
    status: ClassVar[int] = 403


class UnrecognizedClientException(ServiceError):
    code: ClassVar[str] = "UnrecognizedClientException"
    status: ClassVar[int] = 403


class InvalidSignatureException(ServiceError):
    code: ClassVar[str] = "InvalidSignatureException"
    status: ClassVar[int] = 403


MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)
UNKNOWN_KEY = "The security token included in the request is invalid."


@dataclass(frozen=True)
class SignedRequest:
    """A request whose signature's parts passed every check that needs no body."""

    key: AccessKey
    amz_date: str
    scope: str
    region: str
    signed_headers: list[str]
    signature: str
    presigned: bool


class Authenticator:
    """Decides the caller of API requests for one server (``keys`` None: no verification)."""

    def __init__(
        self, settings: Settings, keys: KeyStore | None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.clock = clock

    @property
    def enabled(self) -> bool:
        return self.keys is not None

    def check_headers(self, request: Request) -> SignedRequest | None:
        """The signature's parts, checked without the body; None when verification is off."""
        if self.keys is None:
            return None
        headers = request.headers
        query = dict(parse_qsl(_raw_query(request), keep_blank_values=True))
        authorization = headers.get("authorization")
        presigned = "X-Amz-Algorithm" in query or "X-Amz-Signature" in query
        if authorization is not None and presigned:
            raise IncompleteSignatureException(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm "
                "query parameter or the Authorization header may be given."
            )
        if authorization is not None:
            credential, signed_headers, signature = _header_parts(authorization)
            amz_date = headers.get("x-amz-date") or ""
            if not amz_date:
                raise IncompleteSignatureException(
                    "Authorization header requires existence of a 'X-Amz-Date' header."
                )
            if "x-amz-date" not in signed_headers:
                raise IncompleteSignatureException("The 'X-Amz-Date' header must be signed.")
        elif presigned:
            credential, signed_headers, signature, amz_date = _query_parts(query)
        else:
            raise MissingAuthenticationTokenException("Missing Authentication Token")
        if "x-amz-security-token" in headers or "X-Amz-Security-Token" in query:
            raise UnrecognizedClientException(UNKNOWN_KEY)
        _require_signed(request, signed_headers)
        key_id, scope, region = self._scope(credential, amz_date)
        self._check_time(amz_date, query.get("X-Amz-Expires") if presigned else None)
        key = self.keys.lookup(key_id)
        if key is None:
            raise UnrecognizedClientException(UNKNOWN_KEY)
        return SignedRequest(key, amz_date, scope, region, signed_headers, signature, presigned)

    def context(
        self, request: Request, signed: SignedRequest | None, body: bytes, request_id: str
    ) -> RequestContext:
        """The caller of a request whose body is ``body``; the 403 errors above when it is not signed
        right."""
        if signed is None:
            return self._unverified_context(request, request_id)
        payload_hash = _payload_hash(request, body)
        canonical = sigv4.canonical_request(
            request.method,
            _raw_path(request),
            _raw_query(request),
            [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw],
            signed.signed_headers,
            payload_hash,
            presigned=signed.presigned,
        )
        to_sign = sigv4.string_to_sign(signed.amz_date, signed.scope, canonical)
        expected = sigv4.signature(
            signed.key.secret_access_key, signed.amz_date[:8], signed.region, SERVICE, to_sign
        )
        if not hmac.compare_digest(expected, signed.signature):
            raise InvalidSignatureException(MISMATCH)
        return RequestContext(account_id=signed.key.account_id, region=signed.region, request_id=request_id)

    def _unverified_context(self, request: Request, request_id: str) -> RequestContext:
        query = dict(parse_qsl(_raw_query(request)))
        scope = caller_scope(request.headers, query, self.settings)
        return RequestContext(account_id=scope.account_id, region=scope.region, request_id=request_id)

    def _scope(self, credential: str, amz_date: str) -> tuple[str, str, str]:
        """(access key id, credential scope without the key, region), or the 403 that fits."""
        parts = credential.split("/")
        if len(parts) != 5 or not parts[0] or parts[4] != sigv4.TERMINATOR:
            raise IncompleteSignatureException(
                "Credential must have exactly 5 slash-delimited elements, e.g. "
                "keyid/date/region/service/aws4_request."
            )
        key_id, date, region, service, _ = parts
        if _AMZ_DATE.fullmatch(amz_date) is None:
            raise IncompleteSignatureException(
                "X-Amz-Date must be in the ISO-8601 basic format YYYYMMDD'T'HHMMSS'Z'."
            )
        if service != SERVICE:
            raise InvalidSignatureException(f"Credential should be scoped to correct service: '{SERVICE}'.")
        if _REGION.fullmatch(region) is None:
            raise InvalidSignatureException(
                f"Credential should be scoped to a valid region, not '{region[:64]}'."
            )
        if date != amz_date[:8]:
            raise InvalidSignatureException(
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
                f"HTTP: '{date[:16]}' != '{amz_date[:8]}', from '{amz_date}'."
            )
        return key_id, "/".join(parts[1:]), region

    def _check_time(self, amz_date: str, expires: str | None) -> None:
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
        except ValueError:
            raise IncompleteSignatureException("X-Amz-Date is not a valid date.") from None
        now = self.clock()
        if signed_at > now + MAX_SKEW_SECONDS:
            raise InvalidSignatureException(
                f"Signature not yet current: {amz_date} is still later than "
                f"{_stamp(now + MAX_SKEW_SECONDS)} ({_stamp(now)} + 15 min.)"
            )
        if expires is None:
            if signed_at < now - MAX_SKEW_SECONDS:
                raise InvalidSignatureException(
                    f"Signature expired: {amz_date} is now earlier than "
                    f"{_stamp(now - MAX_SKEW_SECONDS)} ({_stamp(now)} - 15 min.)"
                )
            return
        if not expires.isdigit() or not 1 <= int(expires) <= MAX_PRESIGNED_SECONDS:
            raise IncompleteSignatureException(
                f"X-Amz-Expires must be a number of seconds from 1 to {MAX_PRESIGNED_SECONDS}."
            )
        if now > signed_at + int(expires):
            until = _stamp(signed_at + int(expires))
            raise InvalidSignatureException(
                f"Signature expired: the presigned request was valid until {until}; it is now {_stamp(now)}."
            )


def _header_parts(authorization: str) -> tuple[str, list[str], str]:
    """(credential, signed header names, signature) of an ``Authorization`` header."""
    if len(authorization) > _MAX_AUTH_CHARS:
        raise IncompleteSignatureException("The Authorization header is too long.")
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != sigv4.ALGORITHM:
        raise IncompleteSignatureException(
            f"Only AWS Signature Version 4 ({sigv4.ALGORITHM}) is supported in the Authorization header."
        )
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, equals, value = item.strip().partition("=")
        if equals:
            fields[name.strip()] = value.strip()
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not fields.get(name)]
    if missing:
        raise IncompleteSignatureException(
            f"Authorization header requires '{missing[0]}' parameter. Authorization={algorithm}"
        )
    return fields["Credential"], _signed_header_list(fields["SignedHeaders"]), _signature(fields["Signature"])


def _query_parts(query: dict[str, str]) -> tuple[str, list[str], str, str]:
    """(credential, signed header names, signature, request time) of a presigned query."""
    if query.get("X-Amz-Algorithm") != sigv4.ALGORITHM:
        raise IncompleteSignatureException(f"X-Amz-Algorithm must be {sigv4.ALGORITHM}.")
    missing = [
        name
        for name in (
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-Expires",
            "X-Amz-SignedHeaders",
            "X-Amz-Signature",
        )
        if not query.get(name)
    ]
    if missing:
        raise IncompleteSignatureException(
            f"A presigned request requires the '{missing[0]}' query parameter."
        )
    return (
        query["X-Amz-Credential"],
        _signed_header_list(query["X-Amz-SignedHeaders"]),
        _signature(query["X-Amz-Signature"]),
        query["X-Amz-Date"],
    )


def _signed_header_list(text: str) -> list[str]:
    names = text.split(";")
    if any(_SIGNED_HEADER.fullmatch(name) is None for name in names) or names != sorted(set(names)):
        raise IncompleteSignatureException(
            "SignedHeaders must list lower-case header names, sorted, separated by semicolons."
        )
    return names


def _signature(text: str) -> str:
    if _SIGNATURE.fullmatch(text) is None:
        raise IncompleteSignatureException("The signature must be 64 lower-case hexadecimal digits.")
    return text


def _require_signed(request: Request, signed: list[str]) -> None:
    """Host, a body's content type and every ``x-amz-*`` header must be covered by the signature."""
    wanted = {"host"}
    headers = request.headers
    has_body = headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in headers
    if has_body and "content-type" in request.headers:
        wanted.add("content-type")
    for name in request.headers:
        if (name.startswith("x-amz-") and name != "x-amz-date") or name == "x-amzn-client-token":
            wanted.add(name)
    unsigned = sorted(wanted - set(signed))
    if unsigned:
        raise IncompleteSignatureException(f"The header '{unsigned[0]}' must be signed.")


def _payload_hash(request: Request, body: bytes) -> str:
    """What the canonical request ends with: the body's SHA-256, as the client declared it."""
    actual = hashlib.sha256(body).hexdigest()
    declared = request.headers.get("x-amz-content-sha256")
    if declared is None or declared == actual:
        return actual
    if declared == sigv4.UNSIGNED_PAYLOAD and not body:
        return declared
    raise InvalidSignatureException(
        "The provided 'x-amz-content-sha256' header does not match what was computed."
    )


def _raw_path(request: Request) -> str:
    raw = request.scope.get("raw_path") or request.url.path.encode()
    return bytes(raw).decode("latin-1").split("?", 1)[0]


def _raw_query(request: Request) -> str:
    return bytes(request.scope.get("query_string", b"")).decode("latin-1")


def _stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y%m%dT%H%M%SZ")
