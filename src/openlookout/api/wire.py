"""The AWS-compatible endpoint: one request through context, match, decode, validate, call, encode.

Operations come from the API model; handlers from ``openlookout.service.operations.OPERATIONS``
(looked up per request, so a handler registered later is found). A modelled operation without a
handler answers ``ValidationException`` ("not available in this version"): a 4xx so SDKs do not
retry it, and a name every SDK knows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from openlookout.api.authentication import Authenticator
from openlookout.api.content_types import require_content_type
from openlookout.api.decoding import decode_request
from openlookout.api.encoding import encode_result
from openlookout.api.errors import UnknownOperationException
from openlookout.api.http import guarded, raw_json_response, read_body
from openlookout.api.routing import Router
from openlookout.errors import ValidationException
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.idempotency import IdempotencyGuard, RecordedResponse
from openlookout.service.operations import DEFERRED_HANDLERS
from openlookout.spec.loader import Operation, ServiceModel
from openlookout.spec.patterns import compile_model_pattern
from openlookout.spec.validation import validate_params

Handler = Callable[[Runtime, RequestContext, dict[str, Any]], dict[str, Any]]

MAX_JSON_BODY_BYTES = 16 * 1024 * 1024  # 10 MiB of Changes is ~13.4 MiB as base64
MAX_STREAM_BODY_BYTES = 8 * 1024 * 1024  # the largest image the service accepts
JSON_TYPES = ("application/json",)


class WireApi:
    """The catch-all ASGI endpoint for ``/2020-11-20/...`` (and any unknown path)."""

    def __init__(
        self, runtime: Runtime, model: ServiceModel, handlers: Mapping[str, Handler], auth: Authenticator
    ) -> None:
        self.runtime = runtime
        self.auth = auth
        self.model = model
        self.handlers = handlers
        self.router = Router(model)
        self.idempotency = IdempotencyGuard(runtime.db)
        for shape in model.shapes.values():  # compile once at start-up; a bad pattern fails here
            if shape.pattern:
                compile_model_pattern(shape.pattern)

    async def endpoint(self, request: Request) -> Response:
        return await guarded(request, lambda request_id: self._handle(request, request_id))

    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The endpoint as a plain ASGI app (the router's default)."""
        response = await self.endpoint(Request(scope, receive))
        await response(scope, receive, send)

    async def _handle(self, request: Request, request_id: str) -> Response:
        signed = self.auth.check_headers(request)
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        raw_path_text = raw_path.decode("latin-1").split("?", 1)[0]
        found = self.router.match(request.method, raw_path_text)
        if found is None:  # still signed right, or the caller learns nothing about routes
            self.auth.context(
                request, signed, await read_body(request, limit=MAX_JSON_BODY_BYTES), request_id
            )
            raise UnknownOperationException(
                f"No Lookout for Vision operation answers {request.method} {raw_path_text[:200]}."
            )
        operation = found.operation
        streaming = self._has_streaming_payload(operation)
        body = await read_body(
            request,
            limit=MAX_STREAM_BODY_BYTES if streaming else MAX_JSON_BODY_BYTES,
            require_length=streaming,
        )
        ctx = self.auth.context(request, signed, body, request_id)
        if not streaming:  # DetectAnomalies' handler accepts only image/png and image/jpeg itself
            require_content_type(request, body, JSON_TYPES)
        raw_query = request.scope.get("query_string", b"").decode("latin-1")
        headers = {k.lower(): v for k, v in request.headers.items()}
        params = decode_request(self.model, operation, found.uri_params, headers, raw_query, body)
        response = await run_in_threadpool(self._call, ctx, operation, params)
        if not isinstance(response, RecordedResponse):  # submitted work: await it, holding no thread
            result = await response.wait()
            body = encode_result(self.model, self.model.output_of(operation), result)
            response = RecordedResponse(operation.response_code, body.decode())
        return raw_json_response(response.body, request_id, response.status_code)

    def _call(
        self, ctx: RequestContext, operation: Operation, params: dict[str, Any]
    ) -> RecordedResponse | Any:
        """The recorded response, or (for a handler in ``DEFERRED_HANDLERS``) the submitted work
        whose ``wait()`` gives the output members."""
        input_shape = self.model.input_of(operation)
        if input_shape is not None:
            validate_params(self.model, input_shape, params)
        handler = self.handlers.get(operation.name)
        if handler is None:
            raise ValidationException(f"{operation.name} is not available in this version of OpenLookout.")
        deferred = DEFERRED_HANDLERS.get(handler)
        if deferred is not None:
            return deferred(self.runtime, ctx, params)

        def call() -> RecordedResponse:
            result = handler(self.runtime, ctx, params)
            body = encode_result(self.model, self.model.output_of(operation), result)
            return RecordedResponse(operation.response_code, body.decode())

        token_member = self.model.idempotency_member(operation)
        token = params.get(token_member.name) if token_member else None
        if token_member is None or not token:
            return call()
        return self.idempotency.run(ctx, operation.name, token, params, token_member.name, call)

    def _has_streaming_payload(self, operation: Operation) -> bool:
        shape = self.model.input_of(operation)
        if shape is None or not shape.payload:
            return False
        return self.model.shape(shape.members[shape.payload].shape_name).streaming
