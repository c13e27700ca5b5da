"""``openlookout gc``: remove stored blobs nothing refers to any more (``service.blob_gc``).

It opens the same database and blob store as ``openlookout serve`` (``OPENLOOKOUT_*`` settings,
then these flags) and runs one collection; it is safe while a server runs on them. ``--dry-run``
reports what would be freed without removing anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openlookout.cli.errors import CliError
from openlookout.cli.render import stderr
from openlookout.settings import Settings


def gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would be freed; remove nothing.")
    ] = False,
    grace: Annotated[
        int | None,
        typer.Option(
            min=0, help="Seconds an unreferenced blob must be old (default: the gc_grace_s setting)."
        ),
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="The server's data folder.")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL; default SQLite in the data folder.")
    ] = None,
    blob_url: Annotated[
        str | None, typer.Option(help="Where image copies live: file:// or s3://bucket/prefix.")
    ] = None,
    s3_endpoint_url: Annotated[
        str | None, typer.Option(help="S3-compatible endpoint of an s3:// blob store.")
    ] = None,
) -> None:
    """Remove stored images, masks and model files that nothing refers to any more."""
    from openlookout.runtime import StartupError, collect_blobs

    settings = Settings.from_env().with_overrides(
        data_dir=data_dir, database_url=database_url, blob_url=blob_url, s3_endpoint_url=s3_endpoint_url
    )
    try:
        report = collect_blobs(settings, dry_run=dry_run, grace_s=grace)
    except StartupError as exc:
        raise CliError(str(exc)) from exc
    stderr.print(report.summary())
    print(
        f"freed_blobs={report.freed_blobs} freed_named={report.freed_named} freed_bytes={report.freed_bytes}"
    )
