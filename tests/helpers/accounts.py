"""The caller a server without a credentials file gives unsigned requests and the console."""

from __future__ import annotations

from openlookout.service.context import RequestContext, Runtime


def default_context(runtime: Runtime) -> RequestContext:
    """The default account and region of ``runtime``'s settings."""
    return RequestContext(runtime.settings.default_account_id, runtime.settings.default_region, "test")
