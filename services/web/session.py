"""Signing in to the pages: the bearer token in an HttpOnly cookie, forms guarded against CSRF.

The pages use the API's tokens, roles and policy (services.api.auth): the
cookie holds the same token a script would send as `Authorization: Bearer`.
Forms carry a CSRF token derived from the session token (double submit): a
page on another site can neither read it nor, with SameSite=Strict, send the
cookie at all.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from ..api.auth import allowed
from ..api.tokens import Caller

COOKIE = "qw_session"
FLASH = "qw_flash"
CSRF_FIELD = "csrf"


class SignInNeeded(Exception):
    """No session, or an unknown or revoked token: go to the sign-in page."""

    def __init__(self, path: str) -> None:
        self.path = path


class PageError(Exception):
    """Answer with the error page (403, 404...)."""

    def __init__(self, status: int, message_key: str) -> None:
        self.status = status
        self.message_key = message_key


def csrf_token(session_token: str) -> str:
    return hmac.new(b"quickwins-csrf", session_token.encode(), hashlib.sha256).hexdigest()[:40]


def session_token(request: Request) -> str | None:
    return request.cookies.get(COOKIE)


def current_caller(request: Request) -> Caller:
    token = session_token(request)
    caller = request.app.state.tokens.caller(token) if token else None
    if caller is None:
        raise SignInNeeded(request.url.path)
    return caller  # type: ignore[no-any-return]


def page_permit(action: str) -> Callable[..., Caller]:
    """A dependency: the signed-in caller, if their role may do `action` (error page if not)."""

    def dependency(request: Request) -> Caller:
        caller = current_caller(request)
        if not allowed(caller.role, action):
            raise PageError(403, "error.forbidden")
        return caller

    dependency.__name__ = f"page_permit_{action.replace('.', '_')}"
    return dependency


async def form_checked(request: Request) -> dict[str, str]:
    """The posted form, if its CSRF token matches the session's (403 otherwise)."""
    form = await request.form()
    token = session_token(request)
    sent = str(form.get(CSRF_FIELD, ""))
    if not token or not hmac.compare_digest(sent, csrf_token(token)):
        raise PageError(403, "form.csrf")
    return {k: str(v) for k, v in form.items() if k != CSRF_FIELD}


CheckedForm = Annotated[dict[str, str], Depends(form_checked)]


def login_url(path: str) -> str:
    return f"/ui/login?next={quote(path, safe='/')}"


# One type per page action, for route signatures (mirrors services.api.auth).
PageReadWorkshops = Annotated[Caller, Depends(page_permit("workshops.read"))]
PageRunWorkshops = Annotated[Caller, Depends(page_permit("workshops.run"))]
PageTakePart = Annotated[Caller, Depends(page_permit("workshops.take_part"))]
PageReadProgrammes = Annotated[Caller, Depends(page_permit("programmes.read"))]
PageReadAudit = Annotated[Caller, Depends(page_permit("audit.read"))]
PageSignedIn = Annotated[Caller, Depends(current_caller)]
