"""``FileBlobStore``: blobs as files under a local folder, written atomically.

Layout: ``<root>/ab/cd/<sha256>`` for content-addressed blobs and ``<root>/named/<name>`` for named
objects. Every write goes to a temporary file in the target folder, is flushed and then renamed
into place with ``os.replace``, so readers never see a partial file and concurrent writers of the
same content are harmless.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from openlookout.blobs.base import BlobError, BlobNotFound, check_key, check_name


class FileBlobStore:
    """A ``BlobStore`` in a local folder (created if missing)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BlobError(f"cannot create the blob folder {self.root}: {exc.strerror}") from None

    def __repr__(self) -> str:
        return f"FileBlobStore({str(self.root)!r})"

    def path_for(self, key: str) -> Path:
        """Where the blob with this key lives (whether or not it exists)."""
        check_key(key)
        return self.root / key[0:2] / key[2:4] / key

    def named_path(self, name: str) -> Path:
        """Where the named object lives (whether or not it exists)."""
        return self.root / "named" / check_name(name)

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        path = self.path_for(key)
        if not path.is_file():
            _write_atomically(path, data)
        return key

    def get(self, key: str) -> bytes:
        return _read(self.path_for(key), f"blob {key}")

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def delete(self, key: str) -> None:
        _unlink(self.path_for(key))

    def put_named(self, name: str, data: bytes) -> str:
        _write_atomically(self.named_path(name), data)
        return name

    def get_named(self, name: str) -> bytes:
        return _read(self.named_path(name), f"object {name!r}")

    def exists_named(self, name: str) -> bool:
        return self.named_path(name).is_file()

    def delete_named(self, name: str) -> None:
        _unlink(self.named_path(name))


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise BlobError(f"cannot write {path}: {exc.strerror or exc}") from None


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BlobNotFound(f"{what} does not exist") from None
    except OSError as exc:
        raise BlobError(f"cannot read {what}: {exc.strerror or exc}") from None


def _unlink(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise BlobError(f"cannot delete {path}: {exc.strerror or exc}") from None
