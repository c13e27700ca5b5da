"""``CappedStream``: a source's bytes read piece by piece, never more than a limit in all.

Manifests can be up to 1 GiB; they are parsed line by line from this stream (``readline`` with a
bounded length), so only one line and one read piece are in memory at a time. Passing the limit,
or a failing read, raises ``SourceError`` from the read that found it.
"""

from __future__ import annotations

from collections.abc import Callable

READ_PIECE = 256 * 1024


class CappedStream:
    """A readable byte stream over ``read(n)`` that refuses to go past ``max_bytes`` in total.

    ``on_error`` turns an exception of the underlying read into the exception to raise (a
    ``SourceError`` naming the reference); ``too_large`` is the one raised past the limit.
    """

    def __init__(
        self,
        read: Callable[[int], bytes],
        *,
        max_bytes: int,
        too_large: Callable[[], Exception],
        on_error: Callable[[Exception], Exception],
        close: Callable[[], None] = lambda: None,
    ) -> None:
        self._read = read
        self._max_bytes = max_bytes
        self._too_large = too_large
        self._on_error = on_error
        self._close = close
        self._buffer = bytearray()
        self._total = 0
        self._eof = False

    def _fill(self) -> bool:
        """Read one more piece into the buffer; False at the end of the source."""
        if self._eof:
            return False
        try:
            piece = self._read(min(READ_PIECE, self._max_bytes + 1 - self._total))
        except Exception as exc:
            raise self._on_error(exc) from None
        if not piece:
            self._eof = True
            return False
        self._total += len(piece)
        if self._total > self._max_bytes:
            raise self._too_large()
        self._buffer += piece
        return True

    def readline(self, limit: int = -1) -> bytes:
        """The next line with its newline, at most ``limit`` bytes (all when negative); b"" at the end."""
        start = 0
        while True:
            end = self._buffer.find(b"\n", start)
            if end >= 0:
                size = end + 1
                break
            if 0 <= limit <= len(self._buffer):
                size = limit
                break
            start = len(self._buffer)
            if not self._fill():
                size = len(self._buffer)
                break
        if 0 <= limit < size:
            size = limit
        line = bytes(self._buffer[:size])
        del self._buffer[:size]
        return line

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when negative)."""
        while (size < 0 or len(self._buffer) < size) and self._fill():
            pass
        size = len(self._buffer) if size < 0 else min(size, len(self._buffer))
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def close(self) -> None:
        self._close()

    def __enter__(self) -> CappedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
