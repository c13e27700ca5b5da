"""The wire contract with real boto3 (and raw SigV4-signed HTTP where boto3 refuses to send a value).

Every operation reaches the server and answers a result or a clean AWS error; every error shape
parses in botocore; each validation rule kind answers ValidationException; ClientToken replays;
the credential scope decides account and region; DetectAnomalies' raw body reaches its handler.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from sqlalchemy import update
from tests.helpers.synthetic import png_image

from openlookout import errors
from openlookout.client import lookoutvision_client
from openlookout.service.operations import OPERATIONS
from openlookout.store.tables import idempotency_tokens

MODELLED_ERRORS = {error.code for error in errors.ERROR_TYPES}
MODEL_ARN = "arn:aws:lookoutvision:us-east-1:000000000000:model/wire-p/1"


def signed(
    method: str,
    url: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    region: str = "us-east-1",
    access_key: str = "AKIDWIRETEST",
) -> httpx.Response:
    """A SigV4-signed request sent as-is (no client-side validation); a body is JSON unless the
    headers say otherwise, as the SDKs send it."""
    headers = dict(headers or {})
    if body and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials(access_key, "any-secret"), "lookoutvision", region).add_auth(request)
    return httpx.request(method, url, content=body, headers=dict(request.headers.items()), timeout=30)


def _call(client: Any, operation: str, **params: Any) -> tuple[int, str]:
    """(HTTP status, error code or 'OK') of one boto3 call."""
    try:
        result = getattr(client, operation)(**params)
    except ClientError as error:
        meta = error.response["ResponseMetadata"]
        assert meta["HTTPHeaders"].get("x-amzn-requestid"), operation
        assert error.response["Error"]["Message"], operation
        return meta["HTTPStatusCode"], error.response["Error"]["Code"]
    return result["ResponseMetadata"]["HTTPStatusCode"], "OK"


ALL_OPERATIONS: list[tuple[str, dict[str, Any]]] = [
    ("create_project", {"ProjectName": "wire-p"}),
    ("describe_project", {"ProjectName": "wire-p"}),
    ("list_projects", {"MaxResults": 5}),
    ("create_dataset", {"ProjectName": "wire-p", "DatasetType": "train"}),
    ("describe_dataset", {"ProjectName": "wire-p", "DatasetType": "train"}),
    ("list_dataset_entries", {"ProjectName": "wire-p", "DatasetType": "train", "Labeled": True}),
    (
        "update_dataset_entries",
        {
            "ProjectName": "wire-p",
            "DatasetType": "train",
            "Changes": b'{"source-ref":"s3://nowhere/x.png","anomaly-label":0,'
            b'"anomaly-label-metadata":{"class-name":"normal","type":"groundtruth/image-classification"}}',
        },
    ),
    ("create_model", {"ProjectName": "wire-p", "OutputConfig": {"S3Location": {"Bucket": "out-bucket"}}}),
    ("describe_model", {"ProjectName": "wire-p", "ModelVersion": "latest"}),
    ("list_models", {"ProjectName": "wire-p"}),
    ("start_model", {"ProjectName": "wire-p", "ModelVersion": "1", "MinInferenceUnits": 1}),
    (
        "detect_anomalies",
        {"ProjectName": "wire-p", "ModelVersion": "1", "Body": png_image(), "ContentType": "image/png"},
    ),
    ("stop_model", {"ProjectName": "wire-p", "ModelVersion": "1"}),
    (
        "start_model_packaging_job",
        {
            "ProjectName": "wire-p",
            "ModelVersion": "1",
            "JobName": "job-1",
            "Configuration": {
                "Greengrass": {
                    "TargetDevice": "jetson_xavier",
                    "S3OutputLocation": {"Bucket": "out-bucket"},
                    "ComponentName": "wire.component",
                }
            },
        },
    ),
    ("describe_model_packaging_job", {"ProjectName": "wire-p", "JobName": "job-1"}),
    ("list_model_packaging_jobs", {"ProjectName": "wire-p"}),
    ("tag_resource", {"ResourceArn": MODEL_ARN, "Tags": [{"Key": "team", "Value": "qa"}]}),
    ("list_tags_for_resource", {"ResourceArn": MODEL_ARN}),
    ("untag_resource", {"ResourceArn": MODEL_ARN, "TagKeys": ["team"]}),
    ("delete_model", {"ProjectName": "wire-p", "ModelVersion": "1"}),
    ("delete_dataset", {"ProjectName": "wire-p", "DatasetType": "train"}),
    ("delete_project", {"ProjectName": "wire-p"}),
]


def test_every_operation_reaches_the_server_and_answers_cleanly(lv: Any) -> None:
    assert len({name for name, _ in ALL_OPERATIONS}) == 22
    for operation, params in ALL_OPERATIONS:
        status, code = _call(lv, operation, **params)
        assert code == "OK" or code in MODELLED_ERRORS, (operation, code)
        assert status < 500, (operation, status, code)
        if operation == "delete_dataset" and code == "OK":  # deletion may finish in the background
            deadline = time.monotonic() + 10
            while _call(lv, "describe_dataset", ProjectName="wire-p", DatasetType="train")[1] == "OK":
                assert time.monotonic() < deadline
                time.sleep(0.05)


ERROR_CASES: dict[str, tuple[errors.ServiceError, int, dict[str, Any]]] = {
    "denied": (errors.AccessDeniedException("nope"), 403, {}),
    "invalid": (errors.ValidationException("bad input"), 400, {}),
    "conflict": (
        errors.ConflictException("in use", resource_id="job-x", resource_type="MODEL_PACKAGE_JOB"),
        409,
        {"ResourceId": "job-x", "ResourceType": "MODEL_PACKAGE_JOB"},
    ),
    "missing": (
        errors.ResourceNotFoundException("no job", resource_id="job-y", resource_type="MODEL_PACKAGE_JOB"),
        404,
        {"ResourceId": "job-y", "ResourceType": "MODEL_PACKAGE_JOB"},
    ),
    "quota": (
        errors.ServiceQuotaExceededException(
            "too many", quota_code="L-JOBS", resource_type="MODEL_PACKAGE_JOB"
        ),
        402,
        {"QuotaCode": "L-JOBS", "ServiceCode": "lookoutvision", "ResourceType": "MODEL_PACKAGE_JOB"},
    ),
    "throttled": (
        errors.ThrottlingException("slow down", retry_after_seconds=9),
        429,
        {"RetryAfterSeconds": 9},
    ),
    "broken": (
        errors.InternalServerException("try later", retry_after_seconds=4),
        500,
        {"RetryAfterSeconds": 4},
    ),
}


@pytest.mark.parametrize("job_name", sorted(ERROR_CASES))
def test_every_error_shape_parses_in_botocore(
    shared_lv: Any, monkeypatch: pytest.MonkeyPatch, job_name: str
) -> None:
    def raise_chosen_error(_rt: Any, _ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        raise ERROR_CASES[params["JobName"]][0]

    monkeypatch.setitem(OPERATIONS, "DescribeModelPackagingJob", raise_chosen_error)
    error, status, fields = ERROR_CASES[job_name]
    with pytest.raises(ClientError) as caught:
        shared_lv.describe_model_packaging_job(ProjectName="p", JobName=job_name)
    response = caught.value.response
    assert response["Error"]["Code"] == error.code
    assert response["Error"]["Message"] == error.message
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    for name, value in fields.items():
        assert response[name] == value, name
    modelled = getattr(shared_lv.exceptions, error.code)
    assert isinstance(caught.value, modelled)


BOTO3_VALIDATION_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("create_project", {"ProjectName": "a" * 256}, "ProjectName has 256 characters; at most 255"),
    ("create_project", {"ProjectName": "bad name"}, "ProjectName 'bad name' must fully match"),
    ("list_projects", {"MaxResults": 101}, "MaxResults is 101; the maximum is 100"),
    ("list_projects", {"NextToken": "not_a-token"}, "NextToken 'not_a-token'"),
    ("describe_dataset", {"ProjectName": "p", "DatasetType": "dev"}, "DatasetType 'dev'"),
    ("describe_model", {"ProjectName": "p", "ModelVersion": "v1"}, "ModelVersion 'v1'"),
    ("delete_model", {"ProjectName": "p", "ModelVersion": "latest"}, "ModelVersion 'latest'"),
    (
        "tag_resource",
        {"ResourceArn": MODEL_ARN, "Tags": [{"Key": "k" * 129, "Value": "v"}]},
        "Tags[0].Key has 129 characters; at most 128",
    ),
    (
        "tag_resource",
        {"ResourceArn": MODEL_ARN, "Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(201)]},
        "Tags has 201 items; at most 200",
    ),
    ("untag_resource", {"ResourceArn": MODEL_ARN, "TagKeys": ["semi;colon"]}, "TagKeys[0] 'semi;colon'"),
    (
        "start_model_packaging_job",
        {
            "ProjectName": "p",
            "ModelVersion": "1",
            "Configuration": {
                "Greengrass": {
                    "TargetDevice": "raspberry",
                    "S3OutputLocation": {"Bucket": "out-bucket"},
                    "ComponentName": "c",
                }
            },
        },
        "Configuration.Greengrass.TargetDevice 'raspberry' must be one of: jetson_xavier",
    ),
    (
        "create_model",
        {"ProjectName": "p", "Description": "has spaces", "OutputConfig": {"S3Location": {"Bucket": "b/c"}}},
        "Description 'has spaces' must fully match",
    ),
    (
        "list_dataset_entries",
        {"ProjectName": "p", "DatasetType": "train", "SourceRefContains": "   "},
        "SourceRefContains '   '",
    ),
]


@pytest.mark.parametrize(("operation", "params", "fragment"), BOTO3_VALIDATION_CASES)
def test_validation_rules_through_boto3(
    shared_lv: Any, operation: str, params: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ClientError) as caught:
        getattr(shared_lv, operation)(**params)
    response = caught.value.response
    assert response["Error"]["Code"] == "ValidationException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert fragment in response["Error"]["Message"]


RAW_VALIDATION_CASES: list[tuple[str, str, bytes, dict[str, str], str]] = [
    ("POST", "/2020-11-20/projects", b"{}", {}, "ProjectName is required"),
    ("POST", "/2020-11-20/projects", b'{"ProjectName": ""}', {}, "ProjectName has 0 characters; at least 1"),
    ("POST", "/2020-11-20/projects", b'{"ProjectName": 7}', {}, "ProjectName: a string is expected"),
    ("POST", "/2020-11-20/projects", b'{"ProjectName": "x"', {}, "not valid JSON"),
    ("GET", "/2020-11-20/projects?maxResults=0", b"", {}, "MaxResults is 0; the minimum is 1"),
    ("GET", "/2020-11-20/projects?maxResults=many", b"", {}, "MaxResults: 'many' is not an integer"),
    (
        "GET",
        "/2020-11-20/projects/p/datasets/train/entries?labeled=maybe",
        b"",
        {},
        "Labeled: 'maybe' is not a boolean",
    ),
    (
        "GET",
        "/2020-11-20/projects/p/datasets/train/entries?createdAfter=last-week",
        b"",
        {},
        "AfterCreationDate: 'last-week' is not a timestamp",
    ),
    (
        "PATCH",
        "/2020-11-20/projects/p/datasets/train/entries",
        b'{"Changes": ""}',
        {},
        "Changes has 0 bytes; at least 1",
    ),
    (
        "PATCH",
        "/2020-11-20/projects/p/datasets/train/entries",
        b'{"Changes": "%%%"}',
        {},
        "Changes: the value is not valid base64",
    ),
    (
        "POST",
        "/2020-11-20/projects",
        b'{"ProjectName": "ok"}',
        {"X-Amzn-Client-Token": "has space"},
        "ClientToken 'has space'",
    ),
    (
        "POST",
        "/2020-11-20/projects/p/models/1/start",
        b'{"MinInferenceUnits": 0}',
        {},
        "MinInferenceUnits is 0; the minimum is 1",
    ),
    (
        "POST",
        "/2020-11-20/projects/p/models/1/detect",
        b"",
        {"Content-Type": "image/png"},
        "Body is required",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "headers", "fragment"), RAW_VALIDATION_CASES)
def test_validation_rules_through_raw_signed_requests(
    shared_server: Any, method: str, path: str, body: bytes, headers: dict[str, str], fragment: str
) -> None:
    response = signed(method, shared_server.url + path, body=body, headers=headers)
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"] == "ValidationException"
    assert fragment in response.json()["message"]


def test_client_token_replays_conflicts_and_expires(
    lv: Any, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    def create_model(_rt: Any, ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        calls.append(params)
        version = str(len(calls))
        project = params["ProjectName"]
        return {
            "ModelMetadata": {
                "ModelVersion": version,
                "ModelArn": f"arn:aws:lookoutvision:{ctx.region}:{ctx.account_id}:model/{project}/{version}",
                "CreationTimestamp": time.time(),
                "Status": "TRAINING",
            }
        }

    monkeypatch.setitem(OPERATIONS, "CreateModel", create_model)
    params = {
        "ProjectName": "idem",
        "OutputConfig": {"S3Location": {"Bucket": "out-bucket"}},
        "ClientToken": "tok-1",
    }
    first = lv.create_model(**params)
    again = lv.create_model(**params)
    assert first["ModelMetadata"] == again["ModelMetadata"]
    assert len(calls) == 1

    with pytest.raises(ClientError) as caught:
        lv.create_model(**{**params, "Description": "other"})
    assert caught.value.response["Error"]["Code"] == "ConflictException"
    assert caught.value.response["ResourceType"] == "MODEL"
    assert len(calls) == 1

    with server.runtime.db.begin() as conn:
        conn.execute(update(idempotency_tokens).values(created_at=time.time() - 9 * 3600))
    later = lv.create_model(**{**params, "Description": "other"})
    assert later["ModelMetadata"]["ModelVersion"] == "2"
    assert len(calls) == 2

    lv.create_model(ProjectName="idem", OutputConfig=params["OutputConfig"])  # boto3 fills a fresh token
    lv.create_model(ProjectName="idem", OutputConfig=params["OutputConfig"])
    assert len(calls) == 4


def test_credential_scope_decides_account_and_region(server: Any) -> None:
    client = lookoutvision_client(
        server.url,
        region_name="eu-west-1",
        aws_access_key_id="123456789012",
        retries={"total_max_attempts": 1},
    )
    created = client.create_project(ProjectName="scoped")["ProjectMetadata"]
    assert created["ProjectArn"] == "arn:aws:lookoutvision:eu-west-1:123456789012:project/scoped"
    other_key = lookoutvision_client(server.url, region_name="ap-northeast-1", aws_access_key_id="ANYKEYID")
    arn = other_key.create_project(ProjectName="scoped")["ProjectMetadata"]["ProjectArn"]
    assert arn == "arn:aws:lookoutvision:ap-northeast-1:000000000000:project/scoped"
    names = [p["ProjectName"] for p in client.list_projects()["Projects"]]
    assert names == ["scoped"]


def test_signature_is_not_checked_yet(server: Any) -> None:
    response = signed("GET", server.url + "/2020-11-20/projects", region="us-west-2", access_key="WHOEVER")
    assert response.status_code == 200
    assert "Projects" in response.json()


def test_detect_anomalies_raw_body_reaches_the_handler(lv: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def detect(_rt: Any, _ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        seen.update(params)
        return {
            "DetectAnomalyResult": {
                "Source": {"Type": "direct"},
                "IsAnomalous": True,
                "Confidence": 0.75,
                "AnomalyMask": params["Body"],
            }
        }

    monkeypatch.setitem(OPERATIONS, "DetectAnomalies", detect)
    image = png_image(width=80, height=64, seed=3, defect=True)
    result = lv.detect_anomalies(ProjectName="p", ModelVersion="latest", Body=image, ContentType="image/png")
    assert seen == {"ProjectName": "p", "ModelVersion": "latest", "ContentType": "image/png", "Body": image}
    assert result["DetectAnomalyResult"]["AnomalyMask"] == image
    assert result["DetectAnomalyResult"]["Confidence"] == 0.75


def test_percent_encoded_arn_reaches_tag_handlers(lv: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def list_tags(_rt: Any, _ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        seen.append(params["ResourceArn"])
        return {"Tags": [{"Key": "arn", "Value": "seen"}]}

    monkeypatch.setitem(OPERATIONS, "ListTagsForResource", list_tags)
    arn = "arn:aws:lookoutvision:us-east-1:000000000000:model/my-project/12"
    assert lv.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "arn", "Value": "seen"}]
    assert seen == [arn]


def test_unknown_routes_and_unexpected_errors_answer_json(
    lv: Any, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    unknown = httpx.get(server.url + "/2020-11-20/nothing-here/" + quote("a/b", safe=""))
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/json")
    assert unknown.headers["x-amzn-errortype"] == "UnknownOperationException"

    def broken(_rt: Any, _ctx: Any, _params: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("internal detail")

    monkeypatch.setitem(OPERATIONS, "ListModels", broken)
    with pytest.raises(ClientError) as caught:
        lv.list_models(ProjectName="p")
    assert caught.value.response["Error"]["Code"] == "InternalServerException"
    assert "internal detail" not in caught.value.response["Error"]["Message"]
    assert httpx.get(server.url + "/openlookout/health").json() == {"status": "ok"}
