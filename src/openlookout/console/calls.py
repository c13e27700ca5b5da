"""How the console reaches the service: the API's own operation table and input validation.

Every page action goes through ``call``, which checks the parameters against the API model
(the same checks the wire layer makes) and runs the operation's handler with the server's
default account and region, so the console adds no rules of its own.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from starlette.concurrency import run_in_threadpool

from openlookout.errors import ValidationException
from openlookout.service.context import RequestContext, Runtime
from openlookout.spec.loader import ServiceModel, load_service_model
from openlookout.spec.validation import validate_params


@lru_cache(maxsize=1)
def _model() -> ServiceModel:
    return load_service_model()


def console_context(runtime: Runtime) -> RequestContext:
    """The caller the console acts as: the installation's default account and region."""
    return RequestContext(runtime.settings.default_account_id, runtime.settings.default_region, "console")


def call_sync(runtime: Runtime, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Validate ``params`` like the API does, then run ``operation``; ServiceError on refusal."""
    from openlookout.service.operations import OPERATIONS

    model = _model()
    shape = model.input_of(model.operations[operation])
    if shape is not None:
        validate_params(model, shape, params)
    handler = OPERATIONS.get(operation)
    if handler is None:
        raise ValidationException(f"{operation} is not available on this server.")
    return handler(runtime, console_context(runtime), params)


async def call(runtime: Runtime, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """``call_sync`` on a worker thread."""
    return await run_in_threadpool(call_sync, runtime, operation, params)


def every_page(runtime: Runtime, operation: str, params: dict[str, Any], key: str) -> list[Any]:
    """All items of a paged list operation (``key`` names the list in the result)."""
    items: list[Any] = []
    token: str | None = None
    while True:
        result = call_sync(runtime, operation, {**params, **({"NextToken": token} if token else {})})
        items.extend(result.get(key, []))
        token = result.get("NextToken")
        if not token:
            return items
