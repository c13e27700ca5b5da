"""The web console: server-rendered pages on the API server, built on the service layer."""

from openlookout.console.routes import console_routes

__all__ = ["console_routes"]
