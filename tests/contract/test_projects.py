"""Projects through a live server with the real boto3 client: create, describe, list, delete."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from openlookout.client import lookoutvision_client

DEFAULT_ACCOUNT = "000000000000"


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    return excinfo.value.response


def test_project_lifecycle(lv: Any) -> None:
    before = dt.datetime.now(dt.UTC)
    created = lv.create_project(ProjectName="widget-line_1")["ProjectMetadata"]
    assert created["ProjectName"] == "widget-line_1"
    assert created["ProjectArn"] == f"arn:aws:lookoutvision:us-east-1:{DEFAULT_ACCOUNT}:project/widget-line_1"
    assert before - dt.timedelta(seconds=1) <= created["CreationTimestamp"] <= dt.datetime.now(dt.UTC)

    described = lv.describe_project(ProjectName="widget-line_1")["ProjectDescription"]
    assert described["ProjectArn"] == created["ProjectArn"]
    assert described["CreationTimestamp"] == created["CreationTimestamp"]
    assert described["Datasets"] == []

    listed = lv.list_projects()
    assert [p["ProjectName"] for p in listed["Projects"]] == ["widget-line_1"]
    assert "NextToken" not in listed

    deleted = lv.delete_project(ProjectName="widget-line_1")
    assert deleted["ProjectArn"] == created["ProjectArn"]
    assert lv.list_projects()["Projects"] == []
    with pytest.raises(ClientError) as excinfo:
        lv.describe_project(ProjectName="widget-line_1")
    assert _error(excinfo)["Error"]["Code"] == "ResourceNotFoundException"


def test_duplicate_name_is_a_conflict_on_the_project(lv: Any) -> None:
    lv.create_project(ProjectName="dup")
    with pytest.raises(ClientError) as excinfo:
        lv.create_project(ProjectName="dup")
    response = _error(excinfo)
    assert response["Error"]["Code"] == "ConflictException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert response["ResourceType"] == "PROJECT"
    assert response["ResourceId"] == "dup"
    assert "dup" in response["Error"]["Message"]


@pytest.mark.parametrize("operation", ["describe_project", "delete_project"])
def test_missing_project_is_not_found_with_its_type(lv: Any, operation: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        getattr(lv, operation)(ProjectName="nowhere")
    response = _error(excinfo)
    assert response["Error"]["Code"] == "ResourceNotFoundException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert response["ResourceType"] == "PROJECT"
    assert response["ResourceId"] == "nowhere"


def test_delete_is_refused_while_a_dataset_exists(lv: Any) -> None:
    lv.create_project(ProjectName="busy")
    lv.create_dataset(ProjectName="busy", DatasetType="train")
    datasets = lv.describe_project(ProjectName="busy")["ProjectDescription"]["Datasets"]
    assert [(d["DatasetType"], d["Status"]) for d in datasets] == [("train", "CREATE_COMPLETE")]
    assert isinstance(datasets[0]["CreationTimestamp"], dt.datetime)

    with pytest.raises(ClientError) as excinfo:
        lv.delete_project(ProjectName="busy")
    response = _error(excinfo)
    assert response["Error"]["Code"] == "ConflictException"
    assert response["ResourceType"] == "PROJECT"
    assert "train" in response["Error"]["Message"]
    assert lv.describe_project(ProjectName="busy")["ProjectDescription"]["ProjectName"] == "busy"

    lv.delete_dataset(ProjectName="busy", DatasetType="train")
    deadline = time.monotonic() + 10
    while lv.describe_project(ProjectName="busy")["ProjectDescription"]["Datasets"]:
        assert time.monotonic() < deadline, "dataset never went away"
        time.sleep(0.05)
    assert lv.delete_project(ProjectName="busy")["ProjectArn"].endswith(":project/busy")


def test_projects_are_scoped_to_account_and_region(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="shared-name")
    other_region = lookoutvision_client(
        server.url, region_name="eu-west-1", retries={"total_max_attempts": 1}
    )
    other_account = lookoutvision_client(
        server.url, aws_access_key_id="111122223333", retries={"total_max_attempts": 1}
    )
    assert other_region.list_projects()["Projects"] == []
    assert other_account.list_projects()["Projects"] == []
    with pytest.raises(ClientError):
        other_account.describe_project(ProjectName="shared-name")
    mine = other_account.create_project(ProjectName="shared-name")["ProjectMetadata"]
    assert mine["ProjectArn"] == "arn:aws:lookoutvision:us-east-1:111122223333:project/shared-name"
    there = other_region.create_project(ProjectName="shared-name")["ProjectMetadata"]
    assert there["ProjectArn"].startswith(f"arn:aws:lookoutvision:eu-west-1:{DEFAULT_ACCOUNT}:")
    assert [p["ProjectName"] for p in lv.list_projects()["Projects"]] == ["shared-name"]


def test_projects_survive_a_restart(make_server: Any) -> None:
    first = make_server()
    client = lookoutvision_client(first.url, retries={"total_max_attempts": 1})
    created = client.create_project(ProjectName="durable")["ProjectMetadata"]
    first.stop()
    second = make_server(data_dir=first.data_dir)
    again = lookoutvision_client(second.url, retries={"total_max_attempts": 1})
    described = again.describe_project(ProjectName="durable")["ProjectDescription"]
    assert described["ProjectArn"] == created["ProjectArn"]
    assert described["CreationTimestamp"] == created["CreationTimestamp"]


def test_concurrent_creates_and_deletes_of_one_name_give_one_winner(server: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    clients = [lookoutvision_client(server.url, retries={"total_max_attempts": 1}) for _ in range(6)]

    def attempt(client: Any, operation: str) -> str:
        try:
            getattr(client, operation)(ProjectName="race")
            return "ok"
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])

    with ThreadPoolExecutor(len(clients)) as pool:
        created = list(pool.map(lambda c: attempt(c, "create_project"), clients))
    assert sorted(created) == ["ConflictException"] * 5 + ["ok"]
    with ThreadPoolExecutor(len(clients)) as pool:
        deleted = list(pool.map(lambda c: attempt(c, "delete_project"), clients))
    assert sorted(deleted) == ["ResourceNotFoundException"] * 5 + ["ok"]
