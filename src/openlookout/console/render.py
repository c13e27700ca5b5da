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


def page(title: str, body: str, *, error: str | None = None, status_code: int = 200) -> HTMLResponse:
    """A whole console page around ``body``; ``error`` shows as a one-line banner."""
    banner = f'<p class="error" role="alert">{esc(error)}</p>' if error else ""
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{esc(title)} - OpenLookout</title>
<link rel="stylesheet" href="/console/static/console.css">
<script src="/console/static/console.js" defer></script>
</head><body>
<header><a href="/" class="brand">OpenLookout</a></header>
<main><h1>{esc(title)}</h1>{banner}{body}</main>
</body></html>"""
    return HTMLResponse(html, status_code=status_code)


def when(timestamp: float | None) -> str:
    """A creation time as ``YYYY-MM-DD HH:MM`` UTC."""
    if timestamp is None:
        return ""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(float(timestamp), UTC).strftime("%Y-%m-%d %H:%M UTC")
