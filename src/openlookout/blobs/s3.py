"""``S3BlobStore``: blobs in a bucket of any S3-compatible endpoint (AWS, MinIO, moto, ...).

Layout: ``<prefix>/blobs/<sha256>`` and ``<prefix>/named/<name>``. The bucket is created on first
use when it does not exist. The store is handed its boto3 client (``sources.s3.make_s3_client``).

``put`` of bytes already stored copies the object onto itself, which sets its last-modified time
to now; the collector removes an object only when its last-modified time, read just before the
removal, is older than the collection's cutoff.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from openlookout.blobs.base import BlobError, BlobNotFound, StoredObject, check_key, check_name

S3_TIME_STEP_S = 1.0
_MISSING_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


class S3BlobStore:
    """A ``BlobStore`` under ``s3://bucket/prefix`` on an S3-compatible endpoint."""

    def __init__(self, bucket: str, prefix: str, *, client: Any) -> None:
        if not bucket:
            raise BlobError("an S3 blob store needs a bucket name")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        self._bucket_ready = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"S3BlobStore('s3://{self.bucket}/{self.prefix}')"

    def _object_key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def key_for(self, key: str) -> str:
        return self._object_key("blobs", check_key(key))

    def named_key(self, name: str) -> str:
        return self._object_key("named", check_name(name))

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (once per store)."""
        if self._bucket_ready:
            return
        with self._lock:
            if self._bucket_ready:
                return
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if _code(exc) not in _MISSING_CODES:
                    raise BlobError(f"cannot use bucket {self.bucket}: {_code(exc)}") from None
                self._create_bucket()
            except BotoCoreError as exc:
                raise BlobError(f"cannot reach the S3 endpoint for bucket {self.bucket}: {exc}") from None
            self._bucket_ready = True

    def _create_bucket(self) -> None:
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        region = self.client.meta.region_name or "us-east-1"
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(**kwargs)
        except ClientError as exc:
            if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise BlobError(f"cannot create bucket {self.bucket}: {_code(exc)}") from None
        except BotoCoreError as exc:
            raise BlobError(f"cannot create bucket {self.bucket}: {exc}") from None

    def _put(self, object_key: str, data: bytes) -> None:
        self.ensure_bucket()
        try:
            self.client.put_object(Bucket=self.bucket, Key=object_key, Body=data)
        except (ClientError, BotoCoreError) as exc:
            raise BlobError(f"cannot write s3://{self.bucket}/{object_key}: {_describe(exc)}") from None

    def _get(self, object_key: str, what: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=object_key)
            body = response["Body"]
            try:
                data: bytes = body.read()
            finally:
                body.close()
            return data
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                raise BlobNotFound(f"{what} does not exist") from None
            raise BlobError(f"cannot read {what}: {_describe(exc)}") from None
        except BotoCoreError as exc:
            raise BlobError(f"cannot read {what}: {_describe(exc)}") from None

    def _unless_missing(self, verb: str, object_key: str, call: Callable[[], object]) -> bool:
        """Run one S3 call on ``object_key``: True when it succeeded, False when the object is not
        there; any other failure is a ``BlobError`` saying it could not ``verb`` the object."""
        try:
            call()
            return True
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                return False
            raise BlobError(f"cannot {verb} s3://{self.bucket}/{object_key}: {_describe(exc)}") from None
        except BotoCoreError as exc:
            raise BlobError(f"cannot {verb} s3://{self.bucket}/{object_key}: {_describe(exc)}") from None

    def _exists(self, object_key: str) -> bool:
        return self._unless_missing(
            "check", object_key, lambda: self.client.head_object(Bucket=self.bucket, Key=object_key)
        )

    def _delete(self, object_key: str) -> None:
        self._unless_missing(
            "delete", object_key, lambda: self.client.delete_object(Bucket=self.bucket, Key=object_key)
        )

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        object_key = self.key_for(key)
        self.ensure_bucket()
        if not self._exists(object_key) or not self._touch(object_key):
            self._put(object_key, data)
        return key

    def _touch(self, object_key: str) -> bool:
        """Copy the object onto itself (its last-modified time becomes now); False if it is gone."""
        return self._unless_missing(
            "write",
            object_key,
            lambda: self.client.copy_object(
                Bucket=self.bucket,
                Key=object_key,
                CopySource={"Bucket": self.bucket, "Key": object_key},
                MetadataDirective="REPLACE",
            ),
        )

    def get(self, key: str) -> bytes:
        return self._get(self.key_for(key), f"blob {key}")

    def exists(self, key: str) -> bool:
        return self._exists(self.key_for(key))

    def delete(self, key: str) -> None:
        self._delete(self.key_for(key))

    def put_named(self, name: str, data: bytes) -> str:
        self._put(self.named_key(name), data)
        return name

    def get_named(self, name: str) -> bytes:
        return self._get(self.named_key(name), f"object {name!r}")

    def exists_named(self, name: str) -> bool:
        return self._exists(self.named_key(name))

    def delete_named(self, name: str) -> None:
        self._delete(self.named_key(name))

    # -- for the collector ------------------------------------------------------------------

    def list_blobs(self) -> Iterator[StoredObject]:
        for found in self._list(self._object_key("blobs") + "/"):
            if "/" not in found.key:
                yield found

    def list_named(self) -> Iterator[StoredObject]:
        yield from self._list(self._object_key("named") + "/")

    def collect(self, key: str, written_before: float) -> int | None:
        return self._collect(self.key_for(key), written_before)

    def collect_named(self, name: str, written_before: float) -> int | None:
        return self._collect(self.named_key(name), written_before)

    def collect_leftovers(self, written_before: float) -> tuple[int, int]:
        return 0, 0  # an S3 write is all or nothing

    def free_bytes(self) -> int | None:
        return None

    def _list(self, prefix: str) -> Iterator[StoredObject]:
        self.ensure_bucket()
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    modified = item["LastModified"].timestamp()
                    yield StoredObject(item["Key"][len(prefix) :], int(item.get("Size", 0)), modified)
        except (ClientError, BotoCoreError) as exc:
            raise BlobError(f"cannot list s3://{self.bucket}/{prefix}: {_describe(exc)}") from None

    def _collect(self, object_key: str, written_before: float) -> int | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=object_key)
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                return None
            raise BlobError(f"cannot check s3://{self.bucket}/{object_key}: {_describe(exc)}") from None
        except BotoCoreError as exc:
            raise BlobError(f"cannot check s3://{self.bucket}/{object_key}: {_describe(exc)}") from None
        if head["LastModified"].timestamp() + S3_TIME_STEP_S >= written_before:
            return None  # written since (S3 keeps whole seconds: anything in the same second counts)
        self._delete(object_key)
        return int(head.get("ContentLength", 0))


def _code(exc: ClientError) -> str:
    return str(
        exc.response.get("Error", {}).get("Code", "")
        or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    )


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return _code(exc) or "request failed"
    return str(exc) or type(exc).__name__
