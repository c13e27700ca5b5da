"""``openlookout serve``: build the runtime from settings and serve the API with uvicorn.

Exposure rules (docs/security.md): with ``--credentials-file`` every API call must be signed with
one of its keys and the console asks to sign in; the file is read again on SIGHUP or when it
changes. Without it the server answers anyone, so it refuses to listen on an address other than
loopback unless ``--insecure-no-auth`` is given (which it then says loudly).
"""

from __future__ import annotations

import ipaddress
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from openlookout.auth.credentials import CredentialsError, KeyStore
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
    credentials_file: Annotated[
        Path | None, typer.Option(help="CSV of access keys; requests must then be signed with one of them.")
    ] = None,
    insecure_no_auth: Annotated[
        bool | None,
        typer.Option(
            "--insecure-no-auth", help="Listen beyond loopback without credentials (anyone is anyone)."
        ),
    ] = None,
    allowed_host: Annotated[
        list[str] | None, typer.Option(help="Another host name clients use to reach the server (repeatable).")
    ] = None,
    s3_allow: Annotated[
        list[str] | None,
        typer.Option(
            help="ACCOUNT=BUCKET or ACCOUNT=BUCKET/PREFIX: S3 an account may read and write (repeatable)."
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(help="Where trainings and inference units run: local (default) or ray."),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(help="The Ray cluster for --engine ray: auto, ray://head:10001 or head:6379."),
    ] = None,
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
        credentials_file=str(credentials_file.resolve()) if credentials_file else None,
        insecure_no_auth=insecure_no_auth,
        allowed_hosts=tuple(allowed_host) if allowed_host else None,
        s3_allow=tuple(s3_allow) if s3_allow else None,
        engine=engine,
        ray_address=ray_address,
    )
    run_server(settings)


def settings_from_flags(environ: dict[str, str] | None = None, **flags: Any) -> Settings:
    """``OPENLOOKOUT_*`` settings from ``environ`` (default: the process), then non-None flags."""
    return Settings.from_env(environ).with_overrides(**flags)


def run_server(settings: Settings) -> None:
    """Build the runtime, serve until interrupted, then close the runtime."""
    import uvicorn

    from openlookout.api.app import create_app
    from openlookout.api.request_guard import allowed_host_names
    from openlookout.runtime import StartupError, build_runtime, close_runtime
    from openlookout.web.connections import uvicorn_limits

    check_exposure(settings)
    keys = load_keys(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        runtime = build_runtime(settings)
    except StartupError as exc:
        raise CliError(str(exc)) from exc
    try:
        app = create_app(runtime, keys=keys)
        stderr.print(f"OpenLookout listening on http://{_url_host(settings.host)}:{settings.port}")
        stderr.print(f"data folder: {settings.data_dir.resolve()}")
        stderr.print(f"database: {_redacted(settings.resolved_database_url)}")
        names = sorted(allowed_host_names(settings.host, settings.allowed_hosts))
        stderr.print(f"answering requests addressed to: {', '.join(names)} (more with --allowed-host)")
        if keys is not None:
            stderr.print(f"authentication: {len(keys)} access keys from {settings.credentials_file}")
            _reload_on_hangup(keys)
        elif not _is_loopback(settings.host):
            stderr.print(
                "WARNING: --insecure-no-auth: no authentication, and the server is reachable from other "
                "machines: anyone who can reach this port can read, change and delete every account's data"
            )
        limits = uvicorn_limits(
            header_timeout_s=settings.header_timeout_s, max_connections=settings.max_connections
        )
        config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info", **limits)
        uvicorn.Server(config).run()
    finally:
        close_runtime(runtime)


def check_exposure(settings: Settings) -> None:
    """Refuse to serve beyond loopback without credentials unless told to (``CliError``)."""
    if settings.authenticates or settings.insecure_no_auth or _is_loopback(settings.host):
        return
    raise CliError(
        f"refusing to listen on {settings.host} without authentication: give --credentials-file FILE "
        "(see docs/security.md), or --insecure-no-auth to let anyone who reaches the port act as any account"
    )


def load_keys(settings: Settings) -> KeyStore | None:
    """The keys of the credentials file (None without one); ``CliError`` when it cannot be used."""
    if not settings.authenticates:
        return None
    try:
        return KeyStore(Path(settings.credentials_file))
    except CredentialsError as exc:
        raise CliError(str(exc)) from exc


def _reload_on_hangup(keys: KeyStore) -> None:
    """Read the credentials file again on SIGHUP (``kill -HUP <pid>``)."""
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda _signum, _frame: keys.reload())


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
