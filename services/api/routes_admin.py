"""Administration: issuing tokens and erasing a participant's personal data."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from domain import commands as c

from .auth import EraseParticipants, IssueTokens
from .context import Correlation, Ctx, record, run
from .models import IssuedToken, Recorded, TokenRequest
from .problems import ProblemError
from .tokens import Role
from .webhook_routes import Store

router = APIRouter(tags=["admin"])
# Participants get their tokens by joining a workshop, never from an admin.
ISSUABLE = tuple(r for r in Role if r != Role.PARTICIPANT)


@router.post("/tokens", status_code=201, response_model=IssuedToken)
async def issue_token(body: TokenRequest, caller: IssueTokens, ctx: Ctx) -> IssuedToken:
    """Issue a token for a role, scoped to programmes or workshops where the role is scoped."""
    try:
        role = Role(body.role)
    except ValueError:
        role = None
    if role not in ISSUABLE:
        names = ", ".join(r.value for r in ISSUABLE)
        raise ProblemError(422, "Invalid input", f"role: one of {names}", "role")
    assert role is not None
    types = None if body.event_types is None else frozenset(body.event_types)
    _check_types(types)
    token, issued = await run(
        lambda: ctx.tokens.issue(
            role,
            body.name,
            programmes=frozenset(body.programmes),
            workshops=frozenset(body.workshops),
            event_types=types,
            allow_private_webhooks=body.allow_private_webhooks,
        )
    )
    return IssuedToken(token=token, token_id=issued.token_id, role=role.value)


def _check_types(types: frozenset[str] | None) -> None:
    if types is None:
        return
    from ..feed import EVENT_TYPES

    unknown = sorted(types - set(EVENT_TYPES))
    if unknown:
        raise ProblemError(
            422, "Invalid input", f"event_types: unknown type {unknown[0]!r}", "event_types"
        )


@router.post("/tokens/{token_id}/revoke", response_model=None, status_code=204)
async def revoke_token(token_id: UUID, caller: IssueTokens, ctx: Ctx, store: Store) -> None:
    """Revoke a token; the webhooks it registered stop too."""
    if not await run(ctx.tokens.revoke, token_id):
        raise ProblemError(404, "Not found", "no such active token", "token_id")
    for subscription in await run(store.subscriptions, token_id):
        await run(store.deactivate, subscription.id)


@router.post("/participants/{participant_id}/erase", response_model=Recorded)
async def erase_participant(
    participant_id: UUID, caller: EraseParticipants, ctx: Ctx, corr: Correlation
) -> Recorded:
    """Right to erasure: record it and delete the person's key (their name is gone for good)."""
    cmd = c.EraseParticipant(participant_id=participant_id)
    return await record(ctx.app.erase_participant, cmd, caller, corr)
