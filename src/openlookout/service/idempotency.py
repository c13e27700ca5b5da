"""ClientToken handling: replay the stored response of a repeated request instead of redoing the work.

Same (account, region, operation, token) with the same other parameters within 8 hours -> the
original status and body; with different parameters -> ``ConflictException``. A concurrent repeat
waits for the first request to finish. Only successful responses are stored.

The API layer runs every operation call that carries a ClientToken through ``IdempotencyGuard.run``
with the encoded answer (status code and JSON text) the call produces; the rules about tokens and
their records in the database stay here, behind that one function.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openlookout.errors import ConflictException
from openlookout.service.context import RequestContext
from openlookout.store.db import Database
from openlookout.store.idempotency import (
    TOKEN_LIFETIME_SECONDS,
    TokenKey,
    claim_token,
    complete_token,
    purge_expired,
    release_token,
)

WAIT_FOR_FIRST_SECONDS = 30.0
_POLL_SECONDS = 0.05
_PURGE_EVERY_SECONDS = 600.0


@dataclass(frozen=True)
class RecordedResponse:
    """What gets stored and replayed: the answer's status code and its JSON body text."""

    status_code: int
    body: str


def resource_type_of(operation: str) -> str:
    """The ``ResourceType`` a token conflict names, from the operation's resource."""
    if "Packaging" in operation:
        return "MODEL_PACKAGE_JOB"
    if "Dataset" in operation:
        return "DATASET"
    if "Model" in operation:
        return "MODEL"
    return "PROJECT"


def params_fingerprint(params: dict[str, Any], token_member: str) -> str:
    """SHA-256 of the parameters other than the token, in a canonical JSON form."""
    relevant = {k: v for k, v in params.items() if k != token_member}
    text = json.dumps(relevant, sort_keys=True, separators=(",", ":"), default=_canonical)
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, datetime):
        return {"epoch": value.timestamp()}
    raise TypeError(f"cannot fingerprint {type(value).__name__}")


class IdempotencyGuard:
    """Runs an operation at most once per client token (see module docstring)."""

    def __init__(self, db: Database, *, lifetime: float = TOKEN_LIFETIME_SECONDS) -> None:
        self.db = db
        self.lifetime = lifetime
        self._last_purge = 0.0

    def run(
        self,
        ctx: RequestContext,
        operation: str,
        token: str,
        params: dict[str, Any],
        token_member: str,
        call: Callable[[], RecordedResponse],
    ) -> RecordedResponse:
        key = TokenKey(ctx.account_id, ctx.region, operation, token)
        fingerprint = params_fingerprint(params, token_member)
        self._purge_now_and_then()
        deadline = time.monotonic() + WAIT_FOR_FIRST_SECONDS
        while True:
            record = claim_token(self.db, key, fingerprint, now=time.time(), lifetime=self.lifetime)
            if record is None:
                return self._run_owned(key, call)
            if record.params_sha256 != fingerprint:
                raise self._conflict(operation, token, params, "was already used with different parameters")
            if not record.pending:
                return RecordedResponse(record.status_code, record.response_json)
            if time.monotonic() > deadline:
                raise self._conflict(operation, token, params, "belongs to a request that is still running")
            time.sleep(_POLL_SECONDS)

    def _run_owned(self, key: TokenKey, call: Callable[[], RecordedResponse]) -> RecordedResponse:
        try:
            response = call()
        except BaseException:
            release_token(self.db, key)
            raise
        complete_token(self.db, key, response.status_code, response.body)
        return response

    def _conflict(self, operation: str, token: str, params: dict[str, Any], why: str) -> ConflictException:
        resource_id = str(params.get("ProjectName") or params.get("ResourceArn") or token)
        return ConflictException(
            f"The client token '{token}' for {operation} {why}.",
            resource_id=resource_id,
            resource_type=resource_type_of(operation),
        )

    def _purge_now_and_then(self) -> None:
        now = time.time()
        if now - self._last_purge >= _PURGE_EVERY_SECONDS:
            self._last_purge = now
            purge_expired(self.db, now=now, lifetime=self.lifetime)
