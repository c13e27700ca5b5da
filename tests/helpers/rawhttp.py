"""Raw HTTP for the limit tests: stream a large chunked body or trickle bytes, and watch memory."""

from __future__ import annotations

import select
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


def rss_bytes() -> int:
    """This process's resident memory now (Linux)."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class PeakRss:
    """Samples this process's RSS every few milliseconds while in use: ``growth`` over the start."""

    def __init__(self) -> None:
        self.start = rss_bytes()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def growth(self) -> int:
        return self.peak - self.start


@dataclass
class RawAnswer:
    status: int | None
    head: bytes
    body: bytes
    sent: int


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=30)


def _read_answer(sock: socket.socket, first: bytes, timeout: float) -> tuple[int | None, bytes, bytes]:
    data = first
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if b"\r\n\r\n" in data:
            head, _, rest = data.partition(b"\r\n\r\n")
            length = _content_length(head)
            if length is None or len(rest) >= length:
                break
        ready, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        try:
            piece = sock.recv(65536)
        except (ConnectionResetError, OSError):
            break
        if not piece:
            break
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else None
    return status, head, body


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


def stream_chunked(url: str, path: str, headers: dict[str, str], total: int, chunk: int = 65536) -> RawAnswer:
    """POST ``total`` bytes as a chunked body, stopping as soon as the server answers."""
    sock = _connect(url)
    lines = [f"POST {path} HTTP/1.1", f"Host: {urlsplit(url).netloc}", "Transfer-Encoding: chunked"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    piece = f"{chunk:x}\r\n".encode() + b"x" * chunk + b"\r\n"
    sent = 0
    first = b""
    try:
        while sent < total:
            readable, writable, _ = select.select([sock], [sock], [], 10)
            if readable:
                first = sock.recv(65536)
                break
            if writable:
                sock.sendall(piece)
                sent += chunk
        else:
            sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        status, head, body = _read_answer(sock, first, 10)
    finally:
        sock.close()
    return RawAnswer(status, head, body, sent)


def send_raw(url: str, request: bytes, *, timeout: float = 10) -> RawAnswer:
    """Send ``request`` (head and body) at once and read the answer."""
    sock = _connect(url)
    try:
        sock.sendall(request)
        status, head, body = _read_answer(sock, b"", timeout)
    finally:
        sock.close()
    return RawAnswer(status, head, body, len(request))


def trickle(url: str, data: bytes, *, every_s: float, limit_s: float) -> tuple[float, bytes]:
    """Send ``data`` one byte every ``every_s`` seconds until the server answers or closes.

    Returns the seconds until the server answered or closed, and what it sent (empty when it
    closed without a word); ``limit_s`` when it did neither.
    """
    sock = _connect(url)
    started = time.monotonic()
    received = b""
    try:
        for byte in data + b" " * 10_000:
            if time.monotonic() - started > limit_s:
                return limit_s, received
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - started, received
            ready, _, _ = select.select([sock], [], [], every_s)
            if ready:
                try:
                    piece = sock.recv(65536)
                except ConnectionResetError:
                    piece = b""
                received += piece
                if not piece or b"\r\n\r\n" in received:
                    return time.monotonic() - started, received
        return limit_s, received
    finally:
        sock.close()
