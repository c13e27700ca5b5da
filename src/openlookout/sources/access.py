"""What one account's references may reach: its S3 grants and the stored blobs it owns.

``--s3-allow ACCOUNT=BUCKET[/PREFIX]`` (repeatable; ``OPENLOOKOUT_S3_ALLOW`` comma-separated) gives
an account a bucket, or the keys of a bucket that start with a prefix. When the server checks
signatures, an account reaches only the buckets it was given (``SourceAccess.s3_grants``); without
a credentials file every account reaches every bucket, as the server's own S3 credentials allow.
``upload://<sha256>/...`` references resolve only for an account that stored those bytes itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from openlookout.sources.errors import SourceError

_ACCOUNT = re.compile(r"[0-9]{12}")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class SourceAccessDenied(SourceError):
    """The account may not use this bucket (or this part of it); ``bucket`` names it."""

    def __init__(self, reason: str, bucket: str) -> None:
        super().__init__(reason)
        self.bucket = bucket


@dataclass(frozen=True)
class S3Grant:
    """An account's right to read and write the keys of ``bucket`` that start with ``prefix``."""

    account_id: str
    bucket: str
    prefix: str

    def covers(self, account_id: str, bucket: str, key: str) -> bool:
        return self.account_id == account_id and self.bucket == bucket and key.startswith(self.prefix)


def parse_grants(items: tuple[str, ...]) -> tuple[S3Grant, ...]:
    """The grants written as ``ACCOUNT=BUCKET[/PREFIX]``; ``ValueError`` naming a malformed one."""
    grants: list[S3Grant] = []
    for item in items:
        account, equals, location = item.strip().partition("=")
        bucket, _, prefix = location.partition("/")
        if not equals or _ACCOUNT.fullmatch(account) is None or _BUCKET.fullmatch(bucket) is None:
            raise ValueError(
                f"the S3 grant {item[:200]!r} is not ACCOUNT=BUCKET[/PREFIX] with a 12-digit account "
                "and an S3 bucket name"
            )
        grants.append(S3Grant(account, bucket, prefix))
    return tuple(grants)


@dataclass(frozen=True)
class SourceAccess:
    """What the references of one account may reach.

    ``s3_grants`` None: any bucket (a server without credentials). ``owns_blob(sha256)``: whether
    the account stored that blob.
    """

    account_id: str
    s3_grants: tuple[S3Grant, ...] | None
    owns_blob: Callable[[str], bool]

    def may_use(self, bucket: str, key: str) -> bool:
        """True when the account may read or write ``key`` (or list the prefix ``key``) of ``bucket``."""
        if self.s3_grants is None:
            return True
        return any(grant.covers(self.account_id, bucket, key) for grant in self.s3_grants)

    def require(self, bucket: str, key: str) -> None:
        """``SourceAccessDenied`` naming the bucket when the account may not use ``s3://bucket/key``."""
        if not self.may_use(bucket, key):
            reason = f"account {self.account_id} may not use S3 bucket {bucket} (not granted with --s3-allow)"
            raise SourceAccessDenied(reason, bucket)
