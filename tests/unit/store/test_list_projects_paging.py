"""ListProjects paging (service level, SQLite): any page size walks every project once, in order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openlookout.errors import ValidationException
from openlookout.runtime import build_runtime, close_runtime
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.operations import OPERATIONS
from openlookout.settings import Settings
from openlookout.store import projects as project_store

CTX = RequestContext(account_id="111122223333", region="us-east-1")


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Any:
    built = build_runtime(Settings(data_dir=Path(tmp_path_factory.mktemp("paging"))))
    yield built
    close_runtime(built)


def _reset(runtime: Runtime, projects: list[tuple[str, float]]) -> None:
    with runtime.db.begin() as conn:
        for existing in project_store.list_projects(
            conn, CTX.account_id, CTX.region, after=None, limit=10_000
        ):
            project_store.delete_project(conn, existing.id)
        for name, created_at in projects:
            project_store.insert_project(
                conn, account_id=CTX.account_id, region=CTX.region, name=name, arn=name, created_at=created_at
            )


names = st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9_\-]{0,12}", fullmatch=True)
# few distinct timestamps, so ties (same creation time, ordered by name) are common
project_sets = st.dictionaries(names, st.sampled_from([1.0, 2.5, 2.5000001, 1e9]), max_size=40)


@settings(max_examples=40, deadline=None)
@given(project_sets, st.integers(min_value=1, max_value=100))
def test_every_page_size_walks_all_projects_once_in_order(
    runtime: Runtime, projects: dict[str, float], page_size: int
) -> None:
    _reset(runtime, list(projects.items()))
    expected = [name for name, _ in sorted(projects.items(), key=lambda item: (item[1], item[0]))]
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"MaxResults": page_size}
        if token is not None:
            params["NextToken"] = token
        result = OPERATIONS["ListProjects"](runtime, CTX, params)
        seen += [p["ProjectName"] for p in result["Projects"]]
        pages += 1
        token = result.get("NextToken")
        if token is None:
            break
        assert len(result["Projects"]) == page_size
    assert seen == expected
    assert pages == max(1, -(-len(expected) // page_size))


def test_a_signed_token_with_a_foreign_key_shape_is_refused(runtime: Runtime) -> None:
    scope = {"op": "ListProjects", "account": CTX.account_id, "region": CTX.region}
    token = runtime.pager.encode(scope, 42)
    with pytest.raises(ValidationException):
        OPERATIONS["ListProjects"](runtime, CTX, {"NextToken": token})
