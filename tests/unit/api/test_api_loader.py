"""The model loader exposes operations, bindings and constraints as the model states them."""

from __future__ import annotations

from openlookout.spec.loader import ServiceModel, model_data_dir

TOKEN_OPERATIONS = {
    "CreateDataset",
    "CreateModel",
    "CreateProject",
    "DeleteDataset",
    "DeleteModel",
    "DeleteProject",
    "StartModel",
    "StartModelPackagingJob",
    "StopModel",
    "UpdateDatasetEntries",
}


def test_all_22_operations_with_their_http_binding(model: ServiceModel) -> None:
    assert len(model.operations) == 22
    create_dataset = model.operations["CreateDataset"]
    assert (create_dataset.method, create_dataset.request_uri, create_dataset.response_code) == (
        "POST",
        "/2020-11-20/projects/{projectName}/datasets",
        202,
    )
    assert model.operations["CreateProject"].response_code == 200
    assert model.operations["UpdateDatasetEntries"].method == "PATCH"


def test_constraints_and_locations(model: ServiceModel) -> None:
    project_name = model.shape("ProjectName")
    assert (project_name.type, project_name.min, project_name.max) == ("string", 1, 255)
    assert project_name.pattern == "[a-zA-Z0-9][a-zA-Z0-9_\\-]*"
    listing = model.shape("ListDatasetEntriesRequest")
    labeled = listing.members["Labeled"]
    assert (labeled.location, labeled.location_name) == ("querystring", "labeled")
    assert model.shape("PageSize").max == 100
    detect = model.shape("DetectAnomaliesRequest")
    assert detect.payload == "Body"
    assert model.shape("Stream").streaming and model.shape("Stream").requires_length
    assert model.shape("TagKeyList").member_shape == "TagKey"
    assert "jetson_xavier" in model.shape("TargetDevice").enum


def test_exception_metadata(model: ServiceModel) -> None:
    quota = model.shape("ServiceQuotaExceededException")
    assert quota.exception and quota.http_status == 402
    internal = model.shape("InternalServerException")
    assert internal.fault and internal.members["RetryAfterSeconds"].location_name == "Retry-After"


def test_idempotency_members_are_exactly_the_documented_ones(model: ServiceModel) -> None:
    with_token = {name for name, op in model.operations.items() if model.idempotency_member(op) is not None}
    assert with_token == TOKEN_OPERATIONS
    member = model.idempotency_member(model.operations["CreateProject"])
    assert member is not None and member.location_name == "X-Amzn-Client-Token"


def test_paginators_and_data_dir(model: ServiceModel) -> None:
    assert set(model.paginators) == {
        "ListDatasetEntries",
        "ListModels",
        "ListProjects",
        "ListModelPackagingJobs",
    }
    assert (model_data_dir() / "lookoutvision" / "2020-11-20" / "service-2.json").is_file()
