"""Verified SigV4 on a live server with a credentials file: real boto3 (the API model shipped in the
package), the AWS CLI, botocore's signer for hand-made and tampered requests, and the JavaScript
SDK's signer. Right keys pass for every operation; every failure gets AWS's 403 code."""

from __future__ import annotations

import base64
import datetime
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote, urlsplit

import httpx
import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError
from tests.contract.conftest import LiveServer, _start_server, s3_client
from tests.helpers.auth import (
    A1,
    A2,
    AUTH_ERRORS,
    B1,
    Tenants,
    client_for,
    send,
    signed_request,
    tenant_settings,
)
from tests.helpers.synthetic import png_image

from openlookout.auth.credentials import AccessKey
from openlookout.client import model_data_path
from openlookout.spec.loader import load_service_model

JS_DIR = Path(__file__).resolve().parents[1] / "js"
AWS = Path(sys.executable).with_name("aws")


@pytest.fixture(scope="module")
def tenants_server(
    tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str
) -> Iterator[tuple[LiveServer, Tenants]]:
    base = tmp_path_factory.mktemp("auth-api")
    overrides, tenants = tenant_settings(base / "keys", s3_client(s3_endpoint))
    live = _start_server(base, s3_endpoint, overrides)
    yield live, tenants
    live.stop()


@pytest.fixture(scope="module")
def server_url(tenants_server: tuple[LiveServer, Tenants]) -> str:
    return tenants_server[0].url


def error_code(call: Callable[[], Any]) -> str | None:
    """The error code ``call`` answers with (None on success)."""
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return None


def test_a_right_key_passes_authentication_for_every_operation(
    tenants_server: tuple[LiveServer, Tenants], s3_endpoint: str
) -> None:
    live, tenants = tenants_server
    lv = client_for(live.url, A1)
    s3 = s3_client(s3_endpoint)
    s3.put_object(Bucket=tenants.bucket_a, Key="ops/n.png", Body=png_image(seed=3))
    line = json.dumps(
        {"source-ref": f"s3://{tenants.bucket_a}/ops/n.png", "auto-label": 0,
         "auto-label-metadata": {"class-name": "normal", "type": "groundtruth/image-classification"}}
    )  # fmt: skip
    arn = lv.create_project(ProjectName="ops")["ProjectMetadata"]["ProjectArn"]
    project = {"ProjectName": "ops"}
    model = {**project, "ModelVersion": "1"}
    output = {"S3Location": {"Bucket": tenants.bucket_a, "Prefix": "out/"}}
    greengrass = {
        "Greengrass": {"TargetDevice": "jetson_xavier", "TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"},
                       "S3OutputLocation": {"Bucket": tenants.bucket_a, "Prefix": "pkg/"},
                       "ComponentName": "ops-model"}
    }  # fmt: skip
    calls: dict[str, Callable[[], Any]] = {
        "CreateProject": lambda: lv.create_project(ProjectName="ops-2"),
        "DescribeProject": lambda: lv.describe_project(**project),
        "ListProjects": lambda: lv.list_projects(),
        "CreateDataset": lambda: lv.create_dataset(**project, DatasetType="train"),
        "DescribeDataset": lambda: lv.describe_dataset(**project, DatasetType="train"),
        "UpdateDatasetEntries": lambda: lv.update_dataset_entries(
            **project, DatasetType="train", Changes=line.encode()
        ),
        "ListDatasetEntries": lambda: lv.list_dataset_entries(**project, DatasetType="train"),
        "TagResource": lambda: lv.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "a"}]),
        "ListTagsForResource": lambda: lv.list_tags_for_resource(ResourceArn=arn),
        "UntagResource": lambda: lv.untag_resource(ResourceArn=arn, TagKeys=["team"]),
        "CreateModel": lambda: lv.create_model(**project, OutputConfig=output),
        "ListModels": lambda: lv.list_models(**project),
        "DescribeModel": lambda: lv.describe_model(**model),
        "StartModel": lambda: lv.start_model(**model, MinInferenceUnits=1),
        "DetectAnomalies": lambda: lv.detect_anomalies(**model, Body=png_image(), ContentType="image/png"),
        "StopModel": lambda: lv.stop_model(**model),
        "StartModelPackagingJob": lambda: lv.start_model_packaging_job(**model, Configuration=greengrass),
        "ListModelPackagingJobs": lambda: lv.list_model_packaging_jobs(**project),
        "DescribeModelPackagingJob": lambda: lv.describe_model_packaging_job(**project, JobName="none"),
        "DeleteModel": lambda: lv.delete_model(**model),
        "DeleteDataset": lambda: lv.delete_dataset(**project, DatasetType="train"),
        "DeleteProject": lambda: lv.delete_project(ProjectName="ops-2"),
    }
    assert set(calls) == set(load_service_model().operations)
    answers = {name: error_code(call) for name, call in calls.items()}
    assert not {name: code for name, code in answers.items() if code in AUTH_ERRORS}, answers
    # Tags belong to models: on a project ARN (percent-encoded in the path) the service answers
    # ValidationException, which shows the signature of that path was accepted.
    for name in (
        "CreateProject",
        "DescribeProject",
        "ListProjects",
        "CreateDataset",
        "ListModels",
        "DeleteProject",
    ):
        assert answers[name] is None, (name, answers[name])


def test_another_key_of_the_same_account_sees_the_same_projects(server_url: str) -> None:
    client_for(server_url, A1).create_project(ProjectName="shared-by-a")
    names = [p["ProjectName"] for p in client_for(server_url, A2).list_projects()["Projects"]]
    assert "shared-by-a" in names
    assert "shared-by-a" not in [
        p["ProjectName"] for p in client_for(server_url, B1).list_projects()["Projects"]
    ]


@pytest.mark.parametrize(
    ("key", "code"),
    [
        (
            AccessKey("OLAKUNKNOWNUNKNOWN01", "whatever-secret-000000000000", "111111111111"),
            "UnrecognizedClientException",
        ),
        (
            AccessKey(A1.access_key_id, "not-the-right-secret-000000000", A1.account_id),
            "InvalidSignatureException",
        ),
        (
            AccessKey("111111111111", "a-claimed-account-is-nothing-00", "111111111111"),
            "UnrecognizedClientException",
        ),
    ],
    ids=["unknown-key", "wrong-secret", "account-id-as-key"],
)
def test_wrong_keys_get_403(server_url: str, key: AccessKey, code: str) -> None:
    with pytest.raises(ClientError) as refused:
        client_for(server_url, key).list_projects()
    assert refused.value.response["Error"]["Code"] == code
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unsigned_requests_get_missing_authentication_token(server_url: str) -> None:
    with pytest.raises(ClientError) as refused:
        client_for(server_url, A1, signature_version=UNSIGNED).list_projects()
    assert refused.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"
    plain = httpx.get(f"{server_url}/2020-11-20/projects", timeout=30)
    assert (plain.status_code, plain.headers["x-amzn-ErrorType"]) == (
        403,
        "MissingAuthenticationTokenException",
    )


def test_a_stale_date_is_refused_with_the_skew(server_url: str) -> None:
    stale = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=20)
    with mock.patch("botocore.auth.get_current_datetime", return_value=stale):
        url, headers, _ = signed_request("GET", f"{server_url}/2020-11-20/projects", A1)
    answer = send("GET", url, headers)
    assert (answer.status_code, answer.headers["x-amzn-ErrorType"]) == (403, "InvalidSignatureException")
    assert "Signature expired" in answer.json()["message"] and "15 min" in answer.json()["message"]


def test_a_scope_naming_another_service_is_refused(server_url: str) -> None:
    url, headers, _ = signed_request("GET", f"{server_url}/2020-11-20/projects", A1)
    headers["Authorization"] = headers["Authorization"].replace("/lookoutvision/", "/s3/")
    answer = send("GET", url, headers)
    assert (answer.status_code, answer.headers["x-amzn-ErrorType"]) == (403, "InvalidSignatureException")


def test_tampered_body_header_path_and_query_are_refused(server_url: str) -> None:
    body = b'{"ProjectName": "tamper-me"}'
    url, headers, _ = signed_request(
        "POST",
        f"{server_url}/2020-11-20/projects",
        A1,
        body=body,
        headers={"Content-Type": "application/json"},
    )
    listing, list_headers, _ = signed_request("GET", f"{server_url}/2020-11-20/projects?maxResults=5", A1)
    variants = {
        "body": ("POST", url, headers, b'{"ProjectName": "tamper-it"}'),
        "header": ("POST", url, {**headers, "Content-Type": "application/json; charset=x"}, body),
        "path": ("POST", url.replace("/projects", "/projects/x"), headers, body),
        "query": ("GET", listing.replace("maxResults=5", "maxResults=6"), list_headers, b""),
        "query-added": ("GET", listing + "&nextToken=x", list_headers, b""),
    }
    for name, (method, target, sent, content) in variants.items():
        answer = send(method, target, sent, content)
        assert answer.status_code == 403, (name, answer.text)
        assert answer.headers["x-amzn-ErrorType"] == "InvalidSignatureException", name
    assert send("POST", url, headers, body).status_code == 200  # the untouched request passes
    names = [p["ProjectName"] for p in client_for(server_url, A1).list_projects()["Projects"]]
    assert "tamper-it" not in names and "tamper-me" in names


def test_presigned_urls_work_until_tampered(server_url: str) -> None:
    lv = client_for(server_url, A1)
    url = lv.generate_presigned_url("list_projects", Params={"MaxResults": 5}, ExpiresIn=60)
    assert "X-Amz-Signature=" in url
    assert httpx.get(url, timeout=30).status_code == 200
    tampered = httpx.get(url.replace("MaxResults=5", "MaxResults=6").replace("maxResults=5", "maxResults=6"))
    assert tampered.status_code == 403 and tampered.headers["x-amzn-ErrorType"] == "InvalidSignatureException"


def _js_sign(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not (JS_DIR / "node_modules" / "@smithy" / "signature-v4").is_dir() or shutil.which("node") is None:
        if os.environ.get("CI"):
            pytest.fail("the JavaScript SDK's signer is not installed (npm ci --prefix tests/js)")
        pytest.skip("the JavaScript SDK's signer is not installed (npm ci --prefix tests/js)")
    done = subprocess.run(
        ["node", str(JS_DIR / "sign.mjs")], input=json.dumps(requests), capture_output=True, text=True,
        timeout=60, cwd=JS_DIR, check=True,
    )  # fmt: skip
    signed: list[dict[str, Any]] = json.loads(done.stdout)
    return signed


def test_the_javascript_sdks_signatures_are_accepted(server_url: str) -> None:
    parts = urlsplit(server_url)
    arn = client_for(server_url, A1).create_project(ProjectName="from-js-check")["ProjectMetadata"][
        "ProjectArn"
    ]
    body = json.dumps({"ProjectName": "made-by-js"}).encode()
    common = {"hostname": parts.hostname, "port": parts.port, "region": "us-east-1",
              "accessKeyId": A1.access_key_id, "secretAccessKey": A1.secret_access_key}  # fmt: skip
    json_type = {"content-type": "application/json"}
    projects, tags = "/2020-11-20/projects", "/2020-11-20/tags/" + quote(arn, safe="")
    requests = [
        {**common, "method": "GET", "path": projects, "query": {"maxResults": "5"}, "headers": {}},
        {**common, "method": "POST", "path": projects, "query": {}, "headers": json_type,
         "body": base64.b64encode(body).decode()},
        {**common, "method": "GET", "path": tags, "query": {}, "headers": {}},
        {**common, "method": "GET", "path": projects, "query": {}, "headers": {}, "presignExpires": 60},
    ]  # fmt: skip
    signed = _js_sign(requests)
    # Tags belong to models: the project ARN's ValidationException shows its path's signature passed.
    expected = [200, 200, 400, 200]
    for request, result, status in zip(requests, signed, expected, strict=True):
        query = "&".join(f"{quote(k, safe='')}={quote(str(v), safe='')}" for k, v in result["query"].items())
        url = f"{server_url}{request['path']}" + (f"?{query}" if query else "")
        headers = {k: v for k, v in result["headers"].items() if k != "host"}
        content = body if request["method"] == "POST" else b""
        answer = send(request["method"], url, headers, content)
        assert answer.status_code == status, (request["path"], answer.text)
    wrong = dict(signed[0]["headers"])
    wrong["authorization"] = wrong["authorization"].replace(A1.access_key_id, A2.access_key_id)
    refused = send(
        "GET",
        f"{server_url}/2020-11-20/projects?maxResults=5",
        {k: v for k, v in wrong.items() if k != "host"},
    )
    assert refused.status_code == 403


def _aws_cli(server_url: str, tmp_path: Path, key: AccessKey, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_DATA_PATH=str(model_data_path()), AWS_ACCESS_KEY_ID=key.access_key_id,
        AWS_SECRET_ACCESS_KEY=key.secret_access_key, AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="",
        AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
    )  # fmt: skip
    command = [str(AWS), "lookoutvision", *args, "--endpoint-url", server_url, "--output", "json"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_the_aws_cli_signs_with_the_keys(server_url: str, tmp_path: Path) -> None:
    created = _aws_cli(server_url, tmp_path, B1, "create-project", "--project-name", "from-cli")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["ProjectMetadata"]["ProjectArn"].split(":")[4] == B1.account_id
    wrong = AccessKey(B1.access_key_id, "not-the-secret-of-b-000000000", B1.account_id)
    refused = _aws_cli(server_url, tmp_path, wrong, "list-projects")
    assert refused.returncode != 0 and "InvalidSignatureException" in refused.stderr
