"""Opaque, signed pagination tokens bound to the query that produced them.

A token carries the last key of the page it ends (any JSON value; tuples come back as lists) and an
HMAC-SHA256 over that key *and* the query's scope (the operation name, the caller's account and
region, and every filter). The scope itself is not stored in the token: ``Pager.decode`` recomputes
the signature with the scope of the request at hand, so a token replayed against a different query,
a different caller, another installation or edited by hand is rejected with a ValidationException.

Tokens are plain base64 (``[A-Za-z0-9+/=]``) and at most 2048 characters, the API model's limits.
Each installation signs with its own secret: the runtime builds one ``Pager`` from the
``paging_secret`` setting, or from the random secret kept in the installation's database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from openlookout.errors import ValidationException

MAX_TOKEN_CHARS = 2048
MIN_SECRET_BYTES = 16
_VERSION = 1
_MAC_BYTES = 32


class Pager:
    """Signs and checks the pagination tokens of one installation."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the paging secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret

    def encode(self, scope: dict[str, Any], last_key: Any) -> str:
        """A token for the page after ``last_key`` of the query described by ``scope``."""
        try:
            body = _canonical({"v": _VERSION, "k": last_key})
        except (TypeError, ValueError) as exc:
            raise TypeError(f"paging key must be JSON-serialisable: {exc}") from exc
        token = base64.b64encode(self._mac(scope, body) + body).decode("ascii")
        if len(token) > MAX_TOKEN_CHARS:
            raise ValueError("paging key too large for a 2048-character token")
        return token

    def decode(self, token: str | None, scope: dict[str, Any]) -> Any | None:
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
        if len(mac) != _MAC_BYTES or not hmac.compare_digest(mac, self._mac(scope, body)):
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

    def _mac(self, scope: dict[str, Any], body: bytes) -> bytes:
        return hmac.new(self._secret, _canonical(scope) + b"\x00" + body, hashlib.sha256).digest()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
