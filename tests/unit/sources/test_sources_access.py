"""What one account's references reach: S3 grants, owned blobs, one message outside the local roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from openlookout.blobs.files import FileBlobStore
from openlookout.settings import Settings
from openlookout.sources.access import S3Grant, SourceAccess, SourceAccessDenied, parse_grants
from openlookout.sources.reader import SourceError, SourceReader, upload_ref

GRANTS = parse_grants(("111111111111=team-a", "222222222222=shared/b/", "222222222222=team-b"))


def test_grants_parse_and_cover_their_bucket_and_prefix() -> None:
    assert GRANTS[1] == S3Grant("222222222222", "shared", "b/")
    a = SourceAccess("111111111111", GRANTS, lambda _sha: False)
    b = SourceAccess("222222222222", GRANTS, lambda _sha: False)
    assert a.may_use("team-a", "any/key.png") and not a.may_use("team-b", "x.png")
    assert b.may_use("shared", "b/x.png") and not b.may_use("shared", "a/x.png")
    assert not a.may_use("shared", "b/x.png")
    assert SourceAccess("111111111111", None, lambda _sha: False).may_use("anything", "k")


@pytest.mark.parametrize("bad", ["team-a", "12=bucket", "111111111111=", "111111111111=Bad_Bucket"])
def test_malformed_grants_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="ACCOUNT=BUCKET"):
        parse_grants((bad,))


def test_a_bucket_not_granted_is_refused_before_any_s3_call(tmp_path: Path) -> None:
    # Nothing listens on port 9: a refusal that reached S3 would say so instead.
    reader = SourceReader(Settings(s3_endpoint_url="http://127.0.0.1:9"))
    a = SourceAccess("111111111111", GRANTS, lambda _sha: False)
    for call in (
        lambda: reader.read("s3://other-tenant/secret/img.png", access=a, max_bytes=10),
        lambda: reader.read("img.png", base="s3://other-tenant/m.manifest", access=a, max_bytes=10),
        lambda: reader.open_stream("s3://other-tenant/m.manifest", access=a, max_bytes=10),
        lambda: reader.list_images("s3://other-tenant/images/", access=a),
    ):
        with pytest.raises(SourceAccessDenied) as refused:
            call()
        assert refused.value.bucket == "other-tenant" and "other-tenant" in refused.value.reason


def test_an_upload_of_another_account_reads_like_one_never_stored(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    sha = blobs.put(b"account a's image")
    reader = SourceReader(Settings(), blobs=blobs)
    owner = SourceAccess("111111111111", None, lambda key: key == sha)
    stranger = SourceAccess("222222222222", None, lambda _key: False)
    ref = upload_ref(sha, "x.jpg")
    assert reader.read(ref, access=owner, max_bytes=100) == b"account a's image"
    never = upload_ref("0" * 64, "x.jpg")
    with pytest.raises(SourceError) as foreign:
        reader.read(ref, access=stranger, max_bytes=100)
    with pytest.raises(SourceError) as missing:
        reader.read(never, access=owner, max_bytes=100)
    assert foreign.value.reason == f"{ref} is not stored on this server"
    assert missing.value.reason == f"{never} is not stored on this server"


def test_outside_the_local_roots_one_message_whether_or_not_the_file_exists(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("x")
    (root / "link-out").symlink_to(tmp_path / "absent-target")
    reader = SourceReader(Settings(allow_local_roots=(root,)))
    anything = SourceAccess("111111111111", None, lambda _sha: True)
    reasons = []
    for path in (tmp_path / "secret.txt", tmp_path / "nonexistent", Path("/etc/passwd"), root / "link-out"):
        with pytest.raises(SourceError) as refused:
            reader.read(path.as_uri(), access=anything, max_bytes=100)
        reasons.append(refused.value.reason.replace(path.as_uri(), "<uri>"))
    assert set(reasons) == {"<uri> is outside the folders this server may read"}
