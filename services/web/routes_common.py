"""Pages every role shares: signing in, joining a workshop, the start page, the live channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from domain.errors import DomainError
from domain.workshop import Workshop

from ..api.auth import check_programme, check_workshop
from ..api.context import Ctx, run
from ..api.feed_routes import SharedReading, follow
from ..api.models import JoinRequest
from ..api.problems import ProblemError
from ..api.routes_participants import join_workshop
from ..api.tokens import Role
from ..feed import FeedFilter
from .render import HERE, page
from .session import COOKIE, PageError, PageSignedIn, SignInNeeded, login_url

router = APIRouter(prefix="/ui", include_in_schema=False)
COOKIE_DAYS = 14
# How long the live channel waits for the read models to take in an event.
READ_MODELS_WAIT_SECONDS = 15.0


def install(api: FastAPI) -> None:
    """Static files, the error pages, and `/` leading to the pages."""
    api.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="static")

    @api.exception_handler(SignInNeeded)
    async def sign_in(request: Request, error: SignInNeeded) -> Response:
        return RedirectResponse(login_url(error.path), status_code=303)

    @api.exception_handler(PageError)
    async def page_error(request: Request, error: PageError) -> Response:
        return page(request, "error.html", status=error.status, message_key=error.message_key)

    @api.get("/", include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse("/ui", status_code=303)


def _signed_in(response: Response, token: str) -> Response:
    response.set_cookie(
        COOKIE, token, max_age=COOKIE_DAYS * 86400, httponly=True, samesite="strict", path="/"
    )
    return response


def _safe_next(next_path: str) -> str:
    """Only paths on this site, so the sign-in page cannot send anyone elsewhere."""
    if next_path.startswith("/ui") and not next_path.startswith("//"):
        return next_path
    return "/ui"


@router.get("/login")
async def login_page(request: Request, next: str = "/ui") -> Response:  # noqa: A002
    return page(request, "login.html", next=_safe_next(next))


@router.post("/login")
async def login(
    request: Request,
    token: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/ui",  # noqa: A002
) -> Response:
    # No CSRF check here: there is no session to ride on yet, and the token is the secret.
    token = token.strip()
    if request.app.state.tokens.caller(token) is None:
        return page(request, "login.html", status=401, next=_safe_next(next), bad=True)
    return _signed_in(RedirectResponse(_safe_next(next), status_code=303), token)


@router.get("/join")
async def join_page(request: Request, code: str = "") -> Response:
    return page(request, "join.html", code=code)


@router.post("/join")
async def join(
    request: Request,
    ctx: Ctx,
    code: Annotated[str, Form()],
    display_name: Annotated[str, Form()],
    organisation: Annotated[str, Form()] = "",
) -> Response:
    try:
        body = JoinRequest(code=code, display_name=display_name, organisation=organisation)
        joined = await join_workshop(ctx, body, uuid4())
    except ValidationError as error:
        first = error.errors()[0]
        message = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
        return page(request, "join.html", status=422, code=code, error=message)
    except DomainError as error:
        return page(request, "join.html", status=422, code=code, error=error.message)
    target = f"/ui/workshops/{joined.workshop_id}"
    return _signed_in(RedirectResponse(target, status_code=303), joined.token)


@router.post("/logout")
async def logout() -> Response:
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("")
async def home(request: Request, caller: PageSignedIn, ctx: Ctx) -> Response:
    """Each role's start: participants go straight to their workshop."""
    if caller.role == Role.PARTICIPANT and caller.workshops:
        return RedirectResponse(f"/ui/workshops/{next(iter(caller.workshops))}", 303)
    if caller.role == Role.SUBSCRIBER:
        raise PageError(403, "error.forbidden")
    from ..api.routes_workshops import _summaries

    workshops = await run(_summaries, ctx, caller) if caller.role != Role.SUBSCRIBER else []
    programmes = await run(_programmes, ctx, caller)
    return page(request, "home.html", caller=caller, workshops=workshops, programmes=programmes)


def _programmes(ctx: Ctx, caller: PageSignedIn) -> list[dict[str, object]]:
    from projections.pipeline import PipelineProjection, PipelineView

    if caller.role not in (Role.ADMIN, Role.MANAGER, Role.AUDITOR):
        return []
    view = ctx.view(PipelineView, PipelineProjection.name)
    found = []
    for programme in view.programmes():
        if caller.role == Role.MANAGER and programme.id not in caller.programmes:
            continue
        found.append({"id": programme.id, "name": programme.name})
    return found


async def live_scope(
    caller: PageSignedIn,
    ctx: Ctx,
    workshop: Annotated[UUID | None, Query()] = None,
    programme: Annotated[UUID | None, Query()] = None,
) -> FeedFilter:
    """What a live channel may carry: the workshop or programme the caller's token covers."""
    try:
        if workshop is not None:
            found: Workshop = await run(ctx.app.load, Workshop, workshop, "workshop")
            check_workshop(caller, found.id, found.programme_id)
            return FeedFilter(workshop_id=workshop)
        if programme is not None:
            check_programme(caller, programme)
            return FeedFilter(programme_id=programme)
    except (ProblemError, DomainError):
        raise PageError(403, "error.forbidden") from None
    if caller.role not in (Role.ADMIN, Role.AUDITOR):
        raise PageError(403, "error.forbidden")
    return FeedFilter()


@router.get("/live", response_class=EventSourceResponse)
async def live(
    request: Request, ctx: Ctx, where: Annotated[FeedFilter, Depends(live_scope)]
) -> AsyncIterator[ServerSentEvent]:
    """A page's live channel: one `changed` event per recorded event in its scope.

    It carries only the event's type: pages then re-read their own parts
    through their own authorised routes, so it reveals nothing a page could
    not already show.
    """
    after = ctx.app.max_position()
    read_models: SharedReading = request.app.state.read_models
    if await read_models.top() < after:
        # The page was drawn from read models behind the log: once they catch up,
        # have it re-read its parts (no event of the log would say so now).
        await read_models.reached(after, timeout=READ_MODELS_WAIT_SECONDS)
        yield ServerSentEvent(id=str(after), event="changed", data={"type": "caught-up"})
    async for event in follow(request.app.state.feed, after, where, request.is_disconnected):
        # Pages re-read their parts from the read models: say "changed" once they
        # hold the event, or a page re-reading too early would stay behind until
        # the next event (with no projector keeping them, say it anyway in the end).
        await read_models.reached(int(event.id or 0), timeout=READ_MODELS_WAIT_SECONDS)
        yield ServerSentEvent(id=event.id, event="changed", data={"type": event.event})
