"""The boto3 client helper finds the shipped model without AWS_DATA_PATH."""

from __future__ import annotations

import boto3
import pytest

from openlookout.client import lookoutvision_client, model_data_path


def test_client_from_package_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    client = lookoutvision_client(
        "http://127.0.0.1:9", region_name="eu-west-1", retries={"total_max_attempts": 1}
    )
    assert client.meta.service_model.service_name == "lookoutvision"
    assert client.meta.endpoint_url == "http://127.0.0.1:9"
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.retries["total_max_attempts"] == 1
    assert "detect_anomalies" in dir(client)


def test_given_session_is_used_and_search_path_added_once() -> None:
    session = boto3.Session()
    lookoutvision_client("http://127.0.0.1:9", session=session)
    lookoutvision_client("http://127.0.0.1:9", session=session)
    paths = session._session.get_component("data_loader").search_paths
    assert paths.count(str(model_data_path())) == 1
