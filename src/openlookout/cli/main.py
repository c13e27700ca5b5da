"""The ``openlookout`` command: ``serve`` plus thin client commands over the public API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openlookout.cli import credentials, datasets, models, projects
from openlookout.cli.detect import detect
from openlookout.cli.gc import gc
from openlookout.cli.guard import GuardedGroup
from openlookout.cli.render import OutputFormat
from openlookout.cli.serve import serve
from openlookout.cli.state import CliState

DEFAULT_ENDPOINT = "http://127.0.0.1:8080"

app = typer.Typer(
    cls=GuardedGroup,
    name="openlookout",
    help="OpenLookout: a self-hosted service with the Lookout for Vision API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(projects.app, name="projects")
app.add_typer(datasets.app, name="datasets")
app.add_typer(models.app, name="models")
app.add_typer(credentials.app, name="credentials")
app.command("detect")(detect)
app.command("serve")(serve)
app.command("gc")(gc)


@app.callback()
def main(
    ctx: typer.Context,
    endpoint_url: Annotated[
        str, typer.Option(envvar="OPENLOOKOUT_ENDPOINT_URL", help="Server to talk to.")
    ] = DEFAULT_ENDPOINT,
    region: Annotated[
        str, typer.Option(envvar="OPENLOOKOUT_REGION", help="Region of the signing scope.")
    ] = "us-east-1",
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="table or json.")
    ] = OutputFormat.table,
) -> None:
    """Global options shared by the client commands."""
    state = CliState(endpoint_url=endpoint_url, region=region, output=output)
    ctx.obj = state
    ctx.call_on_close(state.close)


@app.command("aws-data-path")
def aws_data_path() -> None:
    """Print the folder to put in AWS_DATA_PATH so the AWS CLI knows the lookoutvision API."""
    from openlookout.client import model_data_path

    print(Path(model_data_path()).resolve())
