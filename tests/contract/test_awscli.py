"""The real AWS CLI (``aws lookoutvision ...``) against a live server, with the model taken from
``AWS_DATA_PATH`` exactly as the README tells users to set it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.contract.conftest import LiveServer

from openlookout.client import model_data_path

AWS = Path(sys.executable).with_name("aws")


@pytest.fixture
def aws(server: LiveServer, tmp_path: Path) -> Any:
    """Run ``aws lookoutvision <args> --endpoint-url <server>``; returns the completed process."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in ("HTTP_PROXY", "HTTPS_PROXY")
    }
    env.update(
        AWS_DATA_PATH=str(model_data_path()),
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_PAGER="",
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(AWS), "lookoutvision", *args, "--endpoint-url", server.url, "--output", "json"]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    return run


def test_aws_cli_is_installed() -> None:
    assert AWS.is_file(), f"the AWS CLI is expected next to the interpreter at {AWS} (dev extra)"


def test_create_then_list_projects(aws: Any, lv: Any) -> None:
    created = aws("create-project", "--project-name", "from-cli")
    assert created.returncode == 0, created.stderr
    metadata = json.loads(created.stdout)["ProjectMetadata"]
    assert metadata["ProjectName"] == "from-cli"
    assert metadata["ProjectArn"] == "arn:aws:lookoutvision:us-east-1:000000000000:project/from-cli"

    listed = aws("list-projects")
    assert listed.returncode == 0, listed.stderr
    projects = json.loads(listed.stdout)["Projects"]
    assert [p["ProjectName"] for p in projects] == ["from-cli"]
    assert (
        lv.describe_project(ProjectName="from-cli")["ProjectDescription"]["ProjectArn"]
        == metadata["ProjectArn"]
    )


def test_describe_dataset(aws: Any, lv: Any) -> None:
    lv.create_project(ProjectName="cli-data")
    lv.create_dataset(ProjectName="cli-data", DatasetType="train")
    described = aws("describe-dataset", "--project-name", "cli-data", "--dataset-type", "train")
    assert described.returncode == 0, described.stderr
    description = json.loads(described.stdout)["DatasetDescription"]
    assert description["ProjectName"] == "cli-data"
    assert description["DatasetType"] == "train"
    assert description["Status"] == "CREATE_COMPLETE"
    assert description["ImageStats"] == {"Total": 0, "Labeled": 0, "Normal": 0, "Anomaly": 0}


def test_errors_reach_the_cli_with_their_code(aws: Any) -> None:
    missing = aws("describe-project", "--project-name", "nowhere")
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr
    invalid = aws("create-project", "--project-name", "has space")
    assert invalid.returncode != 0
    assert "ValidationException" in invalid.stderr
