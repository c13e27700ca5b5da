"""Who is calling on a server without a credentials file: the SigV4 scope's claim, unverified.

The access key is not an account id, so the account is the configured default unless the access
key itself is a 12-digit number. The region is the scope's region. Any well-formed scope is
accepted: this is the loopback-only mode. With a credentials file ``api.authentication`` verifies
the signature instead and the account is the key's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from openlookout.errors import AccessDeniedException
from openlookout.settings import Settings

_CREDENTIAL = re.compile(r"Credential=([^,\s]+)")
_REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_ACCOUNT = re.compile(r"[0-9]{12}")


@dataclass(frozen=True)
class CallerScope:
    """The caller as read from the request."""

    account_id: str
    region: str
    access_key: str | None


def caller_scope(headers: Mapping[str, str], query: Mapping[str, str], settings: Settings) -> CallerScope:
    """Read the credential scope from ``Authorization`` (or a presigned ``X-Amz-Credential``)."""
    credential = _credential_from_header(headers.get("authorization")) or query.get("X-Amz-Credential")
    if not credential:
        return CallerScope(settings.default_account_id, settings.default_region, None)
    parts = credential.split("/")
    if len(parts) != 5 or not parts[0] or parts[4] != "aws4_request":
        raise AccessDeniedException(
            "The request's credential scope is malformed; expected "
            "<access key>/<yyyymmdd>/<region>/lookoutvision/aws4_request."
        )
    access_key, _date, region, _service, _terminator = parts
    if _REGION.fullmatch(region) is None:
        raise AccessDeniedException(f"The region '{region[:64]}' in the credential scope is not valid.")
    account = access_key if _ACCOUNT.fullmatch(access_key) else settings.default_account_id
    return CallerScope(account, region, access_key)


def _credential_from_header(authorization: str | None) -> str | None:
    if not authorization:
        return None
    if not authorization.startswith("AWS4-HMAC-SHA256"):
        raise AccessDeniedException("Only AWS Signature Version 4 (AWS4-HMAC-SHA256) requests are supported.")
    found = _CREDENTIAL.search(authorization)
    if found is None:
        raise AccessDeniedException("The Authorization header has no Credential=... scope.")
    return found.group(1)
