"""Tags on model ARNs through a live server with the real boto3 client (and raw percent-encoded URLs).

Models are recorded straight in the store (no training): tagging only needs them to exist.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest
from botocore.exceptions import ClientError
from tests.contract.test_models_support import insert_model_row

from openlookout.client import lookoutvision_client

ACCOUNT = "000000000000"


def model_arn(project: str, version: str = "1", account: str = ACCOUNT, region: str = "us-east-1") -> str:
    return f"arn:aws:lookoutvision:{region}:{account}:model/{project}/{version}"


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    return excinfo.value.response


def test_tag_round_trip_with_overwrite_and_untag(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="tagged")
    arn = insert_model_row(server.runtime, "tagged", 1)
    other_version = insert_model_row(server.runtime, "tagged", 2)
    assert arn == model_arn("tagged")
    assert lv.list_tags_for_resource(ResourceArn=arn)["Tags"] == []
    lv.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "qa"}, {"Key": "env", "Value": "dev"}])
    lv.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "prod"}, {"Key": "empty", "Value": ""}])
    tags = {t["Key"]: t["Value"] for t in lv.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    assert tags == {"team": "qa", "env": "prod", "empty": ""}
    lv.untag_resource(ResourceArn=arn, TagKeys=["team", "not-there"])
    tags = {t["Key"]: t["Value"] for t in lv.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    assert tags == {"env": "prod", "empty": ""}
    assert lv.list_tags_for_resource(ResourceArn=other_version)["Tags"] == []


def test_a_missing_model_of_an_existing_project_is_not_found(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="modelless")
    insert_model_row(server.runtime, "modelless", 1)
    with pytest.raises(ClientError) as excinfo:
        lv.tag_resource(ResourceArn=model_arn("modelless", "2"), Tags=[{"Key": "k", "Value": "v"}])
    response = _error(excinfo)
    assert response["Error"]["Code"] == "ResourceNotFoundException"
    assert response["ResourceType"] == "MODEL"


def test_unicode_and_punctuation_keys_survive(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="intl")
    arn = insert_model_row(server.runtime, "intl")
    wanted = {"Kostenstelle äöü": "Büro 1", "a:b/c=d+e-f@g_h.i": "x y", "数字": "七"}
    lv.tag_resource(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in wanted.items()])
    assert {t["Key"]: t["Value"] for t in lv.list_tags_for_resource(ResourceArn=arn)["Tags"]} == wanted


def test_percent_encoded_arn_in_the_path(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="raw_path-1")
    arn = insert_model_row(server.runtime, "raw_path-1", 3)
    lv.tag_resource(ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}])
    encoded = quote(arn, safe="")
    assert "%3A" in encoded and "%2F" in encoded
    response = httpx.get(f"{server.url}/2020-11-20/tags/{encoded}")
    assert response.status_code == 200
    assert response.json() == {"Tags": [{"Key": "k", "Value": "v"}]}
    response = httpx.delete(f"{server.url}/2020-11-20/tags/{encoded}", params={"tagKeys": "k"})
    assert response.status_code == 200
    assert lv.list_tags_for_resource(ResourceArn=arn)["Tags"] == []


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:lookoutvision:us-east-1:{ACCOUNT}:project/tagged",
        f"arn:aws:lookoutvision:us-east-1:{ACCOUNT}:model/tagged/latest",
        f"arn:aws:s3:::bucket/{ACCOUNT}",
        "not-an-arn",
    ],
)
def test_anything_but_a_model_arn_is_a_validation_error(lv: Any, arn: str) -> None:
    lv.create_project(ProjectName="tagged")
    for call in (
        lambda: lv.tag_resource(ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}]),
        lambda: lv.list_tags_for_resource(ResourceArn=arn),
        lambda: lv.untag_resource(ResourceArn=arn, TagKeys=["k"]),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert _error(excinfo)["Error"]["Code"] == "ValidationException"


def test_a_model_of_a_missing_project_is_not_found(lv: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        lv.tag_resource(ResourceArn=model_arn("ghost"), Tags=[{"Key": "k", "Value": "v"}])
    response = _error(excinfo)
    assert response["Error"]["Code"] == "ResourceNotFoundException"
    assert response["ResourceType"] == "PROJECT"
    assert response["ResourceId"] == "ghost"


def test_another_callers_model_is_not_found(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="mine")
    foreign = lookoutvision_client(
        server.url, aws_access_key_id="111122223333", retries={"total_max_attempts": 1}
    )
    with pytest.raises(ClientError) as excinfo:
        foreign.list_tags_for_resource(ResourceArn=model_arn("mine"))
    assert _error(excinfo)["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        lv.list_tags_for_resource(ResourceArn=model_arn("mine", region="eu-west-1"))
    assert _error(excinfo)["Error"]["Code"] == "ResourceNotFoundException"


def test_more_than_200_tags_exceed_the_quota(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="crowded")
    arn = insert_model_row(server.runtime, "crowded")
    lv.tag_resource(ResourceArn=arn, Tags=[{"Key": f"k{i:03d}", "Value": "v"} for i in range(150)])
    # overwriting existing keys does not count against the quota
    lv.tag_resource(ResourceArn=arn, Tags=[{"Key": f"k{i:03d}", "Value": "w"} for i in range(100, 200)])
    assert len(lv.list_tags_for_resource(ResourceArn=arn)["Tags"]) == 200
    with pytest.raises(ClientError) as excinfo:
        lv.tag_resource(ResourceArn=arn, Tags=[{"Key": "one-more", "Value": "v"}])
    response = _error(excinfo)
    assert response["Error"]["Code"] == "ServiceQuotaExceededException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 402
    assert response["ResourceId"] == arn
    assert len(lv.list_tags_for_resource(ResourceArn=arn)["Tags"]) == 200


def test_tags_do_not_outlive_their_model_and_project(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="short-lived")
    lv.create_project(ProjectName="neighbour")
    arn = insert_model_row(server.runtime, "short-lived")
    neighbour = insert_model_row(server.runtime, "neighbour")
    lv.tag_resource(ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}])
    lv.tag_resource(ResourceArn=neighbour, Tags=[{"Key": "k", "Value": "v"}])
    with pytest.raises(ClientError) as excinfo:
        lv.delete_project(ProjectName="short-lived")  # a model remains
    assert _error(excinfo)["Error"]["Code"] == "ConflictException"
    assert "model" in _error(excinfo)["Error"]["Message"]
    lv.delete_model(ProjectName="short-lived", ModelVersion="1")
    lv.delete_project(ProjectName="short-lived")
    lv.create_project(ProjectName="short-lived")
    assert insert_model_row(server.runtime, "short-lived") == arn
    assert lv.list_tags_for_resource(ResourceArn=arn)["Tags"] == []
    assert lv.list_tags_for_resource(ResourceArn=neighbour)["Tags"] == [{"Key": "k", "Value": "v"}]


def test_reserved_aws_prefix_is_refused(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="reserved")
    arn = insert_model_row(server.runtime, "reserved")
    with pytest.raises(ClientError) as excinfo:
        lv.tag_resource(
            ResourceArn=arn, Tags=[{"Key": "AWS:owner", "Value": "x"}, {"Key": "ok", "Value": "y"}]
        )
    response = _error(excinfo)
    assert response["Error"]["Code"] == "ValidationException"
    assert "AWS:owner" in response["Error"]["Message"]
    assert lv.list_tags_for_resource(ResourceArn=arn)["Tags"] == []
