"""Client-token records (``idempotency_tokens`` table): claim, complete, release, look up, purge.

A request with a token first *claims* (account, region, operation, token) by inserting a pending
row (``status_code`` 0); the unique constraint decides between concurrent requests. The winner
runs the operation and then stores the response (``complete_token``) or, on failure, deletes its
claim (``release_token``) so that only successful responses are remembered. Everyone else reads
the row: a finished one is replayed, a pending one is waited on.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from openlookout.store.db import Database
from openlookout.store.tables import idempotency_tokens as tokens

TOKEN_LIFETIME_SECONDS = 8 * 3600
PENDING = 0


@dataclass(frozen=True)
class TokenKey:
    """What a client token is unique within."""

    account_id: str
    region: str
    operation: str
    token: str


@dataclass(frozen=True)
class TokenRecord:
    """A stored claim: pending (``status_code == 0``) or finished with its response."""

    params_sha256: str
    status_code: int
    response_json: str
    created_at: float

    @property
    def pending(self) -> bool:
        return self.status_code == PENDING


def _matches(key: TokenKey) -> ColumnElement[bool]:
    return and_(
        tokens.c.account_id == key.account_id,
        tokens.c.region == key.region,
        tokens.c.operation == key.operation,
        tokens.c.token == key.token,
    )


def claim_token(
    db: Database,
    key: TokenKey,
    params_sha256: str,
    *,
    now: float,
    lifetime: float = TOKEN_LIFETIME_SECONDS,
    stale_pending_after: float = 900.0,
) -> TokenRecord | None:
    """Claim the token: ``None`` when this caller now owns it, else the existing record.

    Records older than ``lifetime`` are forgotten first; so are pending claims older than
    ``stale_pending_after`` (left behind by a server that stopped mid-request).
    """
    with db.begin() as conn:
        conn.execute(
            delete(tokens).where(
                _matches(key),
                (tokens.c.created_at < now - lifetime)
                | ((tokens.c.status_code == PENDING) & (tokens.c.created_at < now - stale_pending_after)),
            )
        )
    try:
        with db.begin() as conn:
            conn.execute(
                insert(tokens).values(
                    account_id=key.account_id,
                    region=key.region,
                    operation=key.operation,
                    token=key.token,
                    params_sha256=params_sha256,
                    status_code=PENDING,
                    response_json="",
                    created_at=now,
                )
            )
        return None
    except IntegrityError:
        pass
    found = find_token(db, key)
    if found is None:  # released between our insert and this read: let the caller try again
        return TokenRecord(params_sha256, PENDING, "", now)
    return found


def find_token(db: Database, key: TokenKey) -> TokenRecord | None:
    """The record for ``key``, if any."""
    with db.begin() as conn:
        row = conn.execute(
            select(
                tokens.c.params_sha256, tokens.c.status_code, tokens.c.response_json, tokens.c.created_at
            ).where(_matches(key))
        ).first()
    if row is None:
        return None
    return TokenRecord(row.params_sha256, row.status_code, row.response_json, row.created_at)


def complete_token(db: Database, key: TokenKey, status_code: int, response_json: str) -> None:
    """Store the successful response of the claim's owner."""
    with db.begin() as conn:
        conn.execute(
            update(tokens)
            .where(_matches(key), tokens.c.status_code == PENDING)
            .values(status_code=status_code, response_json=response_json)
        )


def release_token(db: Database, key: TokenKey) -> None:
    """Drop a pending claim whose operation failed (failures are not remembered)."""
    with db.begin() as conn:
        conn.execute(delete(tokens).where(_matches(key), tokens.c.status_code == PENDING))


def purge_expired(db: Database, *, now: float, lifetime: float = TOKEN_LIFETIME_SECONDS) -> int:
    """Delete every record older than ``lifetime``; returns how many went."""
    with db.begin() as conn:
        result = conn.execute(delete(tokens).where(tokens.c.created_at < now - lifetime))
    return int(result.rowcount or 0)
