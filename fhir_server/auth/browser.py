"""The sign-in pages' cookies and CSRF protection.

Two cookies, both HttpOnly, SameSite=Lax, path ``/oauth``, and Secure whenever the public base URL
is https (a browser would not send them back over plain http, used only in development):

- the *browser* cookie, a random id set on the first page: every form carries a token derived from
  it (double submit), and a pending authorization is bound to the browser that started it, so
  neither a forged form nor a sign-in request started elsewhere can be completed here;
- the *session* cookie (``sessions``): signed in once per shift.

A POST whose ``Origin`` header names another site is refused as well.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Final
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from fhir_server.auth import store
from fhir_server.auth.authorize import PageError
from fhir_server.settings import Settings

BROWSER_COOKIE: Final = "fhir_browser"
SESSION_COOKIE: Final = "fhir_session"
COOKIE_PATH: Final = "/oauth"
CSRF_FIELD: Final = "csrf"


def cookie_secure(settings: Settings) -> bool:
    return urlsplit(settings.base_url).scheme == "https"


def browser_id(request: Request) -> str | None:
    value = request.cookies.get(BROWSER_COOKIE)
    return value if value and 20 <= len(value) <= 100 else None


def new_browser_id() -> str:
    return secrets.token_urlsafe(32)


def browser_hash(browser: str) -> str:
    """What a pending request stores to know its browser again."""
    return store.secret_hash("browser:" + browser)


def csrf_token(browser: str) -> str:
    return store.secret_hash("csrf:" + browser)


def set_cookie(
    response: Response, name: str, value: str, settings: Settings, max_age: int | None = None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=cookie_secure(settings),
        httponly=True,
        samesite="lax",
    )


def clear_cookie(response: Response, name: str, settings: Settings) -> None:
    response.delete_cookie(
        name, path=COOKIE_PATH, secure=cookie_secure(settings), httponly=True, samesite="lax"
    )


def check_post(request: Request, form: dict[str, str], settings: Settings) -> str:
    """The browser id of a genuine form post from our own pages; raise ``PageError`` (403) otherwise."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and not _same_origin(origin, settings.base_url):
        raise PageError("This form was sent from another site. Start again from the app.", status=403)
    browser = browser_id(request)
    token = form.get(CSRF_FIELD, "")
    if browser is None or not hmac.compare_digest(csrf_token(browser), token):
        raise PageError(
            "This form has expired or was not sent by this browser. Start again from the app "
            "(cookies must be allowed for this site).",
            status=403,
        )
    return browser


def _same_origin(origin: str, base_url: str) -> bool:
    a, b = urlsplit(origin), urlsplit(base_url)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
