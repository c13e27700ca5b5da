"""ListProjects paging through a live server: page sizes, order, signed tokens bound to the query."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from botocore.exceptions import ClientError

from openlookout.client import lookoutvision_client
from openlookout.service.context import RequestContext
from openlookout.service.operations import OPERATIONS

PROJECTS = 250
DEFAULT_ACCOUNT = "000000000000"


@pytest.fixture
def many_projects(server: Any) -> list[str]:
    """250 projects of the default caller, made through the operation table (one HTTP round trip
    costs ~50 ms on the test machines; creating them over the wire is covered in test_projects.py)."""
    create = OPERATIONS["CreateProject"]
    ctx = RequestContext(account_id=DEFAULT_ACCOUNT, region="us-east-1")
    names = [f"p{index:03d}-{'x' * (index % 7)}" for index in range(PROJECTS)]
    for name in names:
        create(server.runtime, ctx, {"ProjectName": name})
    return names


def _code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def test_pages_of_100_cover_every_project_once_in_creation_order(lv: Any, many_projects: list[str]) -> None:
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"MaxResults": 100}
        if token:
            kwargs["NextToken"] = token
        page = lv.list_projects(**kwargs)
        pages.append([p["ProjectName"] for p in page["Projects"]])
        token = page.get("NextToken")
        if token is None:
            break
        assert len(token) <= 2048
    assert [len(p) for p in pages] == [100, 100, 50]
    assert [name for page in pages for name in page] == many_projects


def test_default_page_size_and_the_boto3_paginator(lv: Any, many_projects: list[str]) -> None:
    first = lv.list_projects()
    assert len(first["Projects"]) == 100 and "NextToken" in first
    paginator = lv.get_paginator("list_projects")
    names = [
        p["ProjectName"]
        for page in paginator.paginate(PaginationConfig={"PageSize": 37})
        for p in page["Projects"]
    ]
    assert names == many_projects


def test_a_tampered_token_is_a_validation_error(lv: Any, many_projects: list[str]) -> None:
    token = lv.list_projects(MaxResults=10)["NextToken"]
    raw = bytearray(base64.b64decode(token))
    raw[-2] ^= 0x04
    for bad in (base64.b64encode(bytes(raw)).decode(), token[:-8], "AAAA" + token[4:], "Zm9vYmFy"):
        with pytest.raises(ClientError) as excinfo:
            lv.list_projects(MaxResults=10, NextToken=bad)
        assert _code(excinfo) == "ValidationException"
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_token_only_works_for_the_query_and_caller_that_got_it(
    server: Any, lv: Any, many_projects: list[str]
) -> None:
    token = lv.list_projects(MaxResults=10)["NextToken"]
    assert len(lv.list_projects(MaxResults=10, NextToken=token)["Projects"]) == 10
    for client in (
        lookoutvision_client(server.url, region_name="eu-west-1", retries={"total_max_attempts": 1}),
        lookoutvision_client(server.url, aws_access_key_id="111122223333", retries={"total_max_attempts": 1}),
    ):
        with pytest.raises(ClientError) as excinfo:
            client.list_projects(MaxResults=10, NextToken=token)
        assert _code(excinfo) == "ValidationException"
    lv.create_dataset(ProjectName=many_projects[0], DatasetType="train")
    with pytest.raises(ClientError) as excinfo:
        lv.list_dataset_entries(ProjectName=many_projects[0], DatasetType="train", NextToken=token)
    assert _code(excinfo) == "ValidationException"


def test_a_token_from_another_installation_is_rejected(make_server: Any) -> None:
    first, second = make_server(), make_server()
    one = lookoutvision_client(first.url, retries={"total_max_attempts": 1})
    two = lookoutvision_client(second.url, retries={"total_max_attempts": 1})
    for index in range(3):
        one.create_project(ProjectName=f"a{index}")
        two.create_project(ProjectName=f"a{index}")
    token = one.list_projects(MaxResults=1)["NextToken"]
    assert [p["ProjectName"] for p in one.list_projects(MaxResults=1, NextToken=token)["Projects"]] == ["a1"]
    with pytest.raises(ClientError) as excinfo:
        two.list_projects(MaxResults=1, NextToken=token)
    assert _code(excinfo) == "ValidationException"


def test_a_token_stays_valid_across_a_restart(make_server: Any) -> None:
    first = make_server()
    client = lookoutvision_client(first.url, retries={"total_max_attempts": 1})
    for index in range(3):
        client.create_project(ProjectName=f"r{index}")
    token = client.list_projects(MaxResults=2)["NextToken"]
    first.stop()
    second = make_server(data_dir=first.data_dir)
    again = lookoutvision_client(second.url, retries={"total_max_attempts": 1})
    rest = again.list_projects(MaxResults=2, NextToken=token)
    assert [p["ProjectName"] for p in rest["Projects"]] == ["r2"]
    assert "NextToken" not in rest
