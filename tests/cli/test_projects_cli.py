"""``openlookout projects ...`` against a live server: happy paths, JSON output, one-line errors."""

from __future__ import annotations

from typing import Any

from tests.cli.conftest import RunCli, assert_one_line_error, invoke


def test_create_prints_the_new_project_as_json(cli: RunCli, lv: Any) -> None:
    result = cli("--output", "json", "projects", "create", "cookies")
    assert result.exit_code == 0, result.stderr
    metadata = result.json()["ProjectMetadata"]
    assert metadata["ProjectName"] == "cookies"
    assert metadata["ProjectArn"].endswith(":project/cookies")
    described = lv.describe_project(ProjectName="cookies")["ProjectDescription"]
    assert described["ProjectArn"] == metadata["ProjectArn"]


def test_create_shows_a_table(cli: RunCli) -> None:
    result = cli("projects", "create", "tabled")
    assert result.exit_code == 0, result.stderr
    assert "tabled" in result.stdout
    assert "ProjectArn" in result.stdout


def test_list_follows_every_page(cli: RunCli, lv: Any) -> None:
    names = {f"part-{index:03d}" for index in range(105)}
    for name in names:
        lv.create_project(ProjectName=name)
    result = cli("-o", "json", "projects", "list")
    assert result.exit_code == 0, result.stderr
    listed = result.json()["Projects"]
    assert {p["ProjectName"] for p in listed} == names
    assert len(listed) == 105
    table = cli("projects", "list")
    assert table.exit_code == 0
    assert "105 project(s)" in table.stdout


def test_describe_lists_the_datasets(cli: RunCli, lv: Any) -> None:
    lv.create_project(ProjectName="widgets")
    lv.create_dataset(ProjectName="widgets", DatasetType="train")
    result = cli("-o", "json", "projects", "describe", "widgets")
    assert result.exit_code == 0, result.stderr
    description = result.json()["ProjectDescription"]
    assert description["ProjectName"] == "widgets"
    assert [d["DatasetType"] for d in description["Datasets"]] == ["train"]
    assert isinstance(description["CreationTimestamp"], str)
    table = cli("projects", "describe", "widgets")
    assert "CREATE_COMPLETE" in table.stdout


def test_delete_removes_the_project(cli: RunCli, lv: Any) -> None:
    lv.create_project(ProjectName="doomed")
    result = cli("-o", "json", "projects", "delete", "doomed")
    assert result.exit_code == 0, result.stderr
    assert result.json()["ProjectArn"].endswith(":project/doomed")
    assert lv.list_projects()["Projects"] == []


def test_missing_project_is_one_line_error(cli: RunCli) -> None:
    result = cli("projects", "describe", "nowhere")
    line = assert_one_line_error(result, "ResourceNotFoundException: ")
    assert "nowhere" in line
    assert result.stdout == ""


def test_duplicate_project_is_a_conflict(cli: RunCli, lv: Any) -> None:
    lv.create_project(ProjectName="twice")
    assert_one_line_error(cli("projects", "create", "twice"), "ConflictException: ")


def test_invalid_name_is_rejected_by_the_server(cli: RunCli) -> None:
    assert_one_line_error(cli("projects", "create", "no spaces allowed"), "ValidationException: ")


def test_readiness_reports_what_is_missing(cli: RunCli, lv: Any) -> None:
    lv.create_project(ProjectName="fresh")
    result = cli("-o", "json", "projects", "readiness", "fresh")
    assert result.exit_code == 0, result.stderr
    readiness = result.json()
    assert readiness["Ready"] is False
    assert readiness["Missing"], readiness


def test_readiness_of_missing_project_is_one_line_error(cli: RunCli) -> None:
    assert_one_line_error(cli("projects", "readiness", "ghost"), "ResourceNotFoundException: ")


def test_server_down_is_one_line_error(dead_endpoint: str) -> None:
    result = invoke("--endpoint-url", dead_endpoint, "projects", "list")
    line = assert_one_line_error(result, "cannot reach OpenLookout at " + dead_endpoint)
    assert "openlookout serve" in line
    readiness = invoke("--endpoint-url", dead_endpoint, "projects", "readiness", "x")
    assert_one_line_error(readiness, "cannot reach OpenLookout at " + dead_endpoint)


def test_usage_errors_exit_with_two() -> None:
    assert_one_line_error(invoke("--output", "xml", "projects", "list"), "Invalid value", exit_code=2)
    assert_one_line_error(invoke("projects", "describe"), "Missing argument", exit_code=2)
    assert_one_line_error(invoke("projects", "frobnicate"), "No such command", exit_code=2)


def test_aws_data_path_points_at_the_model() -> None:
    result = invoke("aws-data-path")
    assert result.exit_code == 0
    from pathlib import Path

    folder = Path(result.stdout.strip())
    assert (folder / "lookoutvision" / "2020-11-20" / "service-2.json").is_file()


def test_region_scopes_both_the_aws_and_the_extension_calls(cli: RunCli, lv: Any) -> None:
    created = cli("--region", "eu-west-1", "-o", "json", "projects", "create", "regional")
    assert created.exit_code == 0, created.stderr
    assert created.json()["ProjectMetadata"]["ProjectArn"].startswith("arn:aws:lookoutvision:eu-west-1:")
    assert lv.list_projects()["Projects"] == []
    readiness = cli("--region", "eu-west-1", "-o", "json", "projects", "readiness", "regional")
    assert readiness.exit_code == 0, readiness.stderr
    assert_one_line_error(cli("projects", "readiness", "regional"), "ResourceNotFoundException: ")


def test_no_command_shows_help_without_an_error_line() -> None:
    result = invoke()
    assert result.exit_code == 2
    assert "projects" in result.stdout and "datasets" in result.stdout
    assert "error:" not in result.stderr
