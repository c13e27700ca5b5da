"""Reading the console's HTML forms (URL-encoded bodies) without extra dependencies."""

from __future__ import annotations

from urllib.parse import parse_qs

MAX_FORM_BYTES = 1024 * 1024

Form = dict[str, list[str]]


def parse_form(body: bytes) -> Form:
    """The submitted fields; each name maps to all its values in order (nothing for a huge body)."""
    if len(body) > MAX_FORM_BYTES:
        return {}
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)


def first(form: Form, name: str) -> str:
    """The first value of field ``name``, or an empty string."""
    values = form.get(name) or [""]
    return values[0].strip()
