"""Who is using the console: the signed-in access key (with a credentials file) or the default account.

With keys, a person signs in with an access key id and its secret; the browser then holds a
session cookie (``openlookout_session``: signed, expiring, ``HttpOnly``, ``SameSite=Strict``,
``Secure`` when the request came over HTTPS) and every page acts as the key's account in the
server's default region. Without keys (the loopback default) the console acts as the default
account and there is nothing to sign in to.

``ConsoleAuth.caller(request)`` is the caller of a request (None: not signed in);
``acting_as(ctx)`` makes it the one ``calls.console_context()`` answers while a page runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from openlookout.auth.credentials import AccessKey, KeyStore
from openlookout.auth.sessions import SessionSigner, secret_matches
from openlookout.service.context import RequestContext
from openlookout.settings import Settings

COOKIE = "openlookout_session"
MAX_NEXT_CHARS = 2048


@dataclass(frozen=True)
class ConsoleUser:
    """The person a page is shown to: the caller, and the key they signed in with (None: no keys)."""

    ctx: RequestContext
    access_key_id: str | None


_CURRENT: ContextVar[ConsoleUser | None] = ContextVar("openlookout_console_user", default=None)


def current_user() -> ConsoleUser:
    """The user of the console request being served (see ``acting_as``)."""
    user = _CURRENT.get()
    if user is None:
        raise RuntimeError("no console request is being served in this context")
    return user


def signed_in_user() -> ConsoleUser | None:
    """The user of the console request being served, None outside one (the sign-in page)."""
    return _CURRENT.get()


@contextmanager
def acting_as(user: ConsoleUser) -> Iterator[None]:
    """Make ``user`` the console's user while the block runs."""
    token = _CURRENT.set(user)
    try:
        yield
    finally:
        _CURRENT.reset(token)


class ConsoleAuth:
    """Sign-in, sessions and the caller of console requests for one server."""

    def __init__(
        self, settings: Settings, keys: KeyStore | None, signer: SessionSigner | None = None
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.signer = signer or SessionSigner()

    @property
    def enabled(self) -> bool:
        return self.keys is not None

    def user(self, request: Request) -> ConsoleUser | None:
        """Who sent ``request``: the session's key, the default account without keys, or None."""
        if self.keys is None:
            ctx = RequestContext(self.settings.default_account_id, self.settings.default_region, "console")
            return ConsoleUser(ctx, None)
        session = self.signer.check(request.cookies.get(COOKIE, ""), self.keys)
        if session is None:
            return None
        return self._user_of(session.key)

    def sign_in(self, access_key_id: str, secret: str) -> AccessKey | None:
        """The key when ``secret`` is its secret; None otherwise (whichever of the two was wrong)."""
        if self.keys is None:
            return None
        key = self.keys.lookup(access_key_id.strip())
        if key is None or not secret_matches(key, secret):
            return None
        return key

    def start_session(self, request: Request, response: Response, key: AccessKey) -> Response:
        """``response`` setting the session cookie for ``key``."""
        response.set_cookie(
            COOKIE,
            self.signer.issue(key),
            max_age=int(self.signer.lifetime),
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    def end_session(self, request: Request, response: Response) -> Response:
        """``response`` deleting the session cookie."""
        response.delete_cookie(
            COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
        )
        return response

    def _user_of(self, key: AccessKey) -> ConsoleUser:
        ctx = RequestContext(key.account_id, self.settings.default_region, "console")
        return ConsoleUser(ctx, key.access_key_id)


def sign_in_needed(request: Request) -> Response:
    """The answer to a request without a session: the sign-in page for pages, 401 for scripts and
    404 for images (so an image's address says nothing about whether it exists)."""
    path = request.url.path
    if path.startswith("/console/thumbs/"):
        return PlainTextResponse("No such image.", status_code=404)
    if path.startswith("/console/api/") or "text/html" not in request.headers.get("accept", ""):
        return JSONResponse({"message": "Sign in to the console first."}, status_code=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    login = request.url_for("sign_in").path
    response = RedirectResponse(f"{login}?{urlencode({'next': target})}", status_code=303)
    response.headers["Cache-Control"] = "no-store"
    return response


def safe_next(value: str) -> str:
    """A local path to go to after signing in ("/" for anything else: no open redirects)."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > MAX_NEXT_CHARS:
        return "/"
    if any(ord(c) < 0x20 for c in value):
        return "/"
    return value
