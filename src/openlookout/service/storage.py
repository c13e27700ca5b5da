"""Storage trouble in plain words, and the free-space check before an import.

``storage_reason(exc)`` recognises a failure of the disk or the database rather than of the
request (no space left, quota exceeded, read-only or failing disk, a full SQLite database, a blob
store that cannot write) and says it in one sentence; the API answers such failures with an
``InternalServerException`` carrying that sentence (``storage_error``) and dataset jobs put it in
the dataset's StatusMessage.

``require_room(runtime, incoming)`` refuses an import or upload up front when the data folder or a
local blob store has less than ``min_free_bytes`` free besides ``incoming`` bytes; ``room_left``
is the check an import makes before storing each file, keeping half of ``min_free_bytes`` for the
database, so the import's failure itself can still be written.
"""

from __future__ import annotations

import contextlib
import errno
import shutil

from openlookout.blobs.base import BlobError
from openlookout.errors import InternalServerException
from openlookout.service.context import Runtime

_ERRNO_REASONS = {
    errno.ENOSPC: "the server's disk is full (no space left on the device)",
    errno.EDQUOT: "the server's disk quota is used up",
    errno.EROFS: "the server's storage is read-only",
    errno.EIO: "the server's disk reported an input/output error",
}
_TEXT_REASONS = (
    ("no space left", _ERRNO_REASONS[errno.ENOSPC]),
    ("database or disk is full", "the server's disk is full (the database cannot grow)"),
    ("disk quota", _ERRNO_REASONS[errno.EDQUOT]),
    ("read-only file system", _ERRNO_REASONS[errno.EROFS]),
    ("readonly database", "the server's database is read-only"),
    ("disk i/o error", "the server's disk reported an input/output error"),
)


def storage_reason(exc: BaseException) -> str | None:
    """A sentence naming the storage failure behind ``exc`` (or its causes); None if it is not one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _ERRNO_REASONS:
            return _ERRNO_REASONS[current.errno]
        text = str(current).lower()
        for marker, reason in _TEXT_REASONS:
            if marker in text:
                return reason
        if isinstance(current, BlobError):
            return f"the server's blob store cannot be written ({current})"
        current = current.__cause__ or current.__context__ or getattr(current, "orig", None)
    return None


def storage_error(reason: str) -> InternalServerException:
    """The API's answer to a storage failure."""
    return InternalServerException(
        f"The server could not store the data: {reason}. Nothing was changed; retry once storage is "
        "available again.",
        retry_after_seconds=30,
    )


def free_bytes(runtime: Runtime) -> int | None:
    """The least free space among the data folder and a local blob store (None if unknown)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        found.append(shutil.disk_usage(runtime.settings.data_dir).free)
    blob_free = runtime.blobs.free_bytes()
    if blob_free is not None:
        found.append(blob_free)
    return min(found) if found else None


def require_room(runtime: Runtime, incoming: int = 0) -> None:
    """Refuse (InternalServerException) when less than ``min_free_bytes`` plus ``incoming`` is free."""
    floor = runtime.settings.min_free_bytes
    free = free_bytes(runtime)
    if free is not None and free < floor + incoming:
        raise InternalServerException(
            f"The server's disk is nearly full: {free / 1e6:.0f} MB free, and an import needs at least "
            f"{(floor + incoming) / 1e6:.0f} MB free. Free some space (openlookout gc removes images "
            "nothing refers to) and retry.",
            retry_after_seconds=60,
        )


def room_left(runtime: Runtime, incoming: int) -> str | None:
    """Why ``incoming`` more bytes must not be stored now (None when there is room)."""
    free = free_bytes(runtime)
    keep = runtime.settings.min_free_bytes // 2
    if free is not None and free - incoming < keep:
        return f"the server's disk is nearly full ({free / 1e6:.0f} MB free); the import stopped to keep room"
    return None
