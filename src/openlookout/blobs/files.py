"""``FileBlobStore``: blobs as files under a local folder, written atomically.

Layout: ``<root>/ab/cd/<sha256>`` for content-addressed blobs and ``<root>/named/<name>`` for named
objects. Every write goes to a temporary file in the target folder, is flushed and then renamed
into place with ``os.replace``, so readers never see a partial file and concurrent writers of the
same content are harmless.

``put`` of bytes already stored sets the file's modification time to now. The collector removes a
file by first renaming it into ``<root>/.collected/``, then looking at its modification time: if a
``put`` touched it since the collector listed it, it goes back; a ``put`` that finds it gone writes
it again. Either way a blob being put is never lost to the collector.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from openlookout.blobs.base import BlobError, BlobNotFound, StoredObject, check_key, check_name

_KEY_NAME = re.compile(r"[0-9a-f]{64}")
_HEX2 = re.compile(r"[0-9a-f]{2}")
COLLECTED = ".collected"
# File times come from a coarse kernel clock that may lag the time the caller read a little.
CLOCK_SLACK_S = 0.1


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
        try:
            os.utime(path)  # already stored: now counts as just written (see the module doc)
        except FileNotFoundError:
            _write_atomically(path, data)
        except OSError as exc:
            raise BlobError(f"cannot write {path}: {exc.strerror or exc}") from None
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

    # -- for the collector ------------------------------------------------------------------

    def list_blobs(self) -> Iterator[StoredObject]:
        for first in _subfolders(self.root, _HEX2):
            for second in _subfolders(first, _HEX2):
                for entry in _entries(second):
                    if _KEY_NAME.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                        found = _stored(entry, entry.name)
                        if found is not None:
                            yield found

    def list_named(self) -> Iterator[StoredObject]:
        base = self.root / "named"
        for folder, dirs, files in os.walk(base):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for file_name in files:
                if file_name.startswith("."):
                    continue
                path = Path(folder) / file_name
                try:
                    info = path.stat()
                except FileNotFoundError:
                    continue
                yield StoredObject(path.relative_to(base).as_posix(), info.st_size, info.st_mtime)

    def collect(self, key: str, written_before: float) -> int | None:
        return self._collect(self.path_for(key), written_before)

    def collect_named(self, name: str, written_before: float) -> int | None:
        return self._collect(self.named_path(name), written_before)

    def collect_leftovers(self, written_before: float) -> tuple[int, int]:
        """Remove temporary files of writes that never finished and files a collection parked but
        never removed (a killed server); (files, bytes)."""
        count = freed = 0
        for folder, _, files in os.walk(self.root):
            parked = Path(folder) == self.root / COLLECTED
            for file_name in files:
                if not parked and not (file_name.startswith(".tmp-") and file_name.endswith(".part")):
                    continue
                path = Path(folder) / file_name
                try:
                    info = path.stat()
                    if info.st_mtime < written_before:
                        path.unlink()
                        count, freed = count + 1, freed + info.st_size
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    raise BlobError(f"cannot remove {path}: {exc.strerror or exc}") from None
        return count, freed

    def free_bytes(self) -> int | None:
        try:
            return shutil.disk_usage(self.root).free
        except OSError:
            return None

    def _collect(self, path: Path, written_before: float) -> int | None:
        """Remove ``path`` unless it was written at or after ``written_before``; bytes freed or None."""
        parked = self.root / COLLECTED / f"{path.name}.{uuid.uuid4().hex}"
        try:
            parked.parent.mkdir(exist_ok=True)
            os.rename(path, parked)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BlobError(f"cannot collect {path}: {exc.strerror or exc}") from None
        try:
            info = parked.stat()
            if info.st_mtime + CLOCK_SLACK_S >= written_before:  # a put touched it since: keep it
                with contextlib.suppress(FileExistsError):  # else a put wrote it again meanwhile
                    os.link(parked, path)
                return None
            return info.st_size
        except OSError as exc:
            raise BlobError(f"cannot collect {path}: {exc.strerror or exc}") from None
        finally:
            parked.unlink(missing_ok=True)


def _subfolders(folder: Path, pattern: re.Pattern[str]) -> Iterator[Path]:
    for entry in _entries(folder):
        if pattern.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False):
            yield Path(entry.path)


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as found:
            return list(found)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise BlobError(f"cannot list {folder}: {exc.strerror or exc}") from None


def _stored(entry: os.DirEntry[str], key: str) -> StoredObject | None:
    try:
        info = entry.stat(follow_symlinks=False)
    except FileNotFoundError:
        return None
    return StoredObject(key, info.st_size, info.st_mtime)


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
