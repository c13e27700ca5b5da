"""How the console reaches the service: the API's own operations, with the API's input checks.

Every page action goes through ``call`` (``service.operations.run_operation``: the checks the wire
layer makes against the API model, then the operation's handler) or a service function, always as
the console's user of the request being served (``console_context``: the signed-in key's account,
or the default account when the server has no credentials file) and the default region, so the
console adds no rules of its own and reaches nothing of another account.
"""

from __future__ import annotations

from typing import Any

from openlookout.console.signin import current_user
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.operations import run_operation


def console_context() -> RequestContext:
    """The caller the console acts as for the request being served (set by ``routing.Binder``)."""
    return current_user().ctx


def call(runtime: Runtime, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run ``operation`` as the console's caller; ServiceError on refusal."""
    return run_operation(runtime, console_context(), operation, params)


def every_page(runtime: Runtime, operation: str, params: dict[str, Any], key: str) -> list[Any]:
    """All items of a paged list operation (``key`` names the list in the result)."""
    items: list[Any] = []
    token: str | None = None
    while True:
        result = call(runtime, operation, {**params, **({"NextToken": token} if token else {})})
        items.extend(result.get(key, []))
        token = result.get("NextToken")
        if not token:
            return items
