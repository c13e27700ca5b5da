"""The ``BlobStore`` protocol: where the service keeps its own copies of images, masks and outputs.

Two kinds of objects:

- content-addressed blobs: ``put(data)`` returns the sha256 hex of the bytes and is idempotent;
  ``get``/``exists``/``delete`` take that key;
- named objects (model files, evaluation results, exports): ``put_named(name, data)`` with a
  relative, slash-separated name such as ``models/widgets/1/weights.pt``.

Missing objects raise ``BlobNotFound``; malformed keys or names raise ``BlobError``.

For the blob collector (``service.blob_gc``) every store also lists what it holds with each
object's last write time, and removes an object only if nothing wrote it since a given time
(``collect``/``collect_named``): ``put`` of bytes already stored refreshes that time, so bytes a
running import is putting again are never removed under it. ``free_bytes`` tells how much room is
left where the store writes (None when it cannot know, as on S3).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

_KEY = re.compile(r"[0-9a-f]{64}")
_NAME_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=@-]{0,254}")
MAX_NAME_CHARS = 1024


class BlobError(Exception):
    """A blob store operation failed; the message says which object and why."""


class BlobNotFound(BlobError):
    """No object under that key or name."""


@dataclass(frozen=True)
class StoredObject:
    """One stored object: its key (blobs) or name (named objects), size and last write (epoch s)."""

    key: str
    size: int
    modified: float


@runtime_checkable
class BlobStore(Protocol):
    """Storage for the service's own bytes (see the module doc)."""

    def put(self, data: bytes) -> str: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def put_named(self, name: str, data: bytes) -> str: ...

    def get_named(self, name: str) -> bytes: ...

    def exists_named(self, name: str) -> bool: ...

    def delete_named(self, name: str) -> None: ...

    def list_blobs(self) -> Iterator[StoredObject]: ...

    def list_named(self) -> Iterator[StoredObject]: ...

    def collect(self, key: str, written_before: float) -> int | None: ...

    def collect_named(self, name: str, written_before: float) -> int | None: ...

    def collect_leftovers(self, written_before: float) -> tuple[int, int]: ...

    def free_bytes(self) -> int | None: ...


def check_key(key: str) -> str:
    """``key`` if it is a lower-case sha256 hex digest, else ``BlobError``."""
    if not isinstance(key, str) or _KEY.fullmatch(key) is None:
        raise BlobError(f"{key!r} is not a blob key (64 lower-case hex digits)")
    return key


def check_name(name: str) -> str:
    """``name`` if it is a safe relative object name (``a/b/c.ext``), else ``BlobError``.

    Segments start with a letter or digit and use only ``A-Z a-z 0-9 . _ + = @ -``, so ``..``,
    absolute paths, backslashes and empty segments are impossible.
    """
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_CHARS:
        raise BlobError(f"{name!r} is not a valid object name")
    for segment in name.split("/"):
        if _NAME_SEGMENT.fullmatch(segment) is None:
            raise BlobError(f"{name!r} is not a valid object name (bad segment {segment!r})")
    return name
