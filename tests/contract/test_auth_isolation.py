"""Nothing of account A is reachable by account B: projects through the API, stored images through
upload:// references and console thumbnails, S3 buckets A was granted, and local files outside the
allowed folders say the same whether they exist or not."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from tests.contract.conftest import LiveServer, _start_server, s3_client
from tests.helpers.auth import A1, B1, Tenants, client_for, send, signed_request, tenant_settings
from tests.helpers.synthetic import png_image

from openlookout.auth.credentials import AccessKey

HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str) -> Iterator[dict[str, Any]]:
    """A server where A uploaded an image into project "a-secret"."""
    base = tmp_path_factory.mktemp("auth-isolation")
    overrides, tenants = tenant_settings(base / "keys", s3_client(s3_endpoint))
    live = _start_server(base, s3_endpoint, overrides)
    a = client_for(live.url, A1)
    a.create_project(ProjectName="a-secret")
    url = f"{live.url}/openlookout/v1/projects/a-secret/datasets/train/images?name=x.png&label=normal"
    image = png_image(seed=41)
    target, headers, body = signed_request("POST", url, A1, body=image, headers={"Content-Type": "image/png"})
    answer = send("POST", target, headers, body)
    assert answer.status_code == 200, answer.text
    yield {
        "server": live,
        "tenants": tenants,
        "ref": answer.json()["SourceRef"],
        "a": a,
        "b": client_for(live.url, B1),
    }
    live.stop()


def code_of(call: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return str(refused.value.response["Error"]["Code"])


def test_b_sees_nothing_of_a_through_the_api(world: dict[str, Any]) -> None:
    a, b = world["a"], world["b"]
    assert [p["ProjectName"] for p in b.list_projects()["Projects"]] == []
    assert code_of(lambda: b.describe_project(ProjectName="a-secret")) == "ResourceNotFoundException"
    assert code_of(lambda: b.list_dataset_entries(ProjectName="a-secret", DatasetType="train")) == (
        "ResourceNotFoundException"
    )
    assert code_of(lambda: b.delete_project(ProjectName="a-secret")) == "ResourceNotFoundException"
    assert a.describe_project(ProjectName="a-secret")["ProjectDescription"]["ProjectName"] == "a-secret"


def _update_and_wait(client: Any, project: str, line: dict[str, Any]) -> str:
    client.update_dataset_entries(ProjectName=project, DatasetType="train", Changes=json.dumps(line).encode())
    deadline = time.monotonic() + 30
    while True:
        described = client.describe_dataset(ProjectName=project, DatasetType="train")["DatasetDescription"]
        if not described["Status"].endswith("IN_PROGRESS"):
            return str(described.get("StatusMessage", ""))
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _line(ref: str) -> dict[str, Any]:
    return {"source-ref": ref, "label": 0, "label-metadata": {"class-name": "normal"}}


def test_an_upload_reference_of_a_is_like_one_that_never_existed_for_b(world: dict[str, Any]) -> None:
    b, ref = world["b"], world["ref"]
    b.create_project(ProjectName="b-steals")
    b.create_dataset(ProjectName="b-steals", DatasetType="train")
    stolen = _update_and_wait(b, "b-steals", _line(ref))
    never = "upload://" + "0" * 64 + "/x.png"
    missing = _update_and_wait(b, "b-steals", _line(never))
    assert "not stored on this server" in stolen
    assert stolen.replace(ref, "<ref>") == missing.replace(never, "<ref>")
    # A deleting its dataset gives B nothing either.
    world["a"].delete_dataset(ProjectName="a-secret", DatasetType="train")
    assert _update_and_wait(b, "b-steals", _line(ref)).replace(ref, "<ref>") == missing.replace(
        never, "<ref>"
    )


def test_b_reaches_no_bucket_of_a(world: dict[str, Any], s3_endpoint: str) -> None:
    b, tenants = world["b"], world["tenants"]
    assert isinstance(tenants, Tenants)
    s3 = s3_client(s3_endpoint)
    s3.put_object(Bucket=tenants.bucket_a, Key="secret/img.png", Body=png_image(seed=5))
    s3.put_object(
        Bucket=tenants.bucket_a, Key="a.manifest", Body=json.dumps(_line("secret/img.png")).encode()
    )
    line = _line(f"s3://{tenants.bucket_a}/secret/img.png")
    s3.put_object(Bucket=tenants.bucket_b, Key="b.manifest", Body=json.dumps(line).encode())
    b.create_project(ProjectName="b-s3")
    source = {"GroundTruthManifest": {"S3Object": {"Bucket": tenants.bucket_a, "Key": "a.manifest"}}}
    with pytest.raises(ClientError) as refused:
        b.create_dataset(ProjectName="b-s3", DatasetType="train", DatasetSource=source)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert tenants.bucket_a in refused.value.response["Error"]["Message"]
    own = {"GroundTruthManifest": {"S3Object": {"Bucket": tenants.bucket_b, "Key": "b.manifest"}}}
    b.create_dataset(ProjectName="b-s3", DatasetType="test", DatasetSource=own)
    deadline = time.monotonic() + 30
    while (d := b.describe_dataset(ProjectName="b-s3", DatasetType="test")["DatasetDescription"])[
        "Status"
    ] == ("CREATE_IN_PROGRESS"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert d["Status"] == "CREATE_FAILED" and tenants.bucket_a in d["StatusMessage"]
    output = {"S3Location": {"Bucket": tenants.bucket_a, "Prefix": "out/"}}
    assert code_of(lambda: b.create_model(ProjectName="b-s3", OutputConfig=output)) == "AccessDeniedException"
    elsewhere = {"Bucket": tenants.bucket_a, "Prefix": "pkg/"}
    greengrass = {
        "Greengrass": {"TargetDevice": "jetson_xavier", "ComponentName": "c", "S3OutputLocation": elsewhere}
    }
    packaging = code_of(
        lambda: b.start_model_packaging_job(ProjectName="b-s3", ModelVersion="1", Configuration=greengrass)
    )
    assert packaging == "AccessDeniedException"
    url = f"{world['server'].url}/openlookout/v1/projects/b-s3/datasets/train/import"
    body = json.dumps({"Source": f"s3://{tenants.bucket_a}/secret/"}).encode()
    target, headers, _ = signed_request(
        "POST", url, B1, body=body, headers={"Content-Type": "application/json"}
    )
    imported = send("POST", target, headers, body)
    assert imported.status_code == 403 and tenants.bucket_a in imported.json()["message"]


def test_local_files_outside_the_roots_say_the_same_whether_they_exist_or_not(world: dict[str, Any]) -> None:
    b = world["b"]
    b.create_project(ProjectName="b-local")
    b.create_dataset(ProjectName="b-local", DatasetType="train")
    messages = {
        uri: _update_and_wait(b, "b-local", _line(uri)).replace(uri, "<uri>")
        for uri in ("file:///etc/passwd", "file:///etc/nonexistent", "file:///root/.ssh/id_rsa")
    }
    assert len(set(messages.values())) == 1, messages
    assert "outside the folders this server may read" in next(iter(messages.values()))


def console_session(server: LiveServer, key: AccessKey) -> httpx.Client:
    web = httpx.Client(base_url=server.url, headers=HTML, timeout=30)
    signed_in = web.post(
        "/console/login",
        data={"access_key_id": key.access_key_id, "secret_access_key": key.secret_access_key},
    )
    assert signed_in.status_code == 303, signed_in.text
    cookie = signed_in.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    return web


def test_b_sees_nothing_of_a_through_the_console(world: dict[str, Any]) -> None:
    server, ref = world["server"], world["ref"]
    sha = ref.split("/")[2]
    a_web, b_web = console_session(server, A1), console_session(server, B1)
    try:
        assert a_web.get(f"/console/thumbs/{sha}.jpg").status_code == 200
        stolen = b_web.get(f"/console/thumbs/{sha}.jpg")
        never = b_web.get(f"/console/thumbs/{'0' * 64}.jpg")
        assert (stolen.status_code, stolen.text) == (never.status_code, never.text) == (404, "No such image.")
        assert "a-secret" not in b_web.get("/").text and "a-secret" in a_web.get("/").text
        assert b_web.get("/projects/a-secret").status_code == 404
        deleted = b_web.post("/projects/a-secret/delete", data={}, headers={"Origin": server.url})
        assert deleted.status_code == 404
        described = world["a"].describe_project(ProjectName="a-secret")["ProjectDescription"]
        assert described["ProjectName"] == "a-secret"
    finally:
        a_web.close()
        b_web.close()
    anonymous = httpx.get(f"{server.url}/console/thumbs/{sha}.jpg", timeout=30)
    assert anonymous.status_code == 404
