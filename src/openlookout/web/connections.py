"""Connection limits the ASGI application cannot enforce itself: a deadline for request headers.

uvicorn waits for a request's headers as long as the client keeps the connection open, so a client
sending one byte every few seconds holds a connection (and its memory) forever. The protocol class
made by ``header_timeout_protocol`` closes a connection whose request headers are not complete
within ``timeout_s`` of the connection opening, or of the first byte of the next request on a
kept-alive connection. Bodies have their own deadline (``web.bodies.BodyGuard``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol


def header_timeout_protocol(timeout_s: float, base: type[asyncio.Protocol] = AutoHTTPProtocol) -> type[Any]:
    """A subclass of uvicorn's HTTP protocol ``base`` with the header deadline (pass as ``http=``)."""

    class HeaderDeadlineProtocol(base):  # type: ignore[valid-type,misc]
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm_header_timer()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._waiting_for_headers():
                if self._header_timer is None:
                    self._arm_header_timer()
            else:
                self._cancel_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_timer()
            super().connection_lost(exc)

        def _waiting_for_headers(self) -> bool:
            cycle = getattr(self, "cycle", None)
            return cycle is None or bool(getattr(cycle, "response_complete", False))

        def _arm_header_timer(self) -> None:
            self._cancel_header_timer()
            loop = asyncio.get_running_loop()
            self._header_timer = loop.call_later(timeout_s, self._header_deadline)

        def _cancel_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _header_deadline(self) -> None:
            self._header_timer = None
            transport = getattr(self, "transport", None)
            if transport is not None and self._waiting_for_headers() and not transport.is_closing():
                transport.close()

    HeaderDeadlineProtocol.__name__ = f"HeaderDeadline{base.__name__}"
    return HeaderDeadlineProtocol


def uvicorn_limits(*, header_timeout_s: float, max_connections: int) -> dict[str, Any]:
    """The ``uvicorn.Config`` keyword arguments that bound connections: the header deadline protocol
    and the most connections (and requests) at once, above which uvicorn answers 503."""
    return {
        "http": header_timeout_protocol(header_timeout_s),
        "limit_concurrency": max_connections if max_connections > 0 else None,
    }
