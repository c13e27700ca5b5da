"""The AWS error wire format for every error shape."""

from __future__ import annotations

import json

import pytest

from openlookout import errors
from openlookout.api.errors import UnknownOperationException, error_response
from openlookout.spec.loader import ServiceModel

SAMPLES: list[tuple[errors.ServiceError, int, dict[str, object], dict[str, str]]] = [
    (errors.AccessDeniedException("no"), 403, {}, {}),
    (errors.ValidationException("bad"), 400, {}, {}),
    (
        errors.ConflictException("busy", resource_id="p1", resource_type="PROJECT"),
        409,
        {"ResourceId": "p1", "ResourceType": "PROJECT"},
        {},
    ),
    (
        errors.ResourceNotFoundException("gone", resource_id="p2", resource_type="DATASET"),
        404,
        {"ResourceId": "p2", "ResourceType": "DATASET"},
        {},
    ),
    (
        errors.ServiceQuotaExceededException("full", quota_code="L-1"),
        402,
        {"QuotaCode": "L-1", "ServiceCode": "lookoutvision"},
        {},
    ),
    (errors.ThrottlingException("slow down", retry_after_seconds=7), 429, {}, {"retry-after": "7"}),
    (errors.InternalServerException("oops", retry_after_seconds=3), 500, {}, {"retry-after": "3"}),
    (UnknownOperationException("where"), 404, {}, {}),
]


@pytest.mark.parametrize(
    ("error", "status", "fields", "headers"), SAMPLES, ids=lambda v: getattr(v, "code", "")
)
def test_error_response(
    error: errors.ServiceError, status: int, fields: dict[str, object], headers: dict[str, str]
) -> None:
    response = error_response(error, "req-1")
    assert response.status_code == status
    assert response.headers["x-amzn-errortype"] == error.code
    assert response.headers["x-amzn-requestid"] == "req-1"
    assert response.headers["content-type"].startswith("application/json")
    body = json.loads(bytes(response.body))
    assert body == {"message": error.message, "Message": error.message, **fields}
    for name, value in headers.items():
        assert response.headers[name] == value


def test_internal_error_without_retry_after_has_no_header() -> None:
    response = error_response(errors.InternalServerException("oops"), "r")
    assert "retry-after" not in response.headers


def test_status_codes_agree_with_the_model(model: ServiceModel) -> None:
    for error_type in errors.ERROR_TYPES:
        assert model.shape(error_type.code).http_status == error_type.status
