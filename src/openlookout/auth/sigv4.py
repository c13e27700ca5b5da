"""The AWS Signature Version 4 algorithm (HMAC-SHA256), as botocore and the JavaScript SDK compute it.

Only the arithmetic: the canonical request of what arrived on the wire, the string to sign and
the signature. Deciding which request is acceptable (keys, clock, scope, errors) is
``openlookout.api.authentication``'s job.

- Canonical URI: the path as sent (percent-encoded), dot segments and empty segments removed,
  then percent-encoded once more (everything but unreserved characters and ``/``). Both SDKs
  encode twice for every service but S3, so an ARN in a tag route appears as ``arn%253Aaws...``.
- Canonical query: every ``name=value`` pair decoded and encoded again with only unreserved
  characters left as they are, sorted by name, then value; the signature parameter of a
  presigned request is left out.
- Canonical headers: the signed headers in lower case, sorted, each value trimmed with inner
  runs of white space made one space, repeated headers joined with commas.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
SIGNATURE_PARAMETER = "X-Amz-Signature"
_UNRESERVED = "-_.~"


def canonical_uri(raw_path: str) -> str:
    """The canonical form of a percent-encoded request path."""
    segments: list[str] = []
    for segment in raw_path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    leading = "/" if raw_path.startswith("/") else ""
    trailing = "/" if segments and raw_path.endswith("/") else ""
    normalized = leading + "/".join(segments) + trailing
    return quote(normalized or "/", safe="/~")


def canonical_query(raw_query: str, *, leave_out: str | None = None) -> str:
    """The canonical query string of a raw query (``leave_out``: a parameter name to skip)."""
    pairs: list[tuple[str, str]] = []
    for item in raw_query.split("&") if raw_query else []:
        name, _, value = item.partition("=")
        name = quote(unquote(name), safe=_UNRESERVED)
        if leave_out is not None and name == leave_out:
            continue
        pairs.append((name, quote(unquote(value), safe=_UNRESERVED)))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def canonical_headers(headers: Iterable[tuple[str, str]], signed: list[str]) -> str:
    """The ``name:value`` lines of the signed headers (a missing header has an empty value)."""
    values: dict[str, list[str]] = {name: [] for name in signed}
    for name, value in headers:
        lower = name.lower()
        if lower in values:
            values[lower].append(" ".join(value.split()))
    return "".join(f"{name}:{','.join(values[name])}\n" for name in sorted(signed))


def canonical_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    signed_headers: list[str],
    payload_hash: str,
    *,
    presigned: bool = False,
) -> str:
    """The canonical request of what arrived; ``signed_headers`` as listed by the client."""
    return "\n".join(
        [
            method.upper(),
            canonical_uri(raw_path),
            canonical_query(raw_query, leave_out=SIGNATURE_PARAMETER if presigned else None),
            canonical_headers(headers, signed_headers),
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    """The string to sign: algorithm, request time, credential scope and the canonical request's hash."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return "\n".join([ALGORITHM, amz_date, scope, digest])


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The key derived from a secret for one day, region and service."""
    key = _hmac(("AWS4" + secret).encode("utf-8"), date)
    for part in (region, service, TERMINATOR):
        key = _hmac(key, part)
    return key


def signature(secret: str, date: str, region: str, service: str, to_sign: str) -> str:
    """The hex signature of ``to_sign``."""
    key = signing_key(secret, date, region, service)
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()
