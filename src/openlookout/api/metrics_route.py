"""``GET /metrics``: the server's Prometheus metrics (``service.metrics``) in the text format.

Without a credentials file the server answers only where anyone may call it anyway (loopback, or
``--insecure-no-auth``), so ``/metrics`` is open too. With one, a scraper must send
``Authorization: Bearer <metrics_token>``; without a ``metrics_token`` setting ``/metrics`` is
refused (a scraper holds no SigV4 key).
"""

from __future__ import annotations

import hmac

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from openlookout.service.context import Runtime
from openlookout.settings import Settings

PATH = "/metrics"


def metrics_routes(runtime: Runtime) -> list[Route]:
    settings = runtime.settings

    async def metrics(request: Request) -> Response:
        refusal = refuse(settings, request.headers.get("authorization", ""))
        if refusal is not None:
            return refusal
        body = await run_in_threadpool(runtime.metrics.exposition)  # reads the database
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return [Route(PATH, metrics, methods=["GET"])]


def refuse(settings: Settings, authorization: str) -> Response | None:
    """The answer to a scrape this server does not allow, or None when it may read the metrics."""
    if not settings.authenticates:
        return None
    if not settings.metrics_token:
        return PlainTextResponse(
            "/metrics is off: this server checks credentials, so set metrics_token for scrapers\n",
            status_code=403,
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), settings.metrics_token.encode()
    ):
        return PlainTextResponse(
            "send Authorization: Bearer <metrics_token>\n",
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return None
