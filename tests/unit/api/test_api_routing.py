"""Routing on the raw path: every operation is reachable, ARNs stay one segment, unknowns miss."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from openlookout.api.routing import Router
from openlookout.spec.loader import ServiceModel

SAMPLE_VALUES = {
    "projectName": "my-project",
    "datasetType": "train",
    "modelVersion": "3",
    "jobName": "job-1",
    "resourceArn": quote("arn:aws:lookoutvision:us-east-1:111122223333:model/my-project/3", safe=""),
}


def _filled(template: str) -> str:
    return re.sub(r"\{(\w+)\+?\}", lambda m: SAMPLE_VALUES[m.group(1)], template)


def test_every_operation_matches_its_own_template(model: ServiceModel) -> None:
    router = Router(model)
    for name, operation in model.operations.items():
        found = router.match(operation.method, _filled(operation.request_uri))
        assert found is not None, name
        assert found.operation.name == name


def test_percent_encoded_arn_is_one_segment_and_decoded(model: ServiceModel) -> None:
    arn = "arn:aws:lookoutvision:eu-west-1:111122223333:model/p/12"
    found = Router(model).match("GET", "/2020-11-20/tags/" + quote(arn, safe=""))
    assert found is not None
    assert found.operation.name == "ListTagsForResource"
    assert found.uri_params == {"resourceArn": arn}


def test_unencoded_slashes_in_an_arn_do_not_match(model: ServiceModel) -> None:
    assert Router(model).match("GET", "/2020-11-20/tags/arn:aws:x:model/p/1") is None


def test_same_path_different_methods(model: ServiceModel) -> None:
    router = Router(model)
    path = "/2020-11-20/tags/" + SAMPLE_VALUES["resourceArn"]
    names = {m: router.match(m, path) for m in ("GET", "POST", "DELETE", "PUT")}
    assert names["GET"] is not None and names["GET"].operation.name == "ListTagsForResource"
    assert names["POST"] is not None and names["POST"].operation.name == "TagResource"
    assert names["DELETE"] is not None and names["DELETE"].operation.name == "UntagResource"
    assert names["PUT"] is None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/2020-11-20"),
        ("GET", "/2020-11-20/projectz"),
        ("GET", "/2019-01-01/projects"),
        ("GET", "/2020-11-20/projects/p/datasets/train/entries/extra"),
        ("POST", "/2020-11-20/projects/p"),
        ("GET", "/2020-11-20/projects/%ff%fe"),
    ],
)
def test_unknown_routes(model: ServiceModel, method: str, path: str) -> None:
    assert Router(model).match(method, path) is None


def test_uri_values_are_percent_decoded(model: ServiceModel) -> None:
    found = Router(model).match("GET", "/2020-11-20/projects/a%20b")
    assert found is not None and found.uri_params == {"projectName": "a b"}
