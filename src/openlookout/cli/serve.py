"""``openlookout serve``: build the runtime from settings and serve the API with uvicorn."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any

import typer

from openlookout.cli.errors import CliError
from openlookout.cli.render import stderr
from openlookout.settings import Settings


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (loopback by default).")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="TCP port (default 8080).")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Folder for the database and image copies.")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL; default SQLite in the data folder.")
    ] = None,
    s3_endpoint_url: Annotated[
        str | None, typer.Option(help="S3-compatible endpoint for s3:// references.")
    ] = None,
    blob_url: Annotated[
        str | None, typer.Option(help="Where image copies live: file:// or s3://bucket/prefix.")
    ] = None,
    allow_local_root: Annotated[
        list[Path] | None, typer.Option(help="Folder that file:// references may read (repeatable).")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Background job worker threads.")] = None,
) -> None:
    """Run the OpenLookout server (settings: OPENLOOKOUT_* environment, then these flags)."""
    settings = settings_from_flags(
        host=host,
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        s3_endpoint_url=s3_endpoint_url,
        blob_url=blob_url,
        allow_local_roots=tuple(p.resolve() for p in allow_local_root) if allow_local_root else None,
        workers=workers,
    )
    run_server(settings)


def settings_from_flags(environ: dict[str, str] | None = None, **flags: Any) -> Settings:
    """``OPENLOOKOUT_*`` settings from ``environ`` (default: the process), then non-None flags."""
    return Settings.from_env(environ).with_overrides(**flags)


def run_server(settings: Settings) -> None:
    """Build the runtime, serve until interrupted, then close the runtime."""
    import uvicorn

    from openlookout.api.app import create_app
    from openlookout.runtime import StartupError, build_runtime, close_runtime
    from openlookout.web.connections import uvicorn_limits

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        runtime = build_runtime(settings)
    except StartupError as exc:
        raise CliError(str(exc)) from exc
    try:
        app = create_app(runtime)
        stderr.print(f"OpenLookout listening on http://{_url_host(settings.host)}:{settings.port}")
        stderr.print(f"data folder: {settings.data_dir.resolve()}")
        stderr.print(f"database: {_redacted(settings.resolved_database_url)}")
        if not _is_loopback(settings.host):
            stderr.print("warning: the API has no authentication and is reachable from other machines")
        limits = uvicorn_limits(
            header_timeout_s=settings.header_timeout_s, max_connections=settings.max_connections
        )
        config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info", **limits)
        uvicorn.Server(config).run()
    finally:
        close_runtime(runtime)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"
