"""``SourceReader``: the bytes behind a user's reference, within limits, and folder listings.

References it understands:

- ``s3://bucket/key``, read with boto3 on ``settings.s3_endpoint_url`` (optionally a given
  ``version_id``); the object's size is checked before its body is read, and never more than
  ``max_bytes + 1`` bytes are read;
- ``file:///absolute/path`` and plain absolute paths ``/absolute/path``;
- relative references (``images/a.png``, ``../b.png``), resolved against ``base``, the URI of the
  manifest that holds them (S3 or local). A relative S3 reference may not climb above the bucket;
- ``upload://<sha256>/<name>`` (our scheme for images uploaded straight to the server), read from
  the service's own blob store when one was attached (``SourceReader(settings, blobs=...)``).

Local files are read only when their real path (symlinks and ``..`` resolved) lies under one of
``settings.allow_local_roots``; with no roots configured, local references are refused. Only
regular files are read (no devices, FIFOs or folders).

Every failure raises ``SourceError`` whose message names the reference and the cause.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from openlookout.blobs.base import BlobError, BlobNotFound, BlobStore
from openlookout.settings import Settings
from openlookout.sources.access import SourceAccess
from openlookout.sources.errors import SourceError
from openlookout.sources.s3 import make_s3_client
from openlookout.sources.streams import CappedStream

UPLOAD_SCHEME = "upload://"
_UPLOAD_REF = re.compile(r"upload://([0-9a-f]{64})/(.+)", re.DOTALL)


def upload_ref(sha256: str, name: str) -> str:
    """The reference of a file kept in the blob store under ``sha256``, named ``name`` for people."""
    return f"{UPLOAD_SCHEME}{sha256}/{name}"


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
LABEL_FOLDERS = {"normal": "normal", "anomaly": "anomaly"}
DEFAULT_LIST_LIMIT = 100_000

FoundLabel = Literal["normal", "anomaly"]


@dataclass(frozen=True)
class FoundImage:
    """An image file found by ``list_images``: its URI, its path below the listed folder, its label."""

    uri: str
    relative: str
    label: FoundLabel | None


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``; the key may be empty."""
    if not uri.startswith("s3://"):
        raise SourceError(f"{uri!r} is not an s3:// reference")
    rest = uri[len("s3://") :]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise SourceError(f"{uri!r} names no bucket")
    if any(c in bucket for c in "\\?#") or bucket in (".", ".."):
        raise SourceError(f"{uri!r} has an invalid bucket name")
    return bucket, key


class SourceReader:
    """Reads references for imports (see the module doc). Thread-safe."""

    def __init__(self, settings: Settings, *, blobs: BlobStore | None = None, s3_client: Any = None) -> None:
        """``s3_client`` reads ``s3://`` references (made on first use when not given)."""
        self.s3_endpoint_url = settings.s3_endpoint_url
        self.region = settings.s3_region or settings.default_region or "us-east-1"
        self.allowed_roots: tuple[Path, ...] = tuple(
            Path(root).resolve() for root in settings.allow_local_roots
        )
        self.blobs = blobs
        self._client: Any = s3_client
        self._lock = threading.Lock()

    # ----------------------------------------------------------------------------- resolving

    def resolve(self, ref: str, base: str | None = None) -> str:
        """The absolute URI (``s3://...`` or ``file:///...``) that ``ref`` names."""
        if not isinstance(ref, str) or not ref:
            raise SourceError("the reference is empty")
        if "\x00" in ref:
            raise SourceError(f"the reference {ref!r} contains a NUL character")
        if ref.startswith("s3://"):
            _, key = split_s3_uri(ref)
            if not key:
                raise SourceError(f"{ref!r} names a bucket but no object")
            return ref
        if ref.startswith(UPLOAD_SCHEME):
            if _UPLOAD_REF.fullmatch(ref) is None:
                raise SourceError(f"{ref!r} is not a valid upload reference (upload://<sha256>/<name>)")
            return ref
        scheme = urlsplit(ref).scheme
        if scheme == "file":
            return Path(_file_uri_path(ref)).as_uri()
        if scheme and len(scheme) > 1:
            raise SourceError(f"{ref!r} uses the unsupported scheme {scheme!r} (use s3:// or file://)")
        if ref.startswith("/"):
            return Path(os.path.normpath(ref)).as_uri()
        return self._resolve_relative(ref, base)

    def _resolve_relative(self, ref: str, base: str | None) -> str:
        if not base:
            raise SourceError(f"the relative reference {ref!r} needs the manifest's location to resolve")
        if base.startswith("s3://"):
            bucket, base_key = split_s3_uri(base)
            joined = posixpath.normpath(posixpath.join(posixpath.dirname(base_key), ref))
            if joined in (".", "") or joined.startswith("../") or joined == ".." or joined.startswith("/"):
                raise SourceError(f"the relative reference {ref!r} climbs out of bucket {bucket}")
            return f"s3://{bucket}/{joined}"
        if urlsplit(base).scheme == "file":
            base_path = _file_uri_path(base)
        elif base.startswith("/"):
            base_path = base
        else:
            raise SourceError(f"cannot resolve {ref!r} against the base {base!r}")
        joined = os.path.normpath(os.path.join(os.path.dirname(base_path), ref))
        return Path(joined).as_uri()

    # ------------------------------------------------------------------------------- reading

    def read(
        self,
        ref: str,
        *,
        access: SourceAccess,
        base: str | None = None,
        max_bytes: int,
        version_id: str | None = None,
    ) -> bytes:
        """The bytes behind ``ref`` as ``access`` allows: at most ``max_bytes`` or ``SourceError``."""
        opened = self.open_stream(ref, access=access, base=base, max_bytes=max_bytes, version_id=version_id)
        with opened as stream:
            return stream.read()

    def open_stream(
        self,
        ref: str,
        *,
        access: SourceAccess,
        base: str | None = None,
        max_bytes: int,
        version_id: str | None = None,
    ) -> CappedStream:
        """The bytes behind ``ref`` as a stream read piece by piece (for manifests): never more than
        ``max_bytes`` in memory or in all. A size known up front (S3 object, file) is checked before
        reading; reads raise ``SourceError``. Close it (or use it as a context manager)."""
        uri = self.resolve(ref, base)
        if uri.startswith("s3://"):
            access.require(*split_s3_uri(uri))
            return self._open_s3(uri, max_bytes, version_id)
        if version_id is not None:
            raise SourceError(f"a version id applies only to s3:// references, not {uri}")
        if uri.startswith(UPLOAD_SCHEME):
            data = self._read_upload(uri, max_bytes, access)
            return _bytes_stream(data, uri, max_bytes)
        return self._open_file(self.local_path(uri), uri, max_bytes)

    def _open_file(self, real: Path, uri: str, max_bytes: int) -> CappedStream:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(real, flags)
        except OSError as exc:
            raise SourceError(f"{uri} cannot be opened: {_os_reason(exc)}") from None
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                raise SourceError(f"{uri} is a folder, not a file")
            if not stat.S_ISREG(info.st_mode):
                raise SourceError(f"{uri} is not a regular file")
            if info.st_size > max_bytes:
                raise SourceError(f"{uri} is {info.st_size} bytes, more than the limit of {max_bytes} bytes")
        except BaseException:
            os.close(fd)
            raise
        return CappedStream(
            lambda n: os.read(fd, n),
            max_bytes=max_bytes,
            too_large=lambda: SourceError(f"{uri} is more than the limit of {max_bytes} bytes"),
            on_error=lambda exc: SourceError(f"{uri} cannot be read: {_os_reason(exc)}"),
            close=lambda: os.close(fd),
        )

    def _open_s3(self, uri: str, max_bytes: int, version_id: str | None) -> CappedStream:
        bucket, key = split_s3_uri(uri)
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id is not None:
            kwargs["VersionId"] = version_id
        what = uri if version_id is None else f"{uri} (version {version_id})"
        try:
            response = self._s3().get_object(**kwargs)
        except ClientError as exc:
            raise SourceError(_s3_reason(exc, what, bucket)) from None
        except NoCredentialsError:
            raise SourceError(
                f"{what} cannot be read: no S3 credentials are configured on this server"
            ) from None
        except BotoCoreError as exc:
            raise SourceError(f"{what} cannot be read: {exc}") from None
        body = response["Body"]
        length = response.get("ContentLength")
        if isinstance(length, int) and length > max_bytes:
            body.close()
            raise SourceError(f"{what} is {length} bytes, more than the limit of {max_bytes} bytes")

        def failed(exc: Exception) -> SourceError:
            if isinstance(exc, ClientError):
                return SourceError(_s3_reason(exc, what, bucket))
            return SourceError(f"{what} cannot be read: {exc}")

        return CappedStream(
            body.read,
            max_bytes=max_bytes,
            too_large=lambda: SourceError(f"{what} is more than the limit of {max_bytes} bytes"),
            on_error=failed,
            close=body.close,
        )

    def local_path(self, uri: str) -> Path:
        """The real path behind a ``file://`` URI, checked against the allowed roots.

        A path outside the roots gets one message whether or not it exists (no existence oracle):
        it is tested by name before the file system is asked, and again once links are resolved.
        """
        path = Path(_file_uri_path(uri))
        if not self.allowed_roots:
            raise SourceError(f"{uri} is a local file, and no local folders are allowed on this server")
        outside = SourceError(f"{uri} is outside the folders this server may read")
        if not self._inside_roots(path):
            raise outside
        try:
            real = path.resolve(strict=True)
        except FileNotFoundError:
            if not self._inside_roots(path.resolve(strict=False)):
                raise outside from None
            raise SourceError(f"{uri} does not exist") from None
        except (OSError, RuntimeError) as exc:
            raise SourceError(f"{uri} cannot be resolved: {_os_reason(exc)}") from None
        if not self._inside_roots(real):
            raise outside
        return real

    def _inside_roots(self, path: Path) -> bool:
        return any(path == root or path.is_relative_to(root) for root in self.allowed_roots)

    def _read_upload(self, uri: str, max_bytes: int, access: SourceAccess) -> bytes:
        match = _UPLOAD_REF.fullmatch(uri)
        assert match is not None  # resolve() checked the form
        if self.blobs is None:
            raise SourceError(
                f"{uri} is an uploaded image, and this reader has no blob store to read it from"
            )
        if not access.owns_blob(match.group(1)):  # another account's bytes: as if never stored
            raise SourceError(f"{uri} is not stored on this server")
        try:
            data = self.blobs.get(match.group(1))
        except BlobNotFound:
            raise SourceError(f"{uri} is not stored on this server") from None
        except BlobError as exc:
            raise SourceError(f"{uri} cannot be read: {exc}") from None
        if len(data) > max_bytes:
            raise SourceError(f"{uri} is {len(data)} bytes, more than the limit of {max_bytes} bytes")
        return data

    def _s3(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = make_s3_client(self.s3_endpoint_url, self.region)
            return self._client

    # ------------------------------------------------------------------------------- listing

    def list_images(
        self, uri: str, *, access: SourceAccess, limit: int = DEFAULT_LIST_LIMIT
    ) -> list[FoundImage]:
        """Image files (``.png``/``.jpg``/``.jpeg`` names) under a folder or S3 prefix, sorted.

        Files anywhere under an immediate sub-folder named ``normal`` or ``anomaly`` (any case) get
        that label; every other image file is unlabeled. Hidden names (leading ``.``) are skipped.
        More than ``limit`` images raise ``SourceError``.
        """
        if not isinstance(uri, str) or not uri:
            raise SourceError("the folder reference is empty")
        if uri.startswith("s3://"):
            bucket, prefix = split_s3_uri(uri)
            access.require(bucket, prefix if not prefix or prefix.endswith("/") else prefix + "/")
            found = self._list_s3(uri, limit)
        else:
            found = self._list_folder(self.resolve(uri), limit)
        found.sort(key=lambda item: item.relative)
        return found

    def _list_s3(self, uri: str, limit: int) -> list[FoundImage]:
        bucket, prefix = split_s3_uri(uri)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        found: list[FoundImage] = []
        try:
            paginator = self._s3().get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    key = item["Key"]
                    relative = key[len(prefix) :]
                    image = _found(f"s3://{bucket}/{key}", relative)
                    if image is not None:
                        found.append(image)
                        if len(found) > limit:
                            raise SourceError(f"{uri} holds more than {limit} images")
        except ClientError as exc:
            raise SourceError(_s3_reason(exc, uri, bucket, "listed")) from None
        except NoCredentialsError:
            raise SourceError(
                f"{uri} cannot be listed: no S3 credentials are configured on this server"
            ) from None
        except BotoCoreError as exc:
            raise SourceError(f"{uri} cannot be listed: {exc}") from None
        return found

    def _list_folder(self, uri: str, limit: int) -> list[FoundImage]:
        root = self.local_path(uri)
        if not root.is_dir():
            raise SourceError(f"{uri} is not a folder")
        found: list[FoundImage] = []

        def fail(exc: OSError) -> None:
            raise SourceError(f"{uri} cannot be listed: {_os_reason(exc)}")

        for folder, dirs, files in os.walk(root, onerror=fail, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for file_name in sorted(files):
                path = Path(folder) / file_name
                relative = path.relative_to(root).as_posix()
                image = _found(path.as_uri(), relative)
                if image is not None:
                    found.append(image)
                    if len(found) > limit:
                        raise SourceError(f"{uri} holds more than {limit} images")
        return found


def _found(uri: str, relative: str) -> FoundImage | None:
    if not relative or relative.endswith("/"):
        return None
    parts = relative.split("/")
    if any(part.startswith(".") for part in parts) or not parts[-1].lower().endswith(IMAGE_SUFFIXES):
        return None
    label: FoundLabel | None = None
    if len(parts) > 1:
        folder = parts[0].lower()
        if folder == "normal":
            label = "normal"
        elif folder == "anomaly":
            label = "anomaly"
    return FoundImage(uri=uri, relative=relative, label=label)


def _file_uri_path(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.scheme != "file":
        raise SourceError(f"{uri!r} is not a file:// reference")
    if parts.netloc not in ("", "localhost"):
        raise SourceError(f"{uri!r} names a remote host; file references must be local")
    if parts.query or parts.fragment:
        raise SourceError(f"{uri!r} must not have a query or fragment")
    path = unquote(parts.path)
    if not path.startswith("/"):
        raise SourceError(f"{uri!r} is not an absolute file reference")
    if "\x00" in path:
        raise SourceError(f"{uri!r} contains a NUL character")
    return os.path.normpath(path)


def _bytes_stream(data: bytes, uri: str, max_bytes: int) -> CappedStream:
    """Bytes already in memory as a ``CappedStream``."""
    view = io.BytesIO(data)
    return CappedStream(
        view.read,
        max_bytes=max_bytes,
        too_large=lambda: SourceError(f"{uri} is more than the limit of {max_bytes} bytes"),
        on_error=lambda exc: SourceError(f"{uri} cannot be read: {exc}"),
    )


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def _s3_reason(exc: ClientError, what: str, bucket: str, verb: str = "read") -> str:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code == "NoSuchBucket":
        return f"{what} cannot be {verb}: bucket {bucket} does not exist"
    if code in ("NoSuchKey", "404", "NotFound"):
        return f"{what} does not exist"
    version_problem = code == "InvalidArgument" and "version" in str(error.get("Message", "")).lower()
    if code == "NoSuchVersion" or version_problem:
        return f"{what} does not exist (unknown version id)"
    if code in (
        "AccessDenied",
        "403",
        "Forbidden",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
    ):
        return f"{what} cannot be {verb}: access denied ({code})"
    return f"{what} cannot be {verb}: {code or status or 'request failed'}"
