"""Who may do what: the one place that decides.

Deny by default: an action not in `POLICY` is refused to everyone, and a
role not listed for an action is refused it. Scoped roles (programme
managers, facilitators, participants) are then held to their programmes and
workshops by `check_workshop` and `check_programme`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header, Request

from .problems import ProblemError
from .tokens import Caller, Role, TokenStore

__all__ = ["POLICY", "Caller", "Role", "check_programme", "check_workshop", "permit"]

A, M, F, P, AU, S = (
    Role.ADMIN,
    Role.MANAGER,
    Role.FACILITATOR,
    Role.PARTICIPANT,
    Role.AUDITOR,
    Role.SUBSCRIBER,
)
POLICY: dict[str, frozenset[Role]] = {
    "tokens.issue": frozenset({A}),
    "participants.erase": frozenset({A}),
    "owners.erase": frozenset({A}),
    "workshops.schedule": frozenset({A, M, F}),
    "workshops.read": frozenset({A, M, F, P, AU}),
    "workshops.run": frozenset({A, F}),
    "workshops.take_part": frozenset({P}),
    "ballots.read": frozenset({A, AU}),
    "programmes.launch": frozenset({A, M}),
    "programmes.read": frozenset({A, M, AU}),
    "programmes.manage": frozenset({A, M}),
    "audit.read": frozenset({A, AU}),
    "audit.checkpoint": frozenset({A, AU}),
    "feed.read": frozenset({A, AU, S}),
    "webhooks.manage": frozenset({A, S}),
    "webhooks.admin": frozenset({A}),
}
# Roles that see every programme and workshop (within what POLICY lets them do).
UNSCOPED = frozenset({A, AU})


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, "Unauthorized", detail, "Authorization")


def _forbidden(detail: str, field: str | None = None) -> ProblemError:
    return ProblemError(403, "Forbidden", detail, field)


def caller_of(store: TokenStore, authorization: str | None) -> Caller:
    if not authorization:
        raise _unauthorized("send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("send 'Authorization: Bearer <token>'")
    caller = store.caller(token.strip())
    if caller is None:
        raise _unauthorized("unknown or revoked token")
    return caller


def allowed(role: Role, action: str) -> bool:
    return role in POLICY.get(action, frozenset())


def permit(action: str) -> Callable[..., Caller]:
    """A dependency: the caller, if their role may do `action` (401/403 otherwise)."""
    if action not in POLICY:
        raise ValueError(f"no policy for action {action!r}")  # a programming error

    def dependency(
        request: Request,
        authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> Caller:
        caller = caller_of(request.app.state.tokens, authorization)
        if not allowed(caller.role, action):
            raise _forbidden(f"a {caller.role.value} may not do {action}")
        return caller

    dependency.__name__ = f"permit_{action.replace('.', '_')}"
    return dependency


def check_workshop(caller: Caller, workshop_id: UUID, programme_id: UUID | None) -> None:
    """Scoped roles act only on their own workshops (managers: their programmes')."""
    if caller.role in UNSCOPED:
        return
    if workshop_id in caller.workshops:
        return
    if caller.role == Role.MANAGER and programme_id in caller.programmes:
        return
    raise _forbidden("this workshop is outside your token's scope", "workshop_id")


def check_programme(caller: Caller, programme_id: UUID) -> None:
    if caller.role in UNSCOPED:
        return
    if caller.role == Role.MANAGER and programme_id in caller.programmes:
        return
    raise _forbidden("this programme is outside your token's scope", "programme_id")


def participant_of(caller: Caller) -> UUID:
    """Participants act only as themselves: the id comes from the token, never the body."""
    if caller.participant_id is None:
        raise _forbidden("only a participant's own token can do this")
    return caller.participant_id


# One type per action, for route signatures: `caller: RunWorkshops`.
IssueTokens = Annotated[Caller, Depends(permit("tokens.issue"))]
EraseParticipants = Annotated[Caller, Depends(permit("participants.erase"))]
EraseOwners = Annotated[Caller, Depends(permit("owners.erase"))]
ScheduleWorkshops = Annotated[Caller, Depends(permit("workshops.schedule"))]
ReadWorkshops = Annotated[Caller, Depends(permit("workshops.read"))]
RunWorkshops = Annotated[Caller, Depends(permit("workshops.run"))]
TakePart = Annotated[Caller, Depends(permit("workshops.take_part"))]
ReadBallots = Annotated[Caller, Depends(permit("ballots.read"))]
LaunchProgrammes = Annotated[Caller, Depends(permit("programmes.launch"))]
ReadProgrammes = Annotated[Caller, Depends(permit("programmes.read"))]
ManageProgrammes = Annotated[Caller, Depends(permit("programmes.manage"))]
ReadAudit = Annotated[Caller, Depends(permit("audit.read"))]
CheckpointAudit = Annotated[Caller, Depends(permit("audit.checkpoint"))]
ReadFeed = Annotated[Caller, Depends(permit("feed.read"))]
ManageWebhooks = Annotated[Caller, Depends(permit("webhooks.manage"))]
AdministerWebhooks = Annotated[Caller, Depends(permit("webhooks.admin"))]
