"""Storage failures over the wire (issue 14, item 5): AWS-shaped errors that say what went wrong.

Today's main answered CreateProject on a full disk with a bare HTTP 500. Here a database that
cannot be written gives an InternalServerException naming the full disk, and an import into a
blob store that fails with ENOSPC ends CREATE_FAILED instead of staying in progress.
"""

from __future__ import annotations

import errno
import sqlite3
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy.exc import OperationalError
from tests.contract.conftest import LiveServer
from tests.contract.test_models_support import upload_images

from openlookout.blobs import files as file_blobs
from openlookout.store import projects as project_store


def test_a_full_database_answers_an_aws_shaped_storage_error(
    server: LiveServer, lv: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError(
            "INSERT INTO projects", {}, sqlite3.OperationalError("database or disk is full")
        )

    monkeypatch.setattr(project_store, "insert_project", full)
    with pytest.raises(ClientError) as refused:
        lv.create_project(ProjectName="full-disk")
    response = refused.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert response["Error"]["Code"] == "InternalServerException"
    assert "disk is full" in response["Error"]["Message"]
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"].startswith(
        "InternalServerException"
    )


def test_an_import_into_a_full_blob_store_ends_failed(
    server: LiveServer, lv: Any, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.create_bucket(Bucket="full-disk-images")
    lines = upload_images(s3, "full-disk-images", "full", 4, 0)
    lv.create_project(ProjectName="full")

    def no_space(*_args: Any, **_kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(file_blobs, "_write_atomically", no_space)
    s3.put_object(Bucket="full-disk-images", Key="full.manifest", Body="\n".join(lines).encode())
    source = {"GroundTruthManifest": {"S3Object": {"Bucket": "full-disk-images", "Key": "full.manifest"}}}
    lv.create_dataset(ProjectName="full", DatasetType="train", DatasetSource=source)
    deadline = time.monotonic() + 30
    while True:
        described = lv.describe_dataset(ProjectName="full", DatasetType="train")["DatasetDescription"]
        if not described["Status"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert described["Status"] == "CREATE_FAILED"
    assert "disk is full" in described["StatusMessage"]
    lv.delete_dataset(ProjectName="full", DatasetType="train")


def test_a_console_form_on_a_full_database_says_so(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    def full(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError(
            "INSERT INTO projects", {}, sqlite3.OperationalError("database or disk is full")
        )

    monkeypatch.setattr(project_store, "insert_project", full)
    answer = httpx.post(
        server.url + "/projects",
        content=b"name=full-console",
        headers={"Accept": "text/html", "Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert answer.status_code == 500
    assert "disk is full" in answer.text
