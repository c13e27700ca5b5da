"""The credentials file: access keys, their secrets and the account each key belongs to.

A CSV file whose first line is exactly ``access_key_id,secret_access_key,account_id``, then one
key per line (an account may have several keys). ``KeyStore`` holds the keys of one file and
reloads it when it changes (checked at most once a second on use) or when asked (SIGHUP); a file
that became unreadable or invalid keeps the keys loaded before and logs why, never a secret.
``create_key`` appends a new random key pair, creating the file (mode 0600) when missing.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("openlookout.auth")

HEADER = ("access_key_id", "secret_access_key", "account_id")
MAX_FILE_BYTES = 4 * 1024 * 1024
RECHECK_SECONDS = 1.0
_KEY_ID = re.compile(r"[A-Za-z0-9]{16,128}")
_ACCOUNT = re.compile(r"[0-9]{12}")
_MIN_SECRET_CHARS = 16
_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class CredentialsError(Exception):
    """The credentials file cannot be used; the message names the file and the line, never a secret."""


@dataclass(frozen=True)
class AccessKey:
    """One key: its id, its secret (never shown by ``repr``) and its account."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    account_id: str


def is_account_id(value: str) -> bool:
    """True for a 12-digit account id."""
    return _ACCOUNT.fullmatch(value) is not None


def parse_credentials(text: str, *, source: str) -> dict[str, AccessKey]:
    """The keys of a credentials file's text, by access key id; ``CredentialsError`` if malformed."""
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None or tuple(cell.strip() for cell in header) != HEADER:
        raise CredentialsError(f"{source}: the first line must be {','.join(HEADER)}")
    keys: dict[str, AccessKey] = {}
    for number, row in enumerate(rows, start=2):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if len(cells) != 3:
            raise CredentialsError(f"{source} line {number}: expected 3 fields, found {len(cells)}")
        key_id, secret, account = cells
        if _KEY_ID.fullmatch(key_id) is None:
            raise CredentialsError(
                f"{source} line {number}: the access key id must be 16-128 letters or digits"
            )
        if len(secret) < _MIN_SECRET_CHARS or any(c.isspace() for c in secret):
            raise CredentialsError(
                f"{source} line {number}: the secret of {key_id} must be at least "
                f"{_MIN_SECRET_CHARS} characters without spaces"
            )
        if not is_account_id(account):
            raise CredentialsError(f"{source} line {number}: the account id of {key_id} must be 12 digits")
        if key_id in keys:
            raise CredentialsError(f"{source} line {number}: the access key id {key_id} appears twice")
        keys[key_id] = AccessKey(key_id, secret, account)
    return keys


def read_credentials(path: Path) -> dict[str, AccessKey]:
    """The keys of the file at ``path``; ``CredentialsError`` when unreadable, too large or malformed."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise CredentialsError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    if len(data) > MAX_FILE_BYTES:
        raise CredentialsError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CredentialsError(f"{path}: not UTF-8 text") from None
    return parse_credentials(text, source=str(path))


class KeyStore:
    """The keys of one credentials file, reloaded when the file changes. Thread-safe."""

    def __init__(self, path: Path) -> None:
        """Load ``path`` now; ``CredentialsError`` when it cannot be used (the server must not start)."""
        self.path = path
        self._lock = threading.Lock()
        self._keys = read_credentials(path)
        self._stamp = self._file_stamp()
        self._checked = time.monotonic()

    @classmethod
    def of_keys(cls, keys: list[AccessKey]) -> KeyStore:
        """A store holding ``keys`` only, with no file behind it (tests)."""
        store = cls.__new__(cls)
        store.path = Path()
        store._lock = threading.Lock()
        store._keys = {key.access_key_id: key for key in keys}
        store._stamp = None
        store._checked = float("inf")
        return store

    def lookup(self, access_key_id: str) -> AccessKey | None:
        """The key with this id, after reloading the file if it changed; None for an unknown id."""
        self._reload_if_changed()
        with self._lock:
            return self._keys.get(access_key_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)

    def reload(self) -> bool:
        """Read the file again (SIGHUP). False, with the old keys kept, when it cannot be used."""
        try:
            keys = read_credentials(self.path)
        except CredentialsError as exc:
            log.warning("credentials not reloaded, keeping the %d keys loaded before: %s", len(self), exc)
            return False
        with self._lock:
            self._keys = keys
            self._stamp = self._file_stamp()
        log.info("credentials reloaded from %s: %d keys", self.path, len(keys))
        return True

    def _reload_if_changed(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._checked < RECHECK_SECONDS:
                return
            self._checked = now
            stamp = self._stamp
        if self._file_stamp() != stamp:
            self.reload()

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return (info.st_ino, info.st_size, info.st_mtime_ns)


def new_key_pair() -> tuple[str, str]:
    """A fresh (access key id, secret): 20 characters like AWS's ids, and a 40-character secret."""
    key_id = "OLAK" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
    return key_id, secrets.token_urlsafe(30)


def create_key(path: Path, account_id: str) -> AccessKey:
    """Append a new random key for ``account_id`` to the file (created with mode 0600 if missing)."""
    if not is_account_id(account_id):
        raise CredentialsError(f"the account id must be 12 digits, not {account_id!r}")
    if path.exists():
        read_credentials(path)  # refuse to append to a file the server could not read
    key_id, secret = new_key_pair()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8", newline="") as handle:
        if handle.tell() == 0:
            handle.write(",".join(HEADER) + "\n")
        elif not _ends_with_newline(path):
            handle.write("\n")
        handle.write(f"{key_id},{secret},{account_id}\n")
    return AccessKey(key_id, secret, account_id)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"
