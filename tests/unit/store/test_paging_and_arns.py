"""Paging tokens (service/paging.py) and ARNs (service/arns.py): no database."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openlookout.errors import ValidationException
from openlookout.service import arns
from openlookout.service.context import RequestContext
from openlookout.service.paging import Pager

SCOPE = {"op": "ListProjects", "account": "111122223333", "region": "us-east-1"}
TOKEN_PATTERN = re.compile(r"[a-zA-Z0-9/+=]{0,2048}")
PAGER = Pager(b"this installation's secret 00001")

keys = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=10,
)


@given(keys)
def test_tokens_round_trip_and_match_the_model_pattern(last_key: object) -> None:
    token = PAGER.encode(SCOPE, last_key)
    assert TOKEN_PATTERN.fullmatch(token)
    assert PAGER.decode(token, dict(SCOPE)) == last_key


def test_no_token_means_first_page() -> None:
    assert PAGER.decode(None, SCOPE) is None
    assert PAGER.decode("", SCOPE) is None


def test_a_token_is_bound_to_its_scope() -> None:
    token = PAGER.encode(SCOPE, [1.5, "b"])
    for changed in ({**SCOPE, "account": "999999999999"}, {**SCOPE, "op": "ListModels"}, {**SCOPE, "x": 1}):
        with pytest.raises(ValidationException):
            PAGER.decode(token, changed)


def test_tampered_and_garbage_tokens_are_rejected() -> None:
    token = PAGER.encode(SCOPE, [1.5, "b"])
    raw = bytearray(base64.b64decode(token))
    raw[-3] ^= 0x01
    for bad in (base64.b64encode(bytes(raw)).decode(), "abc", "not base64!", "A" * 2049, token[:-4]):
        with pytest.raises(ValidationException):
            PAGER.decode(bad, SCOPE)


def test_tokens_of_another_installation_or_secret_are_rejected() -> None:
    mine = PAGER.encode(SCOPE, ["k"])
    other = Pager(b"another installation secret 0001")
    theirs = other.encode(SCOPE, ["k"])
    assert theirs != mine
    assert other.decode(theirs, SCOPE) == ["k"]
    with pytest.raises(ValidationException):
        PAGER.decode(theirs, SCOPE)
    with pytest.raises(ValidationException):
        other.decode(mine, SCOPE)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        Pager(b"too short")


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
