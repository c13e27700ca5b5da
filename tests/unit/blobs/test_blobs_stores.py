"""FileBlobStore and S3BlobStore behave the same: content addressing, named objects, errors."""

from __future__ import annotations

import hashlib
import itertools
import threading
from pathlib import Path
from typing import Any

import pytest

from openlookout.blobs import BlobError, BlobNotFound, BlobStore, FileBlobStore, S3BlobStore, open_blob_store
from openlookout.sources.s3 import make_s3_client

_numbers = itertools.count()


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "file":
        return open_blob_store((tmp_path / "blobs").as_uri())
    endpoint = request.getfixturevalue("moto_endpoint")
    client = make_s3_client(endpoint, "eu-west-1")
    return open_blob_store(f"s3://blob-test-{next(_numbers)}/some/prefix", client)


def test_open_blob_store_picks_the_implementation(tmp_path: Path, moto_endpoint: str) -> None:
    assert isinstance(open_blob_store((tmp_path / "a").as_uri()), FileBlobStore)
    assert isinstance(open_blob_store(str(tmp_path / "b")), FileBlobStore)
    s3 = open_blob_store("s3://pick-test/p", make_s3_client(moto_endpoint, "us-east-1"))
    assert isinstance(s3, S3BlobStore) and (s3.bucket, s3.prefix) == ("pick-test", "p")
    assert isinstance(s3, BlobStore)


@pytest.mark.parametrize("url", ["", "http://x/y", "s3:///prefix", "file://remote/x"])
def test_open_blob_store_refuses_bad_urls(url: str) -> None:
    with pytest.raises(BlobError):
        open_blob_store(url, make_s3_client("", "us-east-1"))


def test_put_is_content_addressed_and_idempotent(store: BlobStore) -> None:
    data = b"some image bytes"
    key = store.put(data)
    assert key == hashlib.sha256(data).hexdigest()
    assert store.put(data) == key
    assert store.exists(key)
    assert store.get(key) == data


def test_missing_and_bad_keys(store: BlobStore) -> None:
    missing = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(missing)
    with pytest.raises(BlobNotFound):
        store.get(missing)
    for bad in ("../etc/passwd", "ABC", missing.upper(), missing[:-1]):
        with pytest.raises(BlobError):
            store.get(bad)


def test_delete(store: BlobStore) -> None:
    key = store.put(b"short-lived")
    store.delete(key)
    assert not store.exists(key)
    store.delete(key)  # deleting twice is fine


def test_named_objects(store: BlobStore) -> None:
    assert store.put_named("models/widgets/1/model.pt", b"weights") == "models/widgets/1/model.pt"
    assert store.get_named("models/widgets/1/model.pt") == b"weights"
    assert store.exists_named("models/widgets/1/model.pt")
    store.put_named("models/widgets/1/model.pt", b"weights v2")
    assert store.get_named("models/widgets/1/model.pt") == b"weights v2"
    store.delete_named("models/widgets/1/model.pt")
    assert not store.exists_named("models/widgets/1/model.pt")
    with pytest.raises(BlobNotFound):
        store.get_named("models/widgets/1/model.pt")


@pytest.mark.parametrize("name", ["../escape", "/abs/path", "a//b", "a/./b", "a\\b", "", ".hidden", "a/b/"])
def test_unsafe_names_are_refused(store: BlobStore, name: str) -> None:
    with pytest.raises(BlobError):
        store.put_named(name, b"x")


def test_concurrent_puts_of_the_same_bytes(store: BlobStore) -> None:
    data = b"raced" * 1000
    keys: list[str] = []
    threads = [threading.Thread(target=lambda: keys.append(store.put(data))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(keys) == {hashlib.sha256(data).hexdigest()}
    assert store.get(keys[0]) == data


def test_file_layout_and_no_leftover_temporaries(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    key = store.put(b"abc")
    assert (tmp_path / "blobs" / key[:2] / key[2:4] / key).read_bytes() == b"abc"
    store.put_named("exports/a.zip", b"zip")
    assert (tmp_path / "blobs" / "named" / "exports" / "a.zip").read_bytes() == b"zip"
    leftovers = [p for p in (tmp_path / "blobs").rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []


def test_s3_store_creates_its_bucket_and_uses_its_prefix(moto_endpoint: str, s3_client: Any) -> None:
    store = S3BlobStore("made-on-demand", "pre/fix/", client=make_s3_client(moto_endpoint, "us-east-1"))
    key = store.put(b"hello")
    listed = s3_client.list_objects_v2(Bucket="made-on-demand")["Contents"]
    assert [item["Key"] for item in listed] == [f"pre/fix/blobs/{key}"]


def test_s3_store_reports_an_unreachable_endpoint() -> None:
    store = S3BlobStore("b", "", client=make_s3_client("http://127.0.0.1:9", "us-east-1"))
    with pytest.raises(BlobError, match="cannot reach"):
        store.put(b"x")


def test_listing_and_collecting_respect_the_write_time(store: BlobStore) -> None:
    import time

    old_key = store.put(b"old and unreferenced")
    store.put_named("cache/a.bin", b"named")
    listed = {found.key: found for found in store.list_blobs()}
    assert old_key in listed and listed[old_key].size == len(b"old and unreferenced")
    assert [found.key for found in store.list_named()] == ["cache/a.bin"]
    cutoff = time.time() + 5  # everything was written before this
    assert store.collect(old_key, cutoff) == len(b"old and unreferenced")
    assert not store.exists(old_key)
    assert store.collect(old_key, cutoff) is None  # already gone
    assert store.collect_named("cache/a.bin", cutoff) == len(b"named")
    assert list(store.list_named()) == []


def test_a_blob_put_again_after_the_cutoff_is_not_collected(store: BlobStore) -> None:
    import time

    key = store.put(b"about to be imported again")
    listed_at = time.time()
    time.sleep(1.1)  # S3 keeps last-modified times in whole seconds
    cutoff = time.time()
    store.put(b"about to be imported again")  # an import puts the same bytes: written now
    assert cutoff > listed_at
    assert store.collect(key, cutoff) is None
    assert store.get(key) == b"about to be imported again"


def test_free_bytes_and_leftovers(store: BlobStore, tmp_path: Path) -> None:
    import time

    if isinstance(store, FileBlobStore):
        free = store.free_bytes()
        assert free is not None and free > 0
        partial = store.root / "ab" / ".tmp-x.part"
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(b"12345")
        parked = store.root / ".collected" / "abc.123"
        parked.parent.mkdir(exist_ok=True)
        parked.write_bytes(b"12")  # parked by a collection that a kill -9 interrupted
        assert store.collect_leftovers(time.time() + 5) == (2, 7)
        assert not partial.exists() and not parked.exists()
    else:
        assert store.free_bytes() is None
        assert store.collect_leftovers(time.time()) == (0, 0)
