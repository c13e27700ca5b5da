"""Opaque, signed pagination tokens bound to the query that produced them.

A token carries the last key of the page it ends (any JSON value; tuples come back as lists) and an
HMAC-SHA256 over that key *and* the query's scope (the operation name, the caller's account and
region, and every filter). The scope itself is not stored in the token: ``decode_token`` recomputes
the signature with the scope of the request at hand, so a token replayed against a different query,
a different caller, another installation or edited by hand is rejected with a ValidationException.

Tokens are plain base64 (``[A-Za-z0-9+/=]``) and at most 2048 characters, the API model's limits.

The signing secret is per installation: ``openlookout.runtime`` loads it from the database and calls
``install_secret`` at start-up. Until then (unit tests without a runtime) a random per-process secret
is used. Several runtimes in one process (tests) each install theirs; tokens signed with any
installed secret are accepted and new tokens are signed with the most recently installed one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
from typing import Any

from openlookout.errors import ValidationException

MAX_TOKEN_CHARS = 2048
_VERSION = 1
_MAC_BYTES = 32

_lock = threading.Lock()
_signing_secret: bytes = secrets.token_bytes(32)
_accepted_secrets: list[bytes] = [_signing_secret]


def install_secret(secret: bytes) -> None:
    """Make ``secret`` the signing secret (and keep accepting tokens signed with earlier ones)."""
    global _signing_secret
    if len(secret) < 16:
        raise ValueError("paging secret must be at least 16 bytes")
    with _lock:
        _signing_secret = secret
        if secret not in _accepted_secrets:
            _accepted_secrets.append(secret)


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _mac(secret: bytes, scope: dict[str, Any], body: bytes) -> bytes:
    return hmac.new(secret, _canonical(scope) + b"\x00" + body, hashlib.sha256).digest()


def encode_token(scope: dict[str, Any], last_key: Any) -> str:
    """A token for the page after ``last_key`` of the query described by ``scope``."""
    try:
        body = _canonical({"v": _VERSION, "k": last_key})
    except (TypeError, ValueError) as exc:
        raise TypeError(f"paging key must be JSON-serialisable: {exc}") from exc
    with _lock:
        secret = _signing_secret
    token = base64.b64encode(_mac(secret, scope, body) + body).decode("ascii")
    if len(token) > MAX_TOKEN_CHARS:
        raise ValueError("paging key too large for a 2048-character token")
    return token


def decode_token(token: str | None, scope: dict[str, Any]) -> Any | None:
    """The last key stored in ``token`` (None when there is no token), checked against ``scope``."""
    if token is None or token == "":
        return None
    if len(token) > MAX_TOKEN_CHARS:
        raise ValidationException("The pagination token is too long.")
    try:
        raw = base64.b64decode(token.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValidationException("The pagination token is not valid.") from None
    mac, body = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
    with _lock:
        candidates = list(reversed(_accepted_secrets))
    if len(mac) != _MAC_BYTES or not any(
        hmac.compare_digest(mac, _mac(secret, scope, body)) for secret in candidates
    ):
        raise ValidationException(
            "The pagination token is not valid for this request: it was changed, comes from a "
            "different query, or was issued by another installation."
        )
    try:
        payload = json.loads(body)
    except ValueError:
        raise ValidationException("The pagination token is not valid.") from None
    if not isinstance(payload, dict) or payload.get("v") != _VERSION or "k" not in payload:
        raise ValidationException("The pagination token is not valid.")
    return payload["k"]
