"""``openlookout serve``: settings precedence, a real start and stop, and start-up failures."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.cli.conftest import assert_one_line_error, invoke, start_serve

from openlookout.cli.serve import settings_from_flags


def test_flags_override_the_environment(tmp_path: Path) -> None:
    environ = {"OPENLOOKOUT_PORT": "9001", "OPENLOOKOUT_WORKERS": "3", "OPENLOOKOUT_DATA_DIR": "/srv/olk"}
    settings = settings_from_flags(environ, port=9100, data_dir=None, host=None)
    assert settings.port == 9100
    assert settings.workers == 3
    assert settings.data_dir == Path("/srv/olk")
    assert settings.host == "127.0.0.1"


def test_serve_starts_answers_and_stops_on_interrupt(tmp_path: Path, dead_endpoint: str) -> None:
    port = dead_endpoint.rsplit(":", 1)[1]
    data_dir = tmp_path / "data"
    process, response = start_serve(dead_endpoint, "--data-dir", str(data_dir))
    try:
        assert response.status_code == 200
        assert response.json() == {"Projects": []}
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    # uvicorn re-raises the interrupt after a clean shutdown: the shell's usual 130 for Ctrl-C.
    assert process.returncode in (0, 130, -signal.SIGINT), output
    assert "Finished server process" in output
    assert f"listening on http://127.0.0.1:{port}" in output
    assert str(data_dir.resolve()) in output
    assert "Traceback" not in output
    assert (data_dir / "openlookout.db").is_file()


def test_unusable_database_url_is_one_line_error(tmp_path: Path) -> None:
    result = invoke("serve", "--data-dir", str(tmp_path), "--database-url", "nosuchdb://x")
    line = assert_one_line_error(result, "")
    assert "nosuchdb://x" in line


def test_bad_flags_are_usage_errors() -> None:
    assert_one_line_error(invoke("serve", "--workers", "0"), "Invalid value", exit_code=2)
    assert_one_line_error(invoke("serve", "--port", "70000"), "Invalid value", exit_code=2)
