"""Rendering pages: one Jinja2 environment (autoescaped), the strings, the session's CSRF token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from .i18n import t
from .session import FLASH, csrf_token, session_token

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["t"] = t
templates.env.autoescape = True  # every user-supplied text is escaped, whatever the file name


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a template with the frame's needs: the caller, CSRF token and any flash message."""
    token = session_token(request)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "csrf": csrf_token(token) if token else "",
            "flash": _flash(request),
            "fragment": request.headers.get("x-fragment") == "1",
            **context,
        },
        status_code=status,
    )
    if FLASH in request.cookies:
        response.delete_cookie(FLASH, path="/")
    return response


def back(url: str, *, error: str | None = None, notice: str | None = None) -> Response:
    """After a form: redirect (303) to `url`, carrying one message for the next page."""
    response = RedirectResponse(url, status_code=303)
    if error or notice:
        message = {"kind": "error" if error else "notice", "text": error or notice}
        response.set_cookie(
            FLASH,
            quote(json.dumps(message)),
            max_age=60,
            httponly=True,
            samesite="strict",
            path="/",
        )
    return response


def _flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH)
    if not raw:
        return None
    try:
        found = json.loads(unquote(raw))
    except ValueError:
        return None
    if not isinstance(found, dict):
        return None
    return {"kind": str(found.get("kind", "notice")), "text": str(found.get("text", ""))}
