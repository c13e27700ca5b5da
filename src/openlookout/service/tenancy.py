"""Nothing reachable across accounts: S3 grants, blob ownership, and the access of a job's account.

- ``source_access(runtime, account)``: what that account's references may reach, for every read
  of ``runtime.sources`` (``sources.access.SourceAccess``): with a credentials file only the S3
  buckets ``--s3-allow`` gives the account, and always only the stored blobs it owns.
- ``require_s3(runtime, ctx, bucket, key)``: ``AccessDeniedException`` naming the bucket before
  anything reads or writes an S3 location a request names (manifests, imports, trial sources,
  model outputs, edge packages).
- ``record_blobs`` lets an account read blobs it stored (entries, masks, trial images);
  ``owns_blob`` asks. Another account's blob answers exactly like a blob that never existed.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Connection

from openlookout.errors import AccessDeniedException
from openlookout.service.context import RequestContext, Runtime
from openlookout.sources.access import S3Grant, SourceAccess, parse_grants
from openlookout.store import blob_owners


@lru_cache(maxsize=8)
def _grants(items: tuple[str, ...]) -> tuple[S3Grant, ...]:
    return parse_grants(items)


def s3_grants(runtime: Runtime) -> tuple[S3Grant, ...] | None:
    """The S3 grants in force (None: no credentials file, so every account reaches every bucket)."""
    settings = runtime.settings
    return _grants(settings.s3_allow) if settings.authenticates else None


def source_access(runtime: Runtime, account_id: str) -> SourceAccess:
    """What references read for ``account_id`` may reach."""

    def owns(sha256: str) -> bool:
        return owns_blob(runtime, account_id, sha256)

    return SourceAccess(account_id, s3_grants(runtime), owns)


def dataset_access(runtime: Runtime, dataset_id: int) -> SourceAccess:
    """The access of the account whose project holds the dataset (a job knows only the dataset)."""
    with runtime.db.begin() as conn:
        account = blob_owners.dataset_account(conn, dataset_id)
    return _access_or_nothing(runtime, account)


def project_access(runtime: Runtime, project_id: int) -> SourceAccess:
    """The access of the account that owns the project (for its trials' jobs)."""
    with runtime.db.begin() as conn:
        account = blob_owners.project_account(conn, project_id)
    return _access_or_nothing(runtime, account)


def _access_or_nothing(runtime: Runtime, account: str | None) -> SourceAccess:
    # A project or dataset deleted meanwhile reaches nothing: no bucket and no blob.
    return source_access(runtime, account) if account else SourceAccess("", (), lambda _sha: False)


def require_s3(runtime: Runtime, ctx: RequestContext, bucket: str, key: str) -> None:
    """``AccessDeniedException`` naming ``bucket`` unless the caller's account may use ``key`` in it."""
    access = source_access(runtime, ctx.account_id)
    if not access.may_use(bucket, key):
        raise AccessDeniedException(
            f"Account {ctx.account_id} may not use the S3 bucket {bucket}"
            + (f" at {key}" if key else "")
            + "; the server's operator grants buckets with --s3-allow."
        )


def record_blobs(conn: Connection, account_id: str, *hashes: str | None) -> None:
    """Let ``account_id`` read the blobs ``hashes`` from now on (inside the caller's transaction)."""
    blob_owners.record(conn, account_id, hashes)


def owns_blob(runtime: Runtime, account_id: str, sha256: str) -> bool:
    """True when ``account_id`` stored the blob ``sha256``."""
    with runtime.db.begin() as conn:
        return blob_owners.owns(conn, account_id, sha256)
