"""Paging tokens (service/paging.py) and ARNs (service/arns.py): pure functions, no database."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openlookout.errors import ValidationException
from openlookout.service import arns, paging
from openlookout.service.context import RequestContext

SCOPE = {"op": "ListProjects", "account": "111122223333", "region": "us-east-1"}
TOKEN_PATTERN = re.compile(r"[a-zA-Z0-9/+=]{0,2048}")

keys = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=10,
)


@given(keys)
def test_tokens_round_trip_and_match_the_model_pattern(last_key: object) -> None:
    token = paging.encode_token(SCOPE, last_key)
    assert TOKEN_PATTERN.fullmatch(token)
    assert paging.decode_token(token, dict(SCOPE)) == last_key


def test_no_token_means_first_page() -> None:
    assert paging.decode_token(None, SCOPE) is None
    assert paging.decode_token("", SCOPE) is None


def test_a_token_is_bound_to_its_scope() -> None:
    token = paging.encode_token(SCOPE, [1.5, "b"])
    for changed in ({**SCOPE, "account": "999999999999"}, {**SCOPE, "op": "ListModels"}, {**SCOPE, "x": 1}):
        with pytest.raises(ValidationException):
            paging.decode_token(token, changed)


def test_tampered_and_garbage_tokens_are_rejected() -> None:
    token = paging.encode_token(SCOPE, [1.5, "b"])
    raw = bytearray(base64.b64decode(token))
    raw[-3] ^= 0x01
    for bad in (base64.b64encode(bytes(raw)).decode(), "abc", "not base64!", "A" * 2049, token[:-4]):
        with pytest.raises(ValidationException):
            paging.decode_token(bad, SCOPE)


def test_tokens_of_another_installation_are_rejected_and_earlier_secrets_stay_valid() -> None:
    before = paging.encode_token(SCOPE, ["k"])
    paging.install_secret(b"another installation secret 0001")
    after = paging.encode_token(SCOPE, ["k"])
    assert after != before
    assert paging.decode_token(before, SCOPE) == ["k"]
    assert paging.decode_token(after, SCOPE) == ["k"]
    forged_mac = paging._mac(b"some attacker chosen secret 0002", SCOPE, base64.b64decode(after)[32:])
    forged = base64.b64encode(forged_mac + base64.b64decode(after)[32:]).decode()
    with pytest.raises(ValidationException):
        paging.decode_token(forged, SCOPE)


def test_arns_are_built_from_the_callers_scope_and_model_arns_parse_back() -> None:
    ctx = RequestContext(account_id="111122223333", region="eu-west-1")
    assert arns.project_arn(ctx, "widgets") == "arn:aws:lookoutvision:eu-west-1:111122223333:project/widgets"
    model = arns.model_arn(ctx, "widgets", "12")
    assert model == "arn:aws:lookoutvision:eu-west-1:111122223333:model/widgets/12"
    assert arns.parse_model_arn(model) == ("eu-west-1", "111122223333", "widgets", "12")
    assert model.startswith(arns.model_arn_prefix(ctx, "widgets"))


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:lookoutvision:us-east-1:111122223333:project/widgets",
        "arn:aws:lookoutvision:us-east-1:111122223333:model/widgets/latest",
        "arn:aws:lookoutvision:us-east-1:111122223333:model/widgets/0",
        "arn:aws:lookoutvision:us-east-1:1111:model/widgets/1",
        "arn:aws:s3:us-east-1:111122223333:model/widgets/1",
        "arn:aws:lookoutvision:us-east-1:111122223333:model/-bad/1",
        "arn:aws:lookoutvision:us-east-1:111122223333:model/widgets/1/extra",
        "widgets",
        "",
    ],
)
def test_anything_but_a_model_arn_is_a_validation_error(arn: str) -> None:
    with pytest.raises(ValidationException):
        arns.parse_model_arn(arn)


def test_inside_an_installation_scope_only_that_installations_tokens_are_valid() -> None:
    class Installation:
        pass

    first, second = Installation(), Installation()
    paging.install_secret(b"first installation secret 000001", installation=first)
    paging.install_secret(b"second installation secret 00002", installation=second)
    with paging.installation_scope(first):
        from_first = paging.encode_token(SCOPE, ["k"])
        assert paging.decode_token(from_first, SCOPE) == ["k"]
    with paging.installation_scope(second):
        from_second = paging.encode_token(SCOPE, ["k"])
        with pytest.raises(ValidationException):
            paging.decode_token(from_first, SCOPE)
    with paging.installation_scope(first), pytest.raises(ValidationException):
        paging.decode_token(from_second, SCOPE)
    with paging.installation_scope(None):  # no installation (fake runtimes): process-wide behaviour
        assert paging.decode_token(from_first, SCOPE) == ["k"]
