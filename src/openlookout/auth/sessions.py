"""Console sessions: a signed, expiring token naming the access key a person signed in with.

The token is ``<payload>.<mac>``: the payload (URL-safe base64 JSON) holds the access key id, its
account, the expiry time and a random nonce; the MAC is HMAC-SHA256 over the payload under the
server's session secret and a digest of the key's own secret. A session therefore ends when it
expires, when the server restarts with a new session secret, and when its key is removed from the
credentials file or given a new secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from openlookout.auth.credentials import AccessKey, KeyStore

SESSION_SECONDS = 12 * 3600
MAX_TOKEN_CHARS = 1024


@dataclass(frozen=True)
class Session:
    """A valid session: the key it was opened with and when it ends."""

    key: AccessKey
    expires_at: float


class SessionSigner:
    """Issues and checks session tokens with one secret (random per server unless given)."""

    def __init__(self, secret: bytes | None = None, *, lifetime: float = SESSION_SECONDS) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self.lifetime = lifetime

    def issue(self, key: AccessKey, *, now: float | None = None) -> str:
        """A token for a person who proved they hold ``key``."""
        expires = int((time.time() if now is None else now) + self.lifetime)
        document = {"k": key.access_key_id, "a": key.account_id, "e": expires, "n": secrets.token_hex(8)}
        payload = _b64(json.dumps(document, separators=(",", ":")).encode())
        return f"{payload}.{self._mac(payload, key)}"

    def check(self, token: str, keys: KeyStore, *, now: float | None = None) -> Session | None:
        """The session of a token, or None when it is malformed, forged, expired or its key is gone."""
        if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            return None
        payload, mac = token.split(".")
        try:
            document = json.loads(_unb64(payload))
        except (ValueError, binascii.Error):
            return None
        if not isinstance(document, dict):
            return None
        key_id, account, expires = document.get("k"), document.get("a"), document.get("e")
        if not isinstance(key_id, str) or not isinstance(account, str) or not isinstance(expires, int):
            return None
        key = keys.lookup(key_id)
        if key is None or key.account_id != account:
            return None
        if not hmac.compare_digest(mac, self._mac(payload, key)):
            return None
        if expires <= (time.time() if now is None else now):
            return None
        return Session(key, float(expires))

    def _mac(self, payload: str, key: AccessKey) -> str:
        secret_digest = hashlib.sha256(key.secret_access_key.encode("utf-8")).digest()
        digest = hmac.new(self._secret + secret_digest, payload.encode("ascii"), hashlib.sha256).digest()
        return _b64(digest)


def secret_matches(key: AccessKey, offered: str) -> bool:
    """True when ``offered`` is the key's secret (compared in constant time)."""
    return hmac.compare_digest(key.secret_access_key.encode("utf-8"), offered.encode("utf-8"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
