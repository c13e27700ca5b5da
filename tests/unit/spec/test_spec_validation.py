"""Validation: one test per rule kind, each with its own bad input, naming member path and rule."""

from __future__ import annotations

from typing import Any

import pytest

from openlookout.errors import ValidationException
from openlookout.spec.loader import ServiceModel
from openlookout.spec.validation import validate_params


def _check(model: ServiceModel, shape: str, params: dict[str, Any]) -> None:
    validate_params(model, model.shape(shape), params)


def _problem(model: ServiceModel, shape: str, params: dict[str, Any]) -> str:
    with pytest.raises(ValidationException) as caught:
        _check(model, shape, params)
    return caught.value.message


def test_valid_input_passes(model: ServiceModel) -> None:
    _check(model, "CreateProjectRequest", {"ProjectName": "good_name-1", "ClientToken": "abc-123"})
    _check(model, "ListProjectsRequest", {"MaxResults": 100, "NextToken": "QUJD+/="})


def test_required(model: ServiceModel) -> None:
    assert "ProjectName is required" in _problem(model, "CreateProjectRequest", {})


def test_string_too_long_and_too_short(model: ServiceModel) -> None:
    assert "ProjectName has 256 characters; at most 255" in _problem(
        model, "CreateProjectRequest", {"ProjectName": "a" * 256}
    )
    assert "ProjectName has 0 characters; at least 1" in _problem(
        model, "CreateProjectRequest", {"ProjectName": ""}
    )


def test_pattern(model: ServiceModel) -> None:
    message = _problem(model, "CreateProjectRequest", {"ProjectName": "bad name!"})
    assert "ProjectName 'bad name!' must fully match the pattern" in message


def test_model_version_pattern_and_no_latest_for_delete(model: ServiceModel) -> None:
    assert "ModelVersion 'v1'" in _problem(
        model, "DescribeModelRequest", {"ProjectName": "p", "ModelVersion": "v1"}
    )
    assert "ModelVersion 'latest'" in _problem(
        model, "DeleteModelRequest", {"ProjectName": "p", "ModelVersion": "latest"}
    )


def test_integer_range(model: ServiceModel) -> None:
    assert "MaxResults is 101; the maximum is 100" in _problem(
        model, "ListProjectsRequest", {"MaxResults": 101}
    )
    assert "MaxResults is 0; the minimum is 1" in _problem(model, "ListProjectsRequest", {"MaxResults": 0})
    assert "MinInferenceUnits is 0; the minimum is 1" in _problem(
        model, "StartModelRequest", {"ProjectName": "p", "ModelVersion": "1", "MinInferenceUnits": 0}
    )


def test_enum_nested_path(model: ServiceModel) -> None:
    params = {
        "ProjectName": "p",
        "ModelVersion": "1",
        "Configuration": {
            "Greengrass": {
                "TargetDevice": "raspberry",
                "S3OutputLocation": {"Bucket": "bucket"},
                "ComponentName": "comp",
            }
        },
    }
    message = _problem(model, "StartModelPackagingJobRequest", params)
    assert "Configuration.Greengrass.TargetDevice 'raspberry' must be one of: jetson_xavier" in message


def test_nested_required(model: ServiceModel) -> None:
    params = {
        "ProjectName": "p",
        "DatasetType": "train",
        "DatasetSource": {"GroundTruthManifest": {"S3Object": {}}},
    }
    message = _problem(model, "CreateDatasetRequest", params)
    assert "DatasetSource.GroundTruthManifest.S3Object.Bucket is required" in message
    assert "DatasetSource.GroundTruthManifest.S3Object.Key is required" in message
    assert message.startswith("2 validation problems")


def test_list_size_and_elements(model: ServiceModel) -> None:
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(201)]
    assert "Tags has 201 items; at most 200" in _problem(
        model, "TagResourceRequest", {"ResourceArn": "arn", "Tags": too_many}
    )
    message = _problem(
        model, "TagResourceRequest", {"ResourceArn": "arn", "Tags": [{"Key": "k" * 129, "Value": "v"}]}
    )
    assert "Tags[0].Key has 129 characters; at most 128" in message


def test_untag_keys_pattern(model: ServiceModel) -> None:
    assert "TagKeys[1] 'bad!'" in _problem(
        model, "UntagResourceRequest", {"ResourceArn": "arn", "TagKeys": ["ok", "bad!"]}
    )


def test_blob_size(model: ServiceModel) -> None:
    assert "Changes has 0 bytes; at least 1" in _problem(
        model, "UpdateDatasetEntriesRequest", {"ProjectName": "p", "DatasetType": "train", "Changes": b""}
    )


def test_dataset_type_and_next_token(model: ServiceModel) -> None:
    message = _problem(
        model, "ListDatasetEntriesRequest", {"ProjectName": "p", "DatasetType": "dev", "NextToken": "a_b"}
    )
    assert "DatasetType 'dev'" in message and "NextToken 'a_b'" in message


def test_long_values_are_shortened_in_messages(model: ServiceModel) -> None:
    message = _problem(model, "DescribeProjectRequest", {"ProjectName": "!" * 200})
    assert "!" * 65 not in message
