"""Opaque, signed pagination tokens bound to the query that produced them.

A token carries the last key of the page it ends (any JSON value; tuples come back as lists) and an
HMAC-SHA256 over that key *and* the query's scope (the operation name, the caller's account and
region, and every filter). The scope itself is not stored in the token: ``decode_token`` recomputes
the signature with the scope of the request at hand, so a token replayed against a different query,
a different caller, another installation or edited by hand is rejected with a ValidationException.

Tokens are plain base64 (``[A-Za-z0-9+/=]``) and at most 2048 characters, the API model's limits.

The signing secret is per installation: ``openlookout.runtime`` loads it from the database and calls
``install_secret(secret, installation=runtime.db)`` at start-up; the operation table runs every
handler inside ``installation_scope(runtime.db)``, so tokens are signed and checked with that
installation's secret only (several servers in one test process do not accept each other's tokens).
Outside such a scope (unit tests calling service functions directly) the most recently installed
secret signs, and a token signed by any installed secret is accepted. Before any installation a
random per-process secret is used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from openlookout.errors import ValidationException

MAX_TOKEN_CHARS = 2048
_VERSION = 1
_MAC_BYTES = 32

_lock = threading.Lock()
_signing_secret: bytes = secrets.token_bytes(32)
_accepted_secrets: list[bytes] = [_signing_secret]
_by_installation: weakref.WeakKeyDictionary[Any, bytes] = weakref.WeakKeyDictionary()
_active_secret: ContextVar[bytes | None] = ContextVar("openlookout_paging_secret", default=None)


def install_secret(secret: bytes, *, installation: Any = None) -> None:
    """Make ``secret`` the default signing secret, and the secret of ``installation`` if given."""
    global _signing_secret
    if len(secret) < 16:
        raise ValueError("paging secret must be at least 16 bytes")
    with _lock:
        _signing_secret = secret
        if secret not in _accepted_secrets:
            _accepted_secrets.append(secret)
        if installation is not None:
            _by_installation[installation] = secret


@contextmanager
def installation_scope(installation: Any) -> Iterator[None]:
    """Sign and check tokens with ``installation``'s secret only, within the block (this context)."""
    secret = None
    if installation is not None:
        with _lock:
            try:
                secret = _by_installation.get(installation)
            except TypeError:  # not weak-referenceable, so never installed
                secret = None
    if secret is None:
        yield
        return
    token = _active_secret.set(secret)
    try:
        yield
    finally:
        _active_secret.reset(token)


def _current_signing_secret() -> bytes:
    active = _active_secret.get()
    if active is not None:
        return active
    with _lock:
        return _signing_secret


def _verification_secrets() -> list[bytes]:
    active = _active_secret.get()
    if active is not None:
        return [active]
    with _lock:
        return list(reversed(_accepted_secrets))


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
    secret = _current_signing_secret()
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
    candidates = _verification_secrets()
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
