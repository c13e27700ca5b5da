"""The whole request path through the app, with small local handlers standing in for the service."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from openlookout.errors import ResourceNotFoundException
from openlookout.service.context import RequestContext, Runtime

ClientFor = Callable[[dict[str, Any]], Any]
AUTH = (
    "AWS4-HMAC-SHA256 Credential=444455556666/20260101/eu-central-1/lookoutvision/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abcdef"
)


def _describe_project(_rt: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    name = params["ProjectName"]
    return {
        "ProjectDescription": {
            "ProjectName": name,
            "ProjectArn": f"arn:aws:lookoutvision:{ctx.region}:{ctx.account_id}:project/{name}",
            "CreationTimestamp": datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC),
            "Datasets": [],
            "NotInTheModel": "dropped",
        }
    }


def test_success_path_encodes_by_model(client_for: ClientFor) -> None:
    response = client_for({"DescribeProject": _describe_project}).get(
        "/2020-11-20/projects/p1", headers={"Authorization": AUTH}
    )
    assert response.status_code == 200
    assert response.headers["x-amzn-requestid"]
    assert response.json() == {
        "ProjectDescription": {
            "ProjectName": "p1",
            "ProjectArn": "arn:aws:lookoutvision:eu-central-1:444455556666:project/p1",
            "CreationTimestamp": datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC).timestamp(),
            "Datasets": [],
        }
    }


def test_status_code_comes_from_the_model(client_for: ClientFor) -> None:
    def delete_dataset(_rt: Runtime, _ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {}

    response = client_for({"DeleteDataset": delete_dataset}).delete("/2020-11-20/projects/p/datasets/test")
    assert (response.status_code, response.json()) == (202, {})


def test_none_outputs_are_omitted_and_blobs_base64(client_for: ClientFor) -> None:
    def detect(_rt: Runtime, _ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "DetectAnomalyResult": {
                "Source": {"Type": "direct"},
                "IsAnomalous": False,
                "Confidence": 1,
                "Anomalies": None,
                "AnomalyMask": params["Body"][::-1],
            }
        }

    response = client_for({"DetectAnomalies": detect}).post(
        "/2020-11-20/projects/p/models/1/detect", content=b"abc", headers={"Content-Type": "image/png"}
    )
    result = response.json()["DetectAnomalyResult"]
    assert result == {
        "Source": {"Type": "direct"},
        "IsAnomalous": False,
        "Confidence": 1.0,
        "AnomalyMask": base64.b64encode(b"cba").decode(),
    }


def test_streaming_payload_needs_content_length(client_for: ClientFor) -> None:
    response = client_for({}).post(
        "/2020-11-20/projects/p/models/1/detect",
        content=iter([b"abc"]),
        headers={"Content-Type": "image/png"},
    )
    assert response.status_code == 400
    assert "Content-Length" in response.json()["message"]


def test_oversized_body_is_refused_from_its_declared_length(client_for: ClientFor) -> None:
    response = client_for({}).post(
        "/2020-11-20/projects/p/models/1/detect",
        content=b"x" * (8 * 1024 * 1024 + 1),
        headers={"Content-Type": "image/png"},
    )
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"] == "ValidationException"


def test_unknown_route_is_a_json_error(client_for: ClientFor) -> None:
    for method, path in [
        ("GET", "/"),
        ("GET", "/index.html"),
        ("PUT", "/2020-11-20/projects"),
        ("GET", "/openlookout/nope"),
    ]:
        response = client_for({}).request(method, path)
        assert response.status_code == 404
        assert response.headers["x-amzn-errortype"] == "UnknownOperationException"
        assert response.json()["message"].startswith("No Lookout for Vision operation answers")


def test_operation_without_handler_is_not_available(client_for: ClientFor) -> None:
    response = client_for({}).get("/2020-11-20/projects/p/modelpackagingjobs")
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"] == "ValidationException"
    assert "ListModelPackagingJobs is not available" in response.json()["message"]


def test_validation_runs_before_the_handler(client_for: ClientFor) -> None:
    calls: list[dict[str, Any]] = []

    def list_projects(_rt: Runtime, _ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        calls.append(params)
        return {"Projects": []}

    client = client_for({"ListProjects": list_projects})
    assert client.get("/2020-11-20/projects?maxResults=101").status_code == 400
    assert client.get("/2020-11-20/projects?nextToken=a-b").status_code == 400
    assert client.get("/2020-11-20/projects?maxResults=5").status_code == 200
    assert calls == [{"MaxResults": 5}]


def test_malformed_json_is_a_validation_error(client_for: ClientFor) -> None:
    response = client_for({}).post(
        "/2020-11-20/projects", content=b'{"ProjectName": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]


def test_service_errors_keep_their_fields(client_for: ClientFor) -> None:
    def missing(_rt: Runtime, _ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        raise ResourceNotFoundException(
            "no such project", resource_id=params["ProjectName"], resource_type="PROJECT"
        )

    response = client_for({"DescribeProject": missing}).get("/2020-11-20/projects/ghost")
    assert response.status_code == 404
    assert response.json()["ResourceId"] == "ghost"


def test_unexpected_exception_is_generic_500_and_server_keeps_serving(
    client_for: ClientFor, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_rt: Runtime, _ctx: RequestContext, _params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("secret internal detail")

    client = client_for({"DescribeProject": broken, "ListProjects": lambda *_: {"Projects": []}})
    with caplog.at_level(logging.ERROR, logger="openlookout.api"):
        response = client.get("/2020-11-20/projects/p")
    assert response.status_code == 500
    assert response.headers["x-amzn-errortype"] == "InternalServerException"
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["x-amzn-requestid"] in response.json()["message"]
    assert "secret internal detail" in caplog.text
    assert client.get("/2020-11-20/projects").status_code == 200


def test_malformed_authorization_is_refused(client_for: ClientFor) -> None:
    response = client_for({}).get("/2020-11-20/projects", headers={"Authorization": "Basic abc"})
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"] == "AccessDeniedException"


def test_paths_with_control_characters_and_wrong_methods_get_json(client_for: ClientFor) -> None:
    client = client_for({})
    for method, path in [("GET", "/2020-11-20/%0A0"), ("POST", "/openlookout/health"), ("GET", "/%0A")]:
        response = client.request(method, path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["x-amzn-errortype"] == "UnknownOperationException"
