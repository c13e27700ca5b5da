"""SigV4 verification (``api.authentication``) against requests signed by botocore's own signer.

Right keys are accepted in the header and presigned forms (ARNs percent-encoded in the path
included); every failure gets AWS's 403 code; and a few hundred randomized requests, each with
one tampered part (method, path, query, a signed header, the body, the signature), all fail.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.requests import Request
from tests.unit.api.sigv4_requests import NOW, WireRequest, as_request, signed

from openlookout.api.authentication import (
    Authenticator,
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from openlookout.auth.credentials import AccessKey, KeyStore
from openlookout.errors import ServiceError
from openlookout.settings import Settings

KEY = AccessKey("AKIDEXAMPLE0000000001", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "111122223333")
OTHER = AccessKey("AKIDEXAMPLE0000000002", "another-secret-of-forty-characters-000000", "444455556666")
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def auth() -> Authenticator:
    keys = KeyStore.of_keys([KEY, OTHER])
    return Authenticator(Settings(), keys, clock=lambda: NOW.timestamp())


def verify(auth: Authenticator, wire: WireRequest) -> Any:
    request: Request = as_request(wire)
    signed_parts = auth.check_headers(request)
    return auth.context(request, signed_parts, wire.body, "req-1")


def test_header_form_gives_the_keys_account_and_the_scopes_region(auth: Authenticator) -> None:
    body = b'{"ProjectName": "cookies"}'
    ctx = verify(auth, signed("POST", "/2020-11-20/projects", body=body, headers=JSON, region="eu-west-1"))
    assert (ctx.account_id, ctx.region, ctx.request_id) == ("111122223333", "eu-west-1", "req-1")
    other = signed("GET", "/2020-11-20/projects", key=OTHER.access_key_id, secret=OTHER.secret_access_key)
    assert verify(auth, other).account_id == "444455556666"


def test_percent_encoded_arn_in_the_path_and_a_query(auth: Authenticator) -> None:
    arn = "arn:aws:lookoutvision:us-east-1:111122223333:project/cookies"
    path = "/2020-11-20/tags/" + quote(arn, safe="")
    assert verify(auth, signed("GET", path)).account_id == "111122223333"
    untag = signed("DELETE", path, query="tagKeys=a%20b&tagKeys=c%2Fd")
    assert verify(auth, untag).account_id == "111122223333"


def test_presigned_query_form(auth: Authenticator) -> None:
    wire = signed("GET", "/2020-11-20/projects", query="maxResults=5", presign_expires=300)
    assert "X-Amz-Signature=" in wire.raw_query and wire.header("authorization") is None
    assert verify(auth, wire).account_id == "111122223333"
    later = NOW + datetime.timedelta(seconds=301)
    expired = Authenticator(Settings(), KeyStore.of_keys([KEY]), clock=lambda: later.timestamp())
    with pytest.raises(InvalidSignatureException, match="expired"):
        verify(expired, wire)


def test_declared_payload_hash_must_be_the_bodys(auth: Authenticator) -> None:
    body = b'{"ProjectName": "cookies"}'
    digest = hashlib.sha256(body).hexdigest()
    good = signed("POST", "/2020-11-20/projects", body=body, headers={**JSON, "X-Amz-Content-SHA256": digest})
    assert verify(auth, good).account_id == "111122223333"
    lying = signed(
        "POST",
        "/2020-11-20/projects",
        body=body,
        headers={**JSON, "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"},
    )
    with pytest.raises(InvalidSignatureException):
        verify(auth, lying)


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (
            lambda: signed("GET", "/2020-11-20/projects", key="AKIDUNKNOWN000000001"),
            UnrecognizedClientException,
        ),
        (
            lambda: signed("GET", "/2020-11-20/projects", secret="not-the-secret-000000"),
            InvalidSignatureException,
        ),
        (lambda: signed("GET", "/2020-11-20/projects", service="s3"), InvalidSignatureException),
        (
            lambda: signed("GET", "/2020-11-20/projects", at=NOW - datetime.timedelta(minutes=16)),
            InvalidSignatureException,
        ),
        (
            lambda: signed("GET", "/2020-11-20/projects", at=NOW + datetime.timedelta(minutes=16)),
            InvalidSignatureException,
        ),
        (
            lambda: WireRequest("GET", "/2020-11-20/projects", "", (("host", "127.0.0.1"),), b""),
            MissingAuthenticationTokenException,
        ),
        (
            lambda: signed("GET", "/2020-11-20/projects").with_header("authorization", "AWS4-HMAC-SHA256 x"),
            IncompleteSignatureException,
        ),
        (
            lambda: signed("GET", "/2020-11-20/projects").with_header("X-Amz-Security-Token", "token"),
            UnrecognizedClientException,
        ),
    ],
    ids=[
        "unknown-key",
        "wrong-secret",
        "s3-scope",
        "stale",
        "future",
        "unsigned",
        "malformed",
        "session-token",
    ],
)
def test_failures_get_awss_403_codes(auth: Authenticator, make: Any, error: type[ServiceError]) -> None:
    with pytest.raises(error) as raised:
        verify(auth, make())
    assert raised.value.status == 403


def test_stale_date_names_the_skew(auth: Authenticator) -> None:
    with pytest.raises(InvalidSignatureException, match=r"Signature expired: .* - 15 min\."):
        verify(auth, signed("GET", "/2020-11-20/projects", at=NOW - datetime.timedelta(hours=1)))


def test_host_and_client_token_must_be_signed(auth: Authenticator) -> None:
    wire = signed("DELETE", "/2020-11-20/projects/p1")
    with pytest.raises(IncompleteSignatureException, match="x-amzn-client-token"):
        verify(auth, wire.with_header("X-Amzn-Client-Token", "replayed"))


# --- randomized requests and their tampered variants -----------------------------------------

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)
VALUES = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=16)


@st.composite
def random_requests(draw: st.DrawFn) -> WireRequest:
    method = draw(st.sampled_from(["GET", "POST", "DELETE", "PATCH"]))
    segments = draw(st.lists(VALUES.filter(lambda v: v not in ("", ".", "..")), min_size=1, max_size=4))
    path = "/2020-11-20/" + "/".join(quote(segment, safe="") for segment in segments)
    pairs = draw(st.lists(st.tuples(NAMES, VALUES), max_size=4))
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)
    body = draw(st.binary(max_size=64)) if method in ("POST", "PATCH") else b""
    headers = {"Content-Type": "application/json"} if body else {}
    if draw(st.booleans()):
        headers["X-Amzn-Client-Token"] = draw(NAMES)
    presign = draw(st.booleans()) and not body
    return signed(
        method, path, query=query, body=body, headers=headers, presign_expires=600 if presign else None
    )


def _flip(text: str, index: int) -> str:
    position = index % len(text)
    replacement = "b" if text[position] != "b" else "c"
    return text[:position] + replacement + text[position + 1 :]


@st.composite
def tampered(draw: st.DrawFn) -> tuple[WireRequest, WireRequest]:
    original = draw(random_requests())
    index = draw(st.integers(min_value=0, max_value=10_000))
    kinds = ["method", "path", "query-added", "host", "signature"]
    if original.body:
        kinds.append("body")
    if original.raw_query and "X-Amz-Signature" not in original.raw_query:
        kinds.append("query")
    if original.header("x-amzn-client-token"):
        kinds.append("client-token")
    if original.header("content-type"):
        kinds.append("content-type")
    kind = draw(st.sampled_from(kinds))
    if kind == "method":
        other = {"GET": "DELETE", "DELETE": "GET", "POST": "PATCH", "PATCH": "POST"}[original.method]
        changed = replace(original, method=other)
    elif kind == "path":
        changed = replace(original, raw_path=original.raw_path + "x")
    elif kind == "query-added":
        extra = "injected=1"
        changed = replace(
            original, raw_query=f"{original.raw_query}&{extra}" if original.raw_query else extra
        )
    elif kind == "query":
        changed = replace(original, raw_query=_flip_query_value(original.raw_query, index))
    elif kind == "host":
        changed = original.with_header("host", "127.0.0.1:9")
    elif kind == "body":
        body = bytearray(original.body)
        body[index % len(body)] ^= 0x01
        changed = replace(original, body=bytes(body))
    elif kind == "client-token":
        changed = original.with_header(
            "X-Amzn-Client-Token", str(original.header("x-amzn-client-token")) + "0"
        )
    elif kind == "content-type":
        changed = original.with_header("Content-Type", "text/plain")
    else:
        changed = _with_other_signature(original, index)
    return original, changed


def _flip_query_value(raw_query: str, index: int) -> str:
    pairs = raw_query.split("&")
    name, _, value = pairs[index % len(pairs)].partition("=")
    pairs[index % len(pairs)] = f"{name}={value}z"
    return "&".join(pairs)


def _with_other_signature(wire: WireRequest, index: int) -> WireRequest:
    authorization = wire.header("authorization")
    if authorization is not None:
        head, _, sig = authorization.rpartition("Signature=")
        return wire.with_header("authorization", head + "Signature=" + _flip(sig, index))
    head, _, sig = wire.raw_query.rpartition("X-Amz-Signature=")
    return replace(wire, raw_query=head + "X-Amz-Signature=" + _flip(sig, index))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=tampered())
def test_randomized_requests_verify_and_every_tampered_variant_fails(
    auth: Authenticator, pair: tuple[WireRequest, WireRequest]
) -> None:
    original, changed = pair
    assert verify(auth, original).account_id == "111122223333"
    with pytest.raises(ServiceError) as raised:
        verify(auth, changed)
    assert raised.value.status == 403
