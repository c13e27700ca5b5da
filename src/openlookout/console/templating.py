"""The console's Jinja2 templates: one environment, autoescaping everything it renders.

``render`` answers a page (``templates/<name>``, laid out by ``base.html``); ``render_fragment``
gives the HTML of a fragment template for the JSON the page scripts swap in. Templates build
links with ``url_for(route_name, **path_params)`` (the path of a named console route, its
parameters percent-encoded) and ``with_query(path, params)``; they never assemble URLs by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from openlookout.console.signin import signed_in_user
from openlookout.errors import ServiceError

TEMPLATE_DIR = Path(__file__).parent / "templates"


@jinja2.pass_context
def _url_for(context: Mapping[str, Any], name: str, /, **path_params: Any) -> str:
    """The path of the console route called ``name`` (path parameters percent-encoded)."""
    request: Request = context["request"]
    encoded = {key: quote(str(value), safe="") for key, value in path_params.items()}
    return str(request.app.url_path_for(name, **encoded))


@jinja2.pass_context
def _static_url(context: Mapping[str, Any], file_name: str) -> str:
    """The path of a file of ``console/static``."""
    request: Request = context["request"]
    return str(request.app.url_path_for("console-static", path="/" + file_name))


def with_query(path: str, params: Mapping[str, Any]) -> str:
    """``path`` with the non-empty ``params`` as its query string."""
    kept = {key: value for key, value in params.items() if value not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def when(timestamp: float | None) -> str:
    """A time as ``YYYY-MM-DD HH:MM UTC`` (empty for none)."""
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(float(timestamp), UTC).strftime("%Y-%m-%d %H:%M UTC")


def percent(value: Any) -> str:
    """A [0, 1] metric as a percentage with one decimal; a dash when absent."""
    return "–" if value is None else f"{100.0 * float(value):.1f}%"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["url_for"] = _url_for
    env.globals["static_url"] = _static_url
    env.filters["with_query"] = with_query
    env.filters["when"] = when
    env.filters["percent"] = percent
    return env


TEMPLATES = Jinja2Templates(env=_environment())


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any],
    *,
    refused: ServiceError | None = None,
    status_code: int = 200,
) -> Response:
    """The page ``name`` rendered with ``context``; a refusal from the service shows as the page's
    error banner and sets its status code."""
    full = {"error": None, "assets": (), "user": signed_in_user(), **context}
    if refused is not None:
        full["error"], status_code = refused.message, refused.status
    return TEMPLATES.TemplateResponse(request, name, full, status_code=status_code)


def redirect(request: Request, route: str, fragment: str = "", **path_params: Any) -> RedirectResponse:
    """303 See Other to the console route ``route`` (after a form post)."""
    return RedirectResponse(request.url_for(route, **path_params).path + fragment, status_code=303)


def render_fragment(request: Request, name: str, context: Mapping[str, Any]) -> str:
    """The HTML of fragment template ``name`` (for JSON answers that pages swap in)."""
    return TEMPLATES.get_template(name).render({"request": request, "user": signed_in_user(), **context})
