"""``openlookout credentials create``: add an access key to a credentials file and show it once.

The file is the one ``openlookout serve --credentials-file`` reads (``--file``, else
``OPENLOOKOUT_CREDENTIALS_FILE``, else ``credentials.csv`` in the data folder). It is created with
mode 0600 when missing; a running server picks the new key up within a second (or on SIGHUP).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from openlookout.auth.credentials import CredentialsError, create_key
from openlookout.cli.errors import CliError
from openlookout.settings import Settings

app = typer.Typer(help="Access keys of a server's credentials file.", no_args_is_help=True)


def default_file(environ: dict[str, str] | None = None) -> Path:
    """``OPENLOOKOUT_CREDENTIALS_FILE``, else ``credentials.csv`` in the data folder."""
    settings = Settings.from_env(dict(os.environ) if environ is None else environ)
    return (
        Path(settings.credentials_file)
        if settings.credentials_file
        else settings.data_dir / "credentials.csv"
    )


@app.command("create")
def create(
    account: Annotated[str, typer.Option(help="The 12-digit account the key acts as.")],
    file: Annotated[Path | None, typer.Option(help="The credentials file (created if missing).")] = None,
) -> None:
    """Append a new random key pair for ACCOUNT and print it (the secret is shown only this once)."""
    path = file or default_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = create_key(path, account)
    except CredentialsError as exc:
        raise CliError(str(exc)) from exc
    except OSError as exc:
        raise CliError(f"{path}: cannot be written ({exc.strerror or type(exc).__name__})") from exc
    typer.echo(f"aws_access_key_id = {key.access_key_id}")
    typer.echo(f"aws_secret_access_key = {key.secret_access_key}")
    typer.echo(f"account = {key.account_id}")
    typer.echo(f"# added to {path.resolve()}; the secret is not shown again", err=True)
