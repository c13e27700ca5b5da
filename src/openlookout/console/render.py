"""Small HTML helpers: escaping, the page layout and the one-line error banner."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from starlette.responses import HTMLResponse


def esc(value: object) -> str:
    """``value`` as text safe inside HTML element content and quoted attributes."""
    return escape(str(value), quote=True)


def url_part(value: str) -> str:
    """``value`` percent-encoded for one path segment."""
    return quote(value, safe="")


# The sections of a project, in the order its navigation bar shows them: (key, title, path suffix).
PROJECT_SECTIONS = (
    ("overview", "Datasets", ""),
    ("gallery", "Gallery", "/datasets/train/gallery"),
    ("types", "Anomaly types", "/anomaly-types"),
    ("models", "Models", "/models"),
    ("trials", "Trial detection", "/trials"),
)


def project_nav(name: str, current: str) -> str:
    """The navigation bar of project ``name`` with section ``current`` marked."""
    base = f"/projects/{url_part(name)}"
    marked = ' aria-current="page"'
    links = "".join(
        f'<a href="{esc(base + suffix)}"{marked if key == current else ""}>{esc(title)}</a>'
        for key, title, suffix in PROJECT_SECTIONS
    )
    home = '<a href="/">All projects</a>'
    return f'<nav class="project-nav">{home} / <strong>{esc(name)}</strong> {links}</nav>'


def page(
    title: str,
    body: str,
    *,
    error: str | None = None,
    status_code: int = 200,
    scripts: tuple[str, ...] = (),
    nav: str = "",
) -> HTMLResponse:
    """A whole console page around ``body``.

    ``error`` shows as a one-line banner; ``scripts`` are extra files of ``console/static`` the
    page loads after ``console.js`` and ``console.css`` (``.js`` or ``.css``); ``nav`` goes
    above the title (see ``project_nav``).
    """
    banner = f'<p class="error" role="alert">{esc(error)}</p>' if error else ""
    extra = "".join(
        f'\n<link rel="stylesheet" href="/console/static/{esc(s)}">'
        if s.endswith(".css")
        else f'\n<script src="/console/static/{esc(s)}" defer></script>'
        for s in scripts
    )
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{esc(title)} - OpenLookout</title>
<link rel="stylesheet" href="/console/static/console.css">
<script src="/console/static/console.js" defer></script>{extra}
</head><body>
<header><a href="/" class="brand">OpenLookout</a></header>
<main>{nav}<h1>{esc(title)}</h1>{banner}{body}</main>
</body></html>"""
    return HTMLResponse(html, status_code=status_code)


def when(timestamp: float | None) -> str:
    """A creation time as ``YYYY-MM-DD HH:MM`` UTC."""
    if timestamp is None:
        return ""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(float(timestamp), UTC).strftime("%Y-%m-%d %H:%M UTC")
