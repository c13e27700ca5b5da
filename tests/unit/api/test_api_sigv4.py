"""Caller scope from the SigV4 Authorization header (or presigned query), else the defaults."""

from __future__ import annotations

import pytest

from openlookout.api.sigv4 import caller_scope
from openlookout.errors import AccessDeniedException
from openlookout.settings import Settings

SETTINGS = Settings(default_account_id="111122223333", default_region="us-east-1")


def _auth(credential: str) -> dict[str, str]:
    return {
        "authorization": f"AWS4-HMAC-SHA256 Credential={credential}, "
        "SignedHeaders=host;x-amz-date, Signature=00ff"
    }


def test_no_authorization_uses_defaults() -> None:
    scope = caller_scope({}, {}, SETTINGS)
    assert (scope.account_id, scope.region, scope.access_key) == ("111122223333", "us-east-1", None)


def test_region_from_scope_and_default_account_for_ordinary_keys() -> None:
    scope = caller_scope(_auth("AKIDEXAMPLE/20260101/eu-west-1/lookoutvision/aws4_request"), {}, SETTINGS)
    assert (scope.account_id, scope.region, scope.access_key) == ("111122223333", "eu-west-1", "AKIDEXAMPLE")


def test_twelve_digit_access_key_is_the_account() -> None:
    scope = caller_scope(
        _auth("444455556666/20260101/ap-northeast-2/lookoutvision/aws4_request"), {}, SETTINGS
    )
    assert (scope.account_id, scope.region) == ("444455556666", "ap-northeast-2")


def test_presigned_query_credential() -> None:
    query = {"X-Amz-Credential": "AKID/20260101/us-west-2/lookoutvision/aws4_request"}
    assert caller_scope({}, query, SETTINGS).region == "us-west-2"


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "Basic dXNlcjpwYXNz"},
        {"authorization": "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00"},
        _auth("AKID/20260101/us-east-1/aws4_request"),
        _auth("AKID/20260101/US_EAST_1/lookoutvision/aws4_request"),
        _auth("AKID/20260101/us-east-1/lookoutvision/other"),
    ],
)
def test_malformed_authorization_is_access_denied(headers: dict[str, str]) -> None:
    with pytest.raises(AccessDeniedException):
        caller_scope(headers, {}, SETTINGS)
