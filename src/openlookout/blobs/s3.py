"""``S3BlobStore``: blobs in a bucket of any S3-compatible endpoint (AWS, MinIO, moto, ...).

Layout: ``<prefix>/blobs/<sha256>`` and ``<prefix>/named/<name>``. The bucket is created on first
use when it does not exist. The store is handed its boto3 client (``sources.s3.make_s3_client``).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from openlookout.blobs.base import BlobError, BlobNotFound, check_key, check_name

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

    def _exists(self, object_key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=object_key)
            return True
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                return False
            raise BlobError(f"cannot check s3://{self.bucket}/{object_key}: {_describe(exc)}") from None
        except BotoCoreError as exc:
            raise BlobError(f"cannot check s3://{self.bucket}/{object_key}: {_describe(exc)}") from None

    def _delete(self, object_key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=object_key)
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                return
            raise BlobError(f"cannot delete s3://{self.bucket}/{object_key}: {_describe(exc)}") from None
        except BotoCoreError as exc:
            raise BlobError(f"cannot delete s3://{self.bucket}/{object_key}: {_describe(exc)}") from None

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        object_key = self.key_for(key)
        self.ensure_bucket()
        if not self._exists(object_key):
            self._put(object_key, data)
        return key

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


def _code(exc: ClientError) -> str:
    return str(
        exc.response.get("Error", {}).get("Code", "")
        or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    )


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return _code(exc) or "request failed"
    return str(exc) or type(exc).__name__
