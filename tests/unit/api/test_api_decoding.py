"""Decoding: each member read from its location and coerced to its shape's type."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from openlookout.api.decoding import decode_request
from openlookout.errors import ValidationException
from openlookout.spec.loader import ServiceModel

ENTRIES_URI = {"projectName": "p", "datasetType": "train"}


def _decode(model: ServiceModel, op: str, *, uri=None, headers=None, query="", body=b""):  # type: ignore[no-untyped-def]
    return decode_request(model, model.operations[op], uri or {}, headers or {}, query, body)


def test_query_members_by_location_name_with_types(model: ServiceModel) -> None:
    params = _decode(
        model,
        "ListDatasetEntries",
        uri=ENTRIES_URI,
        query="labeled=false&anomalyClass=normal&maxResults=7&nextToken=abc%2B%3D&sourceRefContains=IMG%2017"
        "&createdAfter=2024-03-05T10%3A15%3A00&createdBefore=1700000000.5",
    )
    assert params == {
        "ProjectName": "p",
        "DatasetType": "train",
        "Labeled": False,
        "AnomalyClass": "normal",
        "MaxResults": 7,
        "NextToken": "abc+=",
        "SourceRefContains": "IMG 17",
        "AfterCreationDate": datetime(2024, 3, 5, 10, 15, tzinfo=UTC),
        "BeforeCreationDate": datetime.fromtimestamp(1700000000.5, tz=UTC),
    }


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("labeled=yes", "Labeled"),
        ("maxResults=ten", "MaxResults"),
        ("createdAfter=yesterday", "AfterCreationDate"),
        ("maxResults=1&maxResults=2", "MaxResults"),
        ("createdBefore=nan", "BeforeCreationDate"),
    ],
)
def test_bad_query_values_name_the_member(model: ServiceModel, query: str, fragment: str) -> None:
    with pytest.raises(ValidationException, match=fragment):
        _decode(model, "ListDatasetEntries", uri=ENTRIES_URI, query=query)


def test_timestamp_with_offset_is_converted_to_utc(model: ServiceModel) -> None:
    params = _decode(
        model, "ListDatasetEntries", uri=ENTRIES_URI, query="createdAfter=2024-03-05T12%3A00%3A00%2B02%3A00"
    )
    assert params["AfterCreationDate"] == datetime(2024, 3, 5, 10, 0, tzinfo=UTC)


def test_repeated_query_keys_make_a_list(model: ServiceModel) -> None:
    params = _decode(model, "UntagResource", uri={"resourceArn": "arn"}, query="tagKeys=a&tagKeys=b%20c")
    assert params["TagKeys"] == ["a", "b c"]


def test_header_members(model: ServiceModel) -> None:
    params = _decode(
        model,
        "CreateProject",
        headers={"x-amzn-client-token": "tok-1"},
        body=b'{"ProjectName": "p1", "Unknown": 1}',
    )
    assert params == {"ProjectName": "p1", "ClientToken": "tok-1"}


def test_blob_member_is_base64_decoded(model: ServiceModel) -> None:
    raw = b'{"source-ref": "s3://b/k.png"}\n'
    body = b'{"Changes": "' + base64.b64encode(raw) + b'"}'
    params = _decode(model, "UpdateDatasetEntries", uri=ENTRIES_URI, body=body)
    assert params["Changes"] == raw


def test_bad_base64_is_a_validation_error(model: ServiceModel) -> None:
    with pytest.raises(ValidationException, match=r"Changes.*base64"):
        _decode(model, "UpdateDatasetEntries", uri=ENTRIES_URI, body=b'{"Changes": "not base64!"}')


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe", b'"text"'])
def test_malformed_json_body(model: ServiceModel, body: bytes) -> None:
    with pytest.raises(ValidationException, match="JSON"):
        _decode(model, "CreateProject", body=body)


def test_nested_structures_and_type_errors_name_the_path(model: ServiceModel) -> None:
    body = b'{"DatasetType": "train", "DatasetSource": {"GroundTruthManifest": {"S3Object": {"Bucket": 5}}}}'
    with pytest.raises(ValidationException, match=r"DatasetSource\.GroundTruthManifest\.S3Object\.Bucket"):
        _decode(model, "CreateDataset", uri={"projectName": "p"}, body=body)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"MinInferenceUnits": "2"}', "MinInferenceUnits: an integer"),
        (b'{"MinInferenceUnits": true}', "MinInferenceUnits: an integer"),
        (b'{"MinInferenceUnits": 1.5}', "MinInferenceUnits: an integer"),
    ],
)
def test_json_integer_type(model: ServiceModel, body: bytes, fragment: str) -> None:
    with pytest.raises(ValidationException, match=fragment):
        _decode(model, "StartModel", uri={"projectName": "p", "modelVersion": "1"}, body=body)


def test_lists_of_structures(model: ServiceModel) -> None:
    params = _decode(
        model, "TagResource", uri={"resourceArn": "arn"}, body=b'{"Tags": [{"Key": "k", "Value": "v"}]}'
    )
    assert params["Tags"] == [{"Key": "k", "Value": "v"}]
    with pytest.raises(ValidationException, match=r"Tags\[0\]"):
        _decode(model, "TagResource", uri={"resourceArn": "arn"}, body=b'{"Tags": ["k=v"]}')


def test_raw_streaming_payload_and_content_type(model: ServiceModel) -> None:
    image = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    params = _decode(
        model,
        "DetectAnomalies",
        uri={"projectName": "p", "modelVersion": "latest"},
        headers={"content-type": "image/png"},
        body=image,
    )
    assert params == {"ProjectName": "p", "ModelVersion": "latest", "ContentType": "image/png", "Body": image}


def test_body_is_ignored_for_operations_without_body_members(model: ServiceModel) -> None:
    params = _decode(model, "StopModel", uri={"projectName": "p", "modelVersion": "1"}, body=b"{}")
    assert params == {"ProjectName": "p", "ModelVersion": "1"}


@pytest.mark.parametrize(
    "body",
    [
        b'{"ProjectName": "nul\\u0000byte"}',
        b'{"ProjectName": "lone \\ud800 surrogate"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"ProjectName": ' + b"9" * 5000 + b"}",
    ],
)
def test_unstorable_or_absurd_json_is_a_validation_error(model: ServiceModel, body: bytes) -> None:
    with pytest.raises(ValidationException):
        _decode(model, "CreateProject", body=body)


def test_integers_must_fit_32_bits(model: ServiceModel) -> None:
    uri = {"projectName": "p", "modelVersion": "1"}
    with pytest.raises(ValidationException, match="32-bit"):
        _decode(model, "StartModel", uri=uri, body=b'{"MinInferenceUnits": 4294967296}')
    with pytest.raises(ValidationException, match="32-bit"):
        _decode(model, "ListProjects", query="maxResults=99999999999")
    assert _decode(model, "StartModel", uri=uri, body=b'{"MinInferenceUnits": 2147483647}')[
        "MinInferenceUnits"
    ] == (2147483647)


def test_nul_in_a_uri_value_is_refused(model: ServiceModel) -> None:
    with pytest.raises(ValidationException, match="NUL"):
        _decode(model, "DescribeProject", uri={"projectName": "a\x00b"})
