"""Turns any failure a command can meet into one short line for stderr.

Server errors (botocore ``ClientError`` and our extension routes' errors) keep the API's error code;
connection problems, local file problems and client-side validation get our own wording.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)


class CliError(Exception):
    """A failure the CLI itself detected; its message is shown as is."""


class ApiError(Exception):
    """An error answered by one of the server's extension routes."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class ServerUnreachable(Exception):
    """The server did not answer at all (refused, reset, timed out)."""

    def __init__(self, endpoint_url: str, reason: str) -> None:
        super().__init__(
            f"cannot reach OpenLookout at {endpoint_url} ({reason}); is 'openlookout serve' running?"
        )


def describe_error(exc: BaseException) -> str:
    """One line, without the ``error:`` prefix, for any exception."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code") or "Error"
        message = (
            error.get("Message") or f"HTTP {exc.response.get('ResponseMetadata', {}).get('HTTPStatusCode')}"
        )
        return _one_line(f"{code}: {message}")
    if isinstance(exc, ParamValidationError):
        return _one_line("invalid parameters: " + str(exc.kwargs.get("report", exc)))
    if isinstance(exc, EndpointConnectionError | ConnectionClosedError | ReadTimeoutError):
        return str(ServerUnreachable(_base_url(str(exc.kwargs.get("endpoint_url", ""))), "no connection"))
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (any values work)"
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError | NotADirectoryError):
        return _one_line(f"{exc.filename}: {exc.strerror}")
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return _one_line(f"{where}{exc.strerror}")
    if isinstance(exc, CliError | ApiError | ServerUnreachable):
        return _one_line(str(exc))
    text = str(exc) or "no details"
    return _one_line(f"{type(exc).__name__}: {text}")


def _base_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else (url or "the endpoint")


def _one_line(text: str, limit: int = 2000) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
