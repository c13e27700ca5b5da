"""ClientToken handling: replay, conflict, expiry, failures not remembered, concurrent repeats."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import update

from openlookout.errors import ConflictException
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.idempotency import (
    IdempotencyGuard,
    RecordedResponse,
    params_fingerprint,
    resource_type_of,
)
from openlookout.store.idempotency import TOKEN_LIFETIME_SECONDS, TokenKey, find_token, purge_expired
from openlookout.store.tables import idempotency_tokens

CTX = RequestContext(account_id="111122223333", region="us-east-1")
ClientFor = Callable[[dict[str, Any]], Any]


class Counter:
    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self) -> RecordedResponse:
        with self.lock:
            self.calls += 1
            n = self.calls
        time.sleep(self.delay)
        return RecordedResponse(202, f'{{"n":{n}}}')


def test_same_token_same_params_replays(runtime: Runtime) -> None:
    guard, work = IdempotencyGuard(runtime.db), Counter()
    first = guard.run(
        CTX, "CreateModel", "t1", {"ProjectName": "p", "ClientToken": "t1"}, "ClientToken", work
    )
    again = guard.run(
        CTX, "CreateModel", "t1", {"ProjectName": "p", "ClientToken": "t1"}, "ClientToken", work
    )
    assert first == again == RecordedResponse(202, '{"n":1}')
    assert work.calls == 1


def test_same_token_other_params_conflicts(runtime: Runtime) -> None:
    guard, work = IdempotencyGuard(runtime.db), Counter()
    guard.run(CTX, "CreateModel", "t1", {"ProjectName": "p"}, "ClientToken", work)
    with pytest.raises(ConflictException) as caught:
        guard.run(CTX, "CreateModel", "t1", {"ProjectName": "q"}, "ClientToken", work)
    assert caught.value.fields == {"ResourceId": "q", "ResourceType": "MODEL"}
    assert work.calls == 1


def test_token_scope_is_account_region_operation(runtime: Runtime) -> None:
    guard, work = IdempotencyGuard(runtime.db), Counter()
    params = {"ProjectName": "p"}
    guard.run(CTX, "CreateModel", "t1", params, "ClientToken", work)
    guard.run(RequestContext("999988887777", "us-east-1"), "CreateModel", "t1", params, "ClientToken", work)
    guard.run(RequestContext("111122223333", "eu-west-1"), "CreateModel", "t1", params, "ClientToken", work)
    guard.run(CTX, "StartModel", "t1", params, "ClientToken", work)
    assert work.calls == 4


def test_tokens_older_than_8_hours_are_forgotten(runtime: Runtime) -> None:
    guard, work = IdempotencyGuard(runtime.db), Counter()
    guard.run(CTX, "CreateModel", "t1", {"ProjectName": "p"}, "ClientToken", work)
    with runtime.db.begin() as conn:
        conn.execute(update(idempotency_tokens).values(created_at=time.time() - TOKEN_LIFETIME_SECONDS - 60))
    second = guard.run(CTX, "CreateModel", "t1", {"ProjectName": "other"}, "ClientToken", work)
    assert second.body == '{"n":2}'


def test_failures_are_not_remembered(runtime: Runtime) -> None:
    guard = IdempotencyGuard(runtime.db)

    def fail() -> RecordedResponse:
        raise ConflictException("not now", resource_id="p", resource_type="PROJECT")

    with pytest.raises(ConflictException, match="not now"):
        guard.run(CTX, "DeleteProject", "t1", {"ProjectName": "p"}, "ClientToken", fail)
    work = Counter()
    assert guard.run(CTX, "DeleteProject", "t1", {"ProjectName": "p"}, "ClientToken", work).body == '{"n":1}'


def test_concurrent_repeats_run_the_work_once(runtime: Runtime) -> None:
    guard, work = IdempotencyGuard(runtime.db), Counter(delay=0.3)
    results: list[RecordedResponse] = []

    def request() -> None:
        results.append(guard.run(CTX, "CreateModel", "same", {"ProjectName": "p"}, "ClientToken", work))

    threads = [threading.Thread(target=request) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert work.calls == 1
    assert results == [RecordedResponse(202, '{"n":1}')] * 4


def test_concurrent_repeat_with_other_params_conflicts_at_once(runtime: Runtime) -> None:
    guard, started, release = IdempotencyGuard(runtime.db), threading.Event(), threading.Event()

    def slow_first() -> RecordedResponse:
        started.set()
        release.wait(10)
        return RecordedResponse(202, "{}")

    thread = threading.Thread(
        target=guard.run, args=(CTX, "CreateModel", "tok", {"ProjectName": "p"}, "ClientToken", slow_first)
    )
    thread.start()
    assert started.wait(10)
    begun = time.monotonic()
    with pytest.raises(ConflictException):
        guard.run(CTX, "CreateModel", "tok", {"ProjectName": "q"}, "ClientToken", Counter())
    assert time.monotonic() - begun < 1.0
    release.set()
    thread.join()


def test_fingerprint_ignores_the_token_and_is_order_independent() -> None:
    a = params_fingerprint({"A": 1, "B": b"x", "ClientToken": "t1"}, "ClientToken")
    b = params_fingerprint({"B": b"x", "A": 1, "ClientToken": "t2"}, "ClientToken")
    c = params_fingerprint({"A": 1, "B": b"y"}, "ClientToken")
    assert a == b != c


@pytest.mark.parametrize(
    ("operation", "resource_type"),
    [
        ("CreateProject", "PROJECT"),
        ("DeleteProject", "PROJECT"),
        ("CreateDataset", "DATASET"),
        ("UpdateDatasetEntries", "DATASET"),
        ("CreateModel", "MODEL"),
        ("StopModel", "MODEL"),
        ("StartModelPackagingJob", "MODEL_PACKAGE_JOB"),
    ],
)
def test_resource_type_of(operation: str, resource_type: str) -> None:
    assert resource_type_of(operation) == resource_type


def test_through_the_app_handler_called_once(client_for: ClientFor) -> None:
    calls: list[dict[str, Any]] = []

    def create_project(_rt: Runtime, _ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        calls.append(params)
        return {"ProjectMetadata": {"ProjectName": params["ProjectName"], "CreationTimestamp": time.time()}}

    client = client_for({"CreateProject": create_project})
    headers = {"X-Amzn-Client-Token": "tok-1"}
    first = client.post("/2020-11-20/projects", json={"ProjectName": "p"}, headers=headers)
    second = client.post("/2020-11-20/projects", json={"ProjectName": "p"}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert first.headers["x-amzn-requestid"] != second.headers["x-amzn-requestid"]
    conflict = client.post("/2020-11-20/projects", json={"ProjectName": "p2"}, headers=headers)
    assert conflict.status_code == 409
    assert conflict.json()["ResourceType"] == "PROJECT"
    no_token = client.post("/2020-11-20/projects", json={"ProjectName": "p"})
    assert no_token.status_code == 200
    assert len(calls) == 2
    bad_token = client.post(
        "/2020-11-20/projects", json={"ProjectName": "p"}, headers={"X-Amzn-Client-Token": "a b"}
    )
    assert bad_token.status_code == 400 and "ClientToken" in bad_token.json()["message"]


def test_purge_removes_only_expired_records(runtime: Runtime) -> None:
    guard = IdempotencyGuard(runtime.db)
    guard.run(CTX, "CreateModel", "old", {"ProjectName": "p"}, "ClientToken", Counter())
    guard.run(CTX, "CreateModel", "new", {"ProjectName": "p"}, "ClientToken", Counter())
    old_key = TokenKey(CTX.account_id, CTX.region, "CreateModel", "old")
    with runtime.db.begin() as conn:
        conn.execute(
            update(idempotency_tokens)
            .where(idempotency_tokens.c.token == "old")
            .values(created_at=time.time() - TOKEN_LIFETIME_SECONDS - 1)
        )
    assert purge_expired(runtime.db, now=time.time()) == 1
    assert find_token(runtime.db, old_key) is None
    assert find_token(runtime.db, TokenKey(CTX.account_id, CTX.region, "CreateModel", "new")) is not None
