"""Content-addressed storage of the service's own copies of images, masks and model files.

``open_blob_store(url, s3_client)`` picks the implementation from the URL: ``file:///abs/folder``
(or a plain local path, relative to the working folder) gives a ``FileBlobStore``;
``s3://bucket/prefix`` gives an ``S3BlobStore`` that uses the boto3 client it is handed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from openlookout.blobs.base import BlobError, BlobNotFound, BlobStore, StoredObject
from openlookout.blobs.files import FileBlobStore
from openlookout.blobs.s3 import S3BlobStore

__all__ = [
    "BlobError",
    "BlobNotFound",
    "BlobStore",
    "FileBlobStore",
    "S3BlobStore",
    "StoredObject",
    "open_blob_store",
]


def open_blob_store(url: str, s3_client: Any = None) -> BlobStore:
    """The blob store for ``url``; ``BlobError`` for an unusable URL (an ``s3://`` one needs
    ``s3_client``)."""
    if not url:
        raise BlobError("the blob store URL is empty")
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise BlobError(f"{url!r} names no bucket (expected s3://bucket/prefix)")
        if s3_client is None:
            raise BlobError(f"{url!r} is an S3 location but no S3 client was given")
        return S3BlobStore(parts.netloc, parts.path, client=s3_client)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise BlobError(f"{url!r} names a remote host; file URLs must be local")
        return FileBlobStore(Path(unquote(parts.path)))
    if parts.scheme == "":
        return FileBlobStore(Path(url))
    raise BlobError(f"unsupported blob store URL {url!r} (use file:///folder or s3://bucket/prefix)")
