"""SourceReader: resolving references, allowed roots, size caps, S3 reads and folder listings."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openlookout.blobs.files import FileBlobStore
from openlookout.settings import Settings
from openlookout.sources.access import SourceAccess
from openlookout.sources.reader import CappedStream, FoundImage, SourceError
from openlookout.sources.reader import SourceReader as ScopedReader

_bucket_numbers = itertools.count()
# The access of a server without credentials whose caller owns every blob: what these tests read.
ANYTHING = SourceAccess("000000000000", None, lambda _sha: True)


class SourceReader(ScopedReader):
    """The reader with ``ANYTHING`` as the access of every call (access rules: test_sources_access)."""

    def read(self, ref: str, *, access: SourceAccess = ANYTHING, **kwargs: Any) -> bytes:
        return super().read(ref, access=access, **kwargs)

    def open_stream(self, ref: str, *, access: SourceAccess = ANYTHING, **kwargs: Any) -> CappedStream:
        return super().open_stream(ref, access=access, **kwargs)

    def list_images(self, uri: str, *, access: SourceAccess = ANYTHING, **kwargs: Any) -> list[FoundImage]:
        return super().list_images(uri, access=access, **kwargs)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "allowed"
    (folder / "set" / "normal").mkdir(parents=True)
    (folder / "set" / "Anomaly" / "deep").mkdir(parents=True)
    (folder / "set" / "masks").mkdir()
    (folder / "set" / ".hidden").mkdir()
    for relative, content in {
        "set/normal/n1.png": b"n1",
        "set/normal/n0.JPG": b"n0",
        "set/Anomaly/a1.jpeg": b"a1",
        "set/Anomaly/deep/a2.png": b"a2",
        "set/masks/m1.png": b"m1",
        "set/loose.png": b"loose",
        "set/notes.txt": b"not an image",
        "set/.hidden/h.png": b"h",
        "set/normal/._n1.png": b"resource fork",
        "set/manifest.manifest": b"{}",
    }.items():
        (folder / relative).write_bytes(content)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.png").write_bytes(b"secret")
    return folder


@pytest.fixture
def reader(root: Path, moto_endpoint: str) -> SourceReader:
    return SourceReader(Settings(s3_endpoint_url=moto_endpoint, allow_local_roots=(root,)))


@pytest.fixture
def bucket(s3_client: Any) -> str:
    name = f"sources-{next(_bucket_numbers)}"
    s3_client.create_bucket(Bucket=name)
    return name


def failure(call: Any) -> str:
    with pytest.raises(SourceError) as info:
        call()
    return info.value.reason


# ---------------------------------------------------------------------------------- resolving


def test_resolve_relative_against_s3_manifest(reader: SourceReader) -> None:
    base = "s3://bucket/jobs/train.manifest"
    assert reader.resolve("img/a.png", base) == "s3://bucket/jobs/img/a.png"
    assert reader.resolve("../img/a.png", base) == "s3://bucket/img/a.png"
    assert reader.resolve("s3://other/x.png", base) == "s3://other/x.png"


def test_relative_s3_reference_cannot_leave_the_bucket(reader: SourceReader) -> None:
    assert "climbs out of bucket b" in failure(lambda: reader.resolve("../../x.png", "s3://b/one/m.manifest"))


def test_resolve_relative_against_local_manifest(reader: SourceReader, root: Path) -> None:
    base = (root / "set" / "manifest.manifest").as_uri()
    assert reader.resolve("normal/n1.png", base) == (root / "set" / "normal" / "n1.png").as_uri()
    assert reader.resolve("x.png", str(root / "set" / "m")) == (root / "set" / "x.png").as_uri()


def test_resolve_needs_a_base_for_relative_refs(reader: SourceReader) -> None:
    assert "needs the manifest's location" in failure(lambda: reader.resolve("a.png"))


@pytest.mark.parametrize(
    ("ref", "words"),
    [
        ("http://example.com/a.png", "unsupported scheme 'http'"),
        ("file://server/share/a.png", "names a remote host"),
        ("s3://", "names no bucket"),
        ("s3://bucket", "names a bucket but no object"),
        ("", "empty"),
        ("a\x00b", "NUL"),
    ],
)
def test_unusable_references(reader: SourceReader, ref: str, words: str) -> None:
    assert words in failure(lambda: reader.resolve(ref, "s3://b/m"))


def test_percent_encoded_file_uri(reader: SourceReader, root: Path) -> None:
    (root / "with space.png").write_bytes(b"sp")
    assert reader.read((root / "with space.png").as_uri(), max_bytes=10) == b"sp"


# ------------------------------------------------------------------------------- local reading


def test_read_file_uri_plain_path_and_relative(reader: SourceReader, root: Path) -> None:
    target = root / "set" / "normal" / "n1.png"
    assert reader.read(target.as_uri(), max_bytes=100) == b"n1"
    assert reader.read(str(target), max_bytes=100) == b"n1"
    assert reader.read("normal/n1.png", base=(root / "set" / "m.manifest").as_uri(), max_bytes=100) == b"n1"


def test_dot_dot_escape_is_refused(reader: SourceReader, root: Path) -> None:
    base = (root / "set" / "m.manifest").as_uri()
    reason = failure(lambda: reader.read("../../outside/secret.png", base=base, max_bytes=100))
    assert "outside the folders this server may read" in reason


def test_symlink_out_of_the_root_is_refused(reader: SourceReader, root: Path) -> None:
    (root / "link.png").symlink_to(root.parent / "outside" / "secret.png")
    reason = failure(lambda: reader.read((root / "link.png").as_uri(), max_bytes=100))
    assert "outside the folders this server may read" in reason


def test_symlinked_folder_out_of_the_root_is_refused(reader: SourceReader, root: Path) -> None:
    (root / "linkdir").symlink_to(root.parent / "outside")
    assert "outside" in failure(lambda: reader.read(str(root / "linkdir" / "secret.png"), max_bytes=100))


def test_symlink_inside_the_root_is_followed(reader: SourceReader, root: Path) -> None:
    (root / "alias.png").symlink_to(root / "set" / "loose.png")
    assert reader.read(str(root / "alias.png"), max_bytes=100) == b"loose"


def test_no_allowed_roots_means_no_local_reads(root: Path) -> None:
    reader = SourceReader(Settings())
    assert "no local folders are allowed" in failure(
        lambda: reader.read(str(root / "set" / "loose.png"), max_bytes=9)
    )


def test_missing_file(reader: SourceReader, root: Path) -> None:
    assert "does not exist" in failure(lambda: reader.read(str(root / "nope.png"), max_bytes=9))


def test_folder_is_not_a_file(reader: SourceReader, root: Path) -> None:
    assert "is a folder" in failure(lambda: reader.read(str(root / "set"), max_bytes=9))


def test_fifo_is_refused_without_blocking(reader: SourceReader, root: Path) -> None:
    os.mkfifo(root / "pipe.png")
    assert "not a regular file" in failure(lambda: reader.read(str(root / "pipe.png"), max_bytes=9))


def test_file_size_cap(reader: SourceReader, root: Path) -> None:
    path = root / "set" / "loose.png"  # 5 bytes
    assert reader.read(str(path), max_bytes=5) == b"loose"
    assert "5 bytes, more than the limit of 4 bytes" in failure(lambda: reader.read(str(path), max_bytes=4))


def test_version_id_is_only_for_s3(reader: SourceReader, root: Path) -> None:
    path = str(root / "set" / "loose.png")
    assert "only to s3://" in failure(lambda: reader.read(path, max_bytes=9, version_id="v1"))


# ---------------------------------------------------------------------------------- S3 reading


def test_s3_read_absolute_and_relative(reader: SourceReader, s3_client: Any, bucket: str) -> None:
    s3_client.put_object(Bucket=bucket, Key="data/img/a.png", Body=b"abc")
    assert reader.read(f"s3://{bucket}/data/img/a.png", max_bytes=3) == b"abc"
    assert reader.read("img/a.png", base=f"s3://{bucket}/data/train.manifest", max_bytes=3) == b"abc"


def test_s3_size_cap(reader: SourceReader, s3_client: Any, bucket: str) -> None:
    s3_client.put_object(Bucket=bucket, Key="big.png", Body=b"x" * 1000)
    reason = failure(lambda: reader.read(f"s3://{bucket}/big.png", max_bytes=999))
    assert "1000 bytes, more than the limit of 999 bytes" in reason


def test_s3_missing_object_and_bucket(reader: SourceReader, bucket: str) -> None:
    assert failure(lambda: reader.read(f"s3://{bucket}/none.png", max_bytes=9)) == (
        f"s3://{bucket}/none.png does not exist"
    )
    assert "bucket no-such-bucket-here does not exist" in failure(
        lambda: reader.read("s3://no-such-bucket-here/a.png", max_bytes=9)
    )


def test_s3_version_ids(reader: SourceReader, s3_client: Any, bucket: str) -> None:
    s3_client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3_client.put_object(Bucket=bucket, Key="m.manifest", Body=b"first")["VersionId"]
    s3_client.put_object(Bucket=bucket, Key="m.manifest", Body=b"second")
    uri = f"s3://{bucket}/m.manifest"
    assert reader.read(uri, max_bytes=10) == b"second"
    assert reader.read(uri, max_bytes=10, version_id=first) == b"first"
    assert "does not exist" in failure(
        lambda: reader.read(uri, max_bytes=10, version_id="nonexistentversion")
    )


def test_unreachable_endpoint_is_a_clean_error(root: Path) -> None:
    reader = SourceReader(Settings(s3_endpoint_url="http://127.0.0.1:9", allow_local_roots=(root,)))
    reason = failure(lambda: reader.read("s3://b/a.png", max_bytes=9))
    assert reason.startswith("s3://b/a.png cannot be read")


# ------------------------------------------------------------------------------------- listing


EXPECTED_LISTING = [
    ("Anomaly/a1.jpeg", "anomaly"),
    ("Anomaly/deep/a2.png", "anomaly"),
    ("loose.png", None),
    ("masks/m1.png", None),
    ("normal/n0.JPG", "normal"),
    ("normal/n1.png", "normal"),
]


def test_list_local_folder(reader: SourceReader, root: Path) -> None:
    found = reader.list_images((root / "set").as_uri())
    assert [(f.relative, f.label) for f in found] == EXPECTED_LISTING
    assert found[0] == FoundImage(
        uri=(root / "set" / "Anomaly" / "a1.jpeg").as_uri(), relative="Anomaly/a1.jpeg", label="anomaly"
    )
    assert [reader.read(f.uri, max_bytes=10) for f in found[:1]] == [b"a1"]
    assert reader.list_images(str(root / "set")) == found


def test_list_s3_prefix(reader: SourceReader, s3_client: Any, bucket: str, root: Path) -> None:
    for relative, _ in EXPECTED_LISTING:
        s3_client.put_object(Bucket=bucket, Key=f"set/{relative}", Body=b"x")
    for extra in (
        "set/notes.txt",
        "set/.hidden/h.png",
        "set/normal/",
        "setother/x.png",
        "set/normal/._n1.png",
    ):
        s3_client.put_object(Bucket=bucket, Key=extra, Body=b"x")
    for uri in (f"s3://{bucket}/set", f"s3://{bucket}/set/"):
        found = reader.list_images(uri)
        assert [(f.relative, f.label) for f in found] == EXPECTED_LISTING
        assert found[-1].uri == f"s3://{bucket}/set/normal/n1.png"


def test_listing_limit(reader: SourceReader, root: Path) -> None:
    assert "more than 3 images" in failure(lambda: reader.list_images(str(root / "set"), limit=3))


def test_listing_checks_roots_and_existence(reader: SourceReader, root: Path) -> None:
    assert "outside" in failure(lambda: reader.list_images(str(root.parent / "outside")))
    assert "not a folder" in failure(lambda: reader.list_images(str(root / "set" / "loose.png")))
    assert "does not exist" in failure(lambda: reader.list_images(str(root / "missing")))
    reason = failure(lambda: reader.list_images("s3://no-such-bucket-there/x"))
    assert (
        reason == "s3://no-such-bucket-there/x cannot be listed: bucket no-such-bucket-there does not exist"
    )


# ---------------------------------------------------------------------------------- robustness

_ref_text = st.text(alphabet=st.sampled_from(list("ab/.:%\\@?#~ s3filex\x00")), max_size=30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ref=_ref_text, base=st.one_of(st.none(), _ref_text, st.sampled_from(["s3://b/m.manifest", "/tmp/m"])))
def test_resolve_gives_a_uri_or_source_error(reader: SourceReader, ref: str, base: str | None) -> None:
    try:
        uri = reader.resolve(ref, base)
    except SourceError as exc:
        assert exc.reason
        return
    assert uri.startswith(("s3://", "file:///"))
    if uri.startswith("s3://"):
        bucket, _, key = uri[5:].partition("/")
        assert bucket and key and not key.startswith("../")


def test_symlink_loop_is_a_clean_error(reader: SourceReader, root: Path) -> None:
    (root / "loop1.png").symlink_to(root / "loop2.png")
    (root / "loop2.png").symlink_to(root / "loop1.png")
    assert "loop1.png" in failure(lambda: reader.read(str(root / "loop1.png"), max_bytes=9))


def test_broken_symlink_does_not_exist(reader: SourceReader, root: Path) -> None:
    (root / "dangling.png").symlink_to(root / "gone.png")
    assert "does not exist" in failure(lambda: reader.read(str(root / "dangling.png"), max_bytes=9))


# ------------------------------------------------------------------------------ upload references


def test_upload_references_read_from_the_attached_blob_store(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    key = blobs.put(b"uploaded bytes")
    reader = SourceReader(Settings(), blobs=blobs)
    ref = f"upload://{key}/part 7.png"
    assert reader.resolve(ref, "s3://b/m.manifest") == ref
    assert reader.read(ref, max_bytes=100) == b"uploaded bytes"
    assert "more than the limit of 5 bytes" in failure(lambda: reader.read(ref, max_bytes=5))
    missing = "upload://" + "0" * 64 + "/x.png"
    assert failure(lambda: reader.read(missing, max_bytes=100)) == f"{missing} is not stored on this server"
    assert "not a valid upload reference" in failure(lambda: reader.read("upload://abc/x.png", max_bytes=100))
    assert "only to s3://" in failure(lambda: reader.read(ref, max_bytes=100, version_id="v"))


def test_upload_references_need_a_blob_store() -> None:
    ref = "upload://" + "a" * 64 + "/x.png"
    assert "no blob store" in failure(lambda: SourceReader(Settings()).read(ref, max_bytes=100))


def test_open_stream_reads_lines_within_the_limit(tmp_path: Path) -> None:
    from openlookout.sources.streams import CappedStream

    root = tmp_path / "root"
    root.mkdir()
    (root / "m.txt").write_bytes(b"one\ntwo two\n" + b"x" * 100 + b"\nlast")
    reader = SourceReader(Settings(allow_local_roots=(root,)))
    with reader.open_stream((root / "m.txt").as_uri(), max_bytes=1000) as stream:
        assert isinstance(stream, CappedStream)
        assert stream.readline(50) == b"one\n"
        assert stream.readline(50) == b"two two\n"
        assert stream.readline(50) == b"x" * 50
        assert stream.readline(200) == b"x" * 50 + b"\n"
        assert stream.readline(50) == b"last"
        assert stream.readline(50) == b""
    with pytest.raises(SourceError, match="more than the limit of 10 bytes"):
        reader.open_stream((root / "m.txt").as_uri(), max_bytes=10)
    pieces = iter([b"a\nb", b"c\n", b"d" * 20])
    capped = CappedStream(
        lambda n: next(pieces, b""),
        max_bytes=10,
        too_large=lambda: SourceError("too large"),
        on_error=lambda exc: SourceError(str(exc)),
    )
    assert capped.readline() == b"a\n"
    assert capped.readline() == b"bc\n"
    with pytest.raises(SourceError, match="too large"):
        capped.readline()
