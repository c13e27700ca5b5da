"""``openlookout serve`` with and without credentials, and ``openlookout credentials create``."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from tests.cli.conftest import assert_one_line_error, invoke, start_serve
from tests.helpers.auth import A1, client_for, write_credentials

from openlookout.auth.credentials import AccessKey, read_credentials
from openlookout.cli.serve import settings_from_flags


def test_without_credentials_only_loopback_unless_insecure(tmp_path: Path) -> None:
    refused = invoke("serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path))
    line = assert_one_line_error(refused, "")
    assert "refusing to listen on 0.0.0.0 without authentication" in line and "--credentials-file" in line
    assert not (tmp_path / "openlookout.db").exists()


def test_a_bad_credentials_file_is_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "keys.csv"
    bad.write_text("id,secret\nAKIA,short\n")
    line = assert_one_line_error(
        invoke("serve", "--credentials-file", str(bad), "--data-dir", str(tmp_path)), ""
    )
    assert "access_key_id,secret_access_key,account_id" in line


def test_settings_from_the_environment() -> None:
    environ = {
        "OPENLOOKOUT_CREDENTIALS_FILE": "/etc/openlookout/keys.csv",
        "OPENLOOKOUT_S3_ALLOW": "111111111111=bucket-a/team/,222222222222=bucket-b",
        "OPENLOOKOUT_ALLOWED_HOSTS": "lookout.example.com",
        "OPENLOOKOUT_INSECURE_NO_AUTH": "false",
    }
    settings = settings_from_flags(environ, allowed_hosts=("other.example",))
    assert settings.credentials_file == "/etc/openlookout/keys.csv" and settings.authenticates
    assert settings.s3_allow == ("111111111111=bucket-a/team/", "222222222222=bucket-b")
    assert settings.allowed_hosts == ("other.example",)
    assert settings.insecure_no_auth is False


def test_credentials_create_appends_a_key_and_prints_it_once(tmp_path: Path) -> None:
    path = tmp_path / "keys.csv"
    first = invoke("credentials", "create", "--account", "123456789012", "--file", str(path))
    second = invoke("credentials", "create", "--account", "123456789012", "--file", str(path))
    assert first.exit_code == second.exit_code == 0
    keys = read_credentials(path)
    assert len(keys) == 2 and {k.account_id for k in keys.values()} == {"123456789012"}
    for key in keys.values():
        assert key.secret_access_key in first.stdout + second.stdout
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert_one_line_error(invoke("credentials", "create", "--account", "12", "--file", str(path)), "")


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="SIGHUP is a POSIX signal")
def test_a_served_credentials_file_is_reloaded_on_change_and_on_sighup(
    tmp_path: Path, dead_endpoint: str
) -> None:
    keys = write_credentials(tmp_path / "keys.csv", [A1])
    flags = ["--data-dir", str(tmp_path / "d"), "--credentials-file", str(keys)]
    process, unsigned = start_serve(dead_endpoint, *flags)
    try:
        assert unsigned.status_code == 403
        assert client_for(dead_endpoint, A1).list_projects()["Projects"] == []
        created = invoke("credentials", "create", "--account", "333333333333", "--file", str(keys))
        new_id = created.stdout.split("aws_access_key_id = ")[1].split()[0]
        new_secret = created.stdout.split("aws_secret_access_key = ")[1].split()[0]
        newcomer = client_for(dead_endpoint, AccessKey(new_id, new_secret, "333333333333"))
        time.sleep(1.1)  # the file is looked at again at most once a second
        assert newcomer.list_projects()["Projects"] == []
        keys.write_text(keys.read_text().replace(A1.access_key_id, "OLAKREPLACED00000001"))
        process.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert process.poll() is None, "SIGHUP must not stop the server"
        with pytest.raises(Exception, match="UnrecognizedClientException"):
            client_for(dead_endpoint, A1).list_projects()
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert "authentication: 1 access keys" in output
    assert A1.secret_access_key not in output and new_secret not in output
