"""The server on PostgreSQL: a representative lifecycle (projects, paging, tags, dataset and entries)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.contract.test_models_support import insert_model_row
from tests.helpers.synthetic import png_image

from openlookout.client import lookoutvision_client

BUCKET = "pg-lifecycle"


def _line(uri: str, label: str) -> str:
    return json.dumps(
        {
            "source-ref": uri,
            "anomaly-label": 1,
            "anomaly-label-metadata": {
                "class-name": label,
                "type": "groundtruth/image-classification",
                "human-annotated": "yes",
            },
        }
    )


def _wait(client: Any, project: str, wanted: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        description: dict[str, Any] = client.describe_dataset(ProjectName=project, DatasetType="train")[
            "DatasetDescription"
        ]
        if description["Status"] in wanted:
            return description
        assert time.monotonic() < deadline, f"dataset stuck in {description['Status']}"
        time.sleep(0.05)


def test_lifecycle_on_postgresql(make_server: Any, s3: Any, fresh_postgres_url: str) -> None:
    live = make_server(database_url=fresh_postgres_url)
    assert live.runtime.db.engine.dialect.name == "postgresql"
    lv = lookoutvision_client(live.url, retries={"total_max_attempts": 1})

    for index in range(5):
        lv.create_project(ProjectName=f"pg-{index}")
    with pytest.raises(ClientError) as excinfo:
        lv.create_project(ProjectName="pg-0")
    assert excinfo.value.response["Error"]["Code"] == "ConflictException"
    first = lv.list_projects(MaxResults=2)
    second = lv.list_projects(MaxResults=2, NextToken=first["NextToken"])
    third = lv.list_projects(MaxResults=2, NextToken=second["NextToken"])
    names = [p["ProjectName"] for page in (first, second, third) for p in page["Projects"]]
    assert names == [f"pg-{i}" for i in range(5)] and "NextToken" not in third

    arn = insert_model_row(live.runtime, "pg-0", 1)  # recorded without training: tags need it to exist
    lv.tag_resource(ResourceArn=arn, Tags=[{"Key": "db", "Value": "postgres"}])
    assert lv.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "db", "Value": "postgres"}]
    lv.delete_model(ProjectName="pg-0", ModelVersion="1")

    s3.create_bucket(Bucket=BUCKET)
    lines = []
    for index in range(3):
        key = f"img-{index}.png"
        s3.put_object(Bucket=BUCKET, Key=key, Body=png_image(seed=index, defect=index == 2))
        lines.append(_line(f"s3://{BUCKET}/{key}", "anomaly" if index == 2 else "normal"))
    lv.create_dataset(ProjectName="pg-0", DatasetType="train")
    assert (
        lv.update_dataset_entries(ProjectName="pg-0", DatasetType="train", Changes="\n".join(lines).encode())[
            "Status"
        ]
        == "UPDATE_IN_PROGRESS"
    )
    description = _wait(lv, "pg-0", {"UPDATE_COMPLETE", "UPDATE_FAILED_ROLLBACK_COMPLETE"})
    assert description["Status"] == "UPDATE_COMPLETE", description.get("StatusMessage")
    assert description["ImageStats"] == {"Total": 3, "Labeled": 3, "Normal": 2, "Anomaly": 1}
    entries = lv.list_dataset_entries(ProjectName="pg-0", DatasetType="train")["DatasetEntries"]
    assert sorted(json.loads(e)["source-ref"] for e in entries) == sorted(
        f"s3://{BUCKET}/img-{i}.png" for i in range(3)
    )

    datasets = lv.describe_project(ProjectName="pg-0")["ProjectDescription"]["Datasets"]
    assert [(d["DatasetType"], d["Status"]) for d in datasets] == [("train", "UPDATE_COMPLETE")]
    with pytest.raises(ClientError) as excinfo:
        lv.delete_project(ProjectName="pg-0")
    assert excinfo.value.response["Error"]["Code"] == "ConflictException"
    lv.delete_dataset(ProjectName="pg-0", DatasetType="train")
    deadline = time.monotonic() + 10
    while lv.describe_project(ProjectName="pg-0")["ProjectDescription"]["Datasets"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    lv.delete_project(ProjectName="pg-0")
    # the project is gone, so are its model tags:
    with pytest.raises(ClientError) as excinfo:
        lv.list_tags_for_resource(ResourceArn=arn)
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_two_servers_share_one_postgresql_database(make_server: Any, fresh_postgres_url: str) -> None:
    one = make_server(database_url=fresh_postgres_url)
    two = make_server(database_url=fresh_postgres_url)
    a = lookoutvision_client(one.url, retries={"total_max_attempts": 1})
    b = lookoutvision_client(two.url, retries={"total_max_attempts": 1})
    for index in range(3):
        a.create_project(ProjectName=f"shared-{index}")
    assert [p["ProjectName"] for p in b.list_projects()["Projects"]] == ["shared-0", "shared-1", "shared-2"]
    token = a.list_projects(MaxResults=1)["NextToken"]
    # one installation (one database) means one paging secret: either server continues the listing
    assert [p["ProjectName"] for p in b.list_projects(MaxResults=1, NextToken=token)["Projects"]] == [
        "shared-1"
    ]


def test_concurrent_creates_of_one_name_give_one_winner_on_postgresql(
    make_server: Any, fresh_postgres_url: str
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    live = make_server(database_url=fresh_postgres_url)
    clients = [lookoutvision_client(live.url, retries={"total_max_attempts": 1}) for _ in range(8)]

    def attempt(client: Any) -> str:
        try:
            client.create_project(ProjectName="race")
            return "ok"
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])

    with ThreadPoolExecutor(len(clients)) as pool:
        outcomes = list(pool.map(attempt, clients))
    assert sorted(outcomes) == ["ConflictException"] * 7 + ["ok"]
