"""Signing in to the console (``/console/login``) and out (``/console/logout``).

Only with a credentials file: the form takes an access key id and its secret access key; a right
pair starts a session (``signin.ConsoleAuth``) and goes on to the page first asked for. A wrong
pair, whichever half is wrong, gets the same sentence. Without a credentials file both addresses
lead to the projects page.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from openlookout.console.forms import first, parse_form
from openlookout.console.routing import Binder, PageRoute
from openlookout.console.signin import safe_next
from openlookout.console.templating import render
from openlookout.service.context import Runtime

WRONG_PAIR = "That access key id and secret access key do not match a key of this server."
MAX_FIELD_CHARS = 256


def routes(console: Binder) -> list[BaseRoute]:
    """The sign-in form, its post and signing out."""
    auth = console.auth

    def sign_in_page(runtime: Runtime, request: Request) -> Response:
        if not auth.enabled:
            return RedirectResponse("/", status_code=303)
        return _form(request, safe_next(request.query_params.get("next", "/")))

    def sign_in(runtime: Runtime, request: Request, body: bytes) -> Response:
        if not auth.enabled:
            return RedirectResponse("/", status_code=303)
        form = parse_form(body)
        target = safe_next(first(form, "next") or "/")
        key_id = first(form, "access_key_id")[:MAX_FIELD_CHARS]
        secret = (form.get("secret_access_key") or [""])[0][:MAX_FIELD_CHARS]
        key = auth.sign_in(key_id, secret)
        if key is None:
            return _form(request, target, error=WRONG_PAIR, key_id=key_id, status_code=403)
        return auth.start_session(request, RedirectResponse(target, status_code=303), key)

    def sign_out(runtime: Runtime, request: Request, body: bytes) -> Response:
        target = "/console/login" if auth.enabled else "/"
        return auth.end_session(request, RedirectResponse(target, status_code=303))

    return [
        PageRoute("/console/login", console.public_page(sign_in_page), methods=["GET"], name="sign_in"),
        PageRoute("/console/login", console.public_action(sign_in), methods=["POST"]),
        PageRoute("/console/logout", console.public_action(sign_out), methods=["POST"], name="sign_out"),
    ]


def _form(
    request: Request, target: str, *, error: str | None = None, key_id: str = "", status_code: int = 200
) -> Response:
    context = {"title": "Sign in", "next": target, "key_id": key_id, "error": error}
    response = render(request, "sign_in.html", context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response
