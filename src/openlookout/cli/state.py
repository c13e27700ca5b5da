"""What the global options give every command: where the server is and how to print."""

from __future__ import annotations

from dataclasses import dataclass, field

import typer

from openlookout.cli.api import ApiClient
from openlookout.cli.render import OutputFormat


@dataclass
class CliState:
    endpoint_url: str
    region: str
    output: OutputFormat
    _api: ApiClient | None = field(default=None, repr=False)

    @property
    def api(self) -> ApiClient:
        if self._api is None:
            self._api = ApiClient(self.endpoint_url, self.region)
        return self._api

    @property
    def json(self) -> bool:
        return self.output is OutputFormat.json

    def close(self) -> None:
        if self._api is not None:
            self._api.close()


def state_of(ctx: typer.Context) -> CliState:
    """The ``CliState`` the root callback stored on the context."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        raise RuntimeError("the CLI state is missing; commands must run under the openlookout app")
    return root.obj
