"""Property tests: whatever arrives, the answer is a clean AWS-shaped response, never a 500."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openlookout.service.context import RequestContext, Runtime

ClientFor = Callable[[dict[str, Any]], Any]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.dictionaries(
    st.sampled_from(
        ["ProjectName", "DatasetType", "DatasetSource", "Tags", "Changes", "MinInferenceUnits", "x"]
    ),
    json_values,
    max_size=4,
)
FUZZ_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _echo(_rt: Runtime, _ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return {}


HANDLERS = {
    name: _echo for name in ("CreateProject", "CreateDataset", "TagResource", "StartModel", "ListProjects")
}
PATHS = [
    ("POST", "/2020-11-20/projects"),
    ("POST", "/2020-11-20/projects/p/datasets"),
    ("POST", "/2020-11-20/tags/arn%3Ax"),
    ("POST", "/2020-11-20/projects/p/models/1/start"),
]


@FUZZ_SETTINGS
@given(body=bodies, target=st.sampled_from(PATHS))
def test_any_json_body_answers_cleanly(
    client_for: ClientFor, body: dict[str, Any], target: tuple[str, str]
) -> None:
    response = client_for(HANDLERS).request(target[0], target[1], content=json.dumps(body).encode())
    assert response.status_code in (200, 202, 400), response.text
    if response.status_code == 400:
        assert response.headers["x-amzn-errortype"] == "ValidationException"
        assert response.json()["message"]


@FUZZ_SETTINGS
@given(path=st.text(max_size=40), query=st.text(max_size=40))
def test_any_path_and_query_answers_cleanly(client_for: ClientFor, path: str, query: str) -> None:
    from urllib.parse import quote

    url = "/2020-11-20/" + quote(path, safe="/") + "?" + quote(query, safe="=&")
    response = client_for(HANDLERS).get(url)
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-amzn-requestid"]
