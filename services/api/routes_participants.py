"""What participants do: join with the workshop's code, then act only as themselves."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Path

from domain import commands as c
from domain.errors import NotAllowed
from domain.meta import Meta
from domain.workshop import Workshop, workshop_id

from .auth import TakePart, participant_of
from .context import ApiContext, Correlation, Ctx, meta_for, record, run
from .models import (
    BallotChoices,
    Created,
    IdeaText,
    Joined,
    JoinRequest,
    ProjectDraft,
    ProjectRevision,
    Recorded,
    SignUp,
)
from .routes_workshops import idea_in, in_scope, project_in
from .tokens import Role

router = APIRouter(tags=["participants"])
WorkshopId = Annotated[UUID, Path(description="the workshop's id")]


@router.post("/join", status_code=201, response_model=Joined)
async def join(body: JoinRequest, ctx: Ctx, corr: Correlation) -> Joined:
    """Join a workshop with its code and a display name; no token needed. Returns your token."""
    return await join_workshop(ctx, body, corr)


async def join_workshop(ctx: ApiContext, body: JoinRequest, corr: UUID) -> Joined:
    """Record the participant and issue their token (the API and the join page both do this)."""
    workshop: Workshop = await run(ctx.app.load, Workshop, workshop_id(body.code.strip()), "code")
    key = secrets.token_hex(16)  # this person's join key: random, so no name is in the id
    meta = Meta(
        actor="participant:self", at=datetime.now(UTC), correlation_id=corr, causation_id=uuid4()
    )
    cmd = c.JoinWorkshop(
        workshop_id=workshop.id,
        key=key,
        display_name=body.display_name,
        organisation=body.organisation,
    )
    participant = await run(ctx.app.join, cmd, meta)
    token, _ = await run(
        lambda: ctx.tokens.issue(
            Role.PARTICIPANT,
            f"participant {participant}",
            workshops=frozenset({workshop.id}),
            participant_id=participant,
        )
    )
    return Joined(token=token, participant_id=participant, workshop_id=workshop.id)


@router.post("/workshops/{workshop_id}/ideas", status_code=201, response_model=Created)
async def submit_idea(
    workshop_id: WorkshopId, body: IdeaText, caller: TakePart, ctx: Ctx, corr: Correlation
) -> Created:
    me = participant_of(caller)
    await in_scope(ctx, caller, workshop_id)
    idea_id = uuid4()
    cmd = c.SubmitIdea(workshop_id=workshop_id, idea_id=idea_id, author_id=me, text=body.text)
    position = await run(ctx.app.submit_idea, cmd, meta_for(caller, corr))
    return Created(id=idea_id, position=position)


@router.post("/workshops/{workshop_id}/ideas/{idea_id}/edit", response_model=Recorded)
async def edit_idea(
    workshop_id: WorkshopId,
    idea_id: UUID,
    body: IdeaText,
    caller: TakePart,
    ctx: Ctx,
    corr: Correlation,
) -> Recorded:
    """Edit your own idea while the brainstorm is open."""
    me = participant_of(caller)
    await in_scope(ctx, caller, workshop_id)
    await idea_in(ctx, workshop_id, idea_id)
    cmd = c.EditIdea(idea_id=idea_id, author_id=me, text=body.text)
    return await record(ctx.app.edit_idea, cmd, caller, corr)


@router.post("/workshops/{workshop_id}/ideas/{idea_id}/withdraw", response_model=Recorded)
async def withdraw_idea(
    workshop_id: WorkshopId, idea_id: UUID, caller: TakePart, ctx: Ctx, corr: Correlation
) -> Recorded:
    me = participant_of(caller)
    await in_scope(ctx, caller, workshop_id)
    await idea_in(ctx, workshop_id, idea_id)
    cmd = c.WithdrawIdea(idea_id=idea_id, author_id=me)
    return await record(ctx.app.withdraw_idea, cmd, caller, corr)


@router.post("/workshops/{workshop_id}/signup", response_model=Recorded)
async def sign_up(
    workshop_id: WorkshopId, body: SignUp, caller: TakePart, ctx: Ctx, corr: Correlation
) -> Recorded:
    """Sign up to one key area's group (full groups refuse with 409)."""
    me = participant_of(caller)
    await in_scope(ctx, caller, workshop_id)
    cmd = c.SignUpToGroup(workshop_id=workshop_id, participant_id=me, key_area_id=body.key_area_id)
    return await record(ctx.app.sign_up, cmd, caller, corr)


@router.post("/workshops/{workshop_id}/signup/switch", response_model=Recorded)
async def switch_group(
    workshop_id: WorkshopId, body: SignUp, caller: TakePart, ctx: Ctx, corr: Correlation
) -> Recorded:
    me = participant_of(caller)
    await in_scope(ctx, caller, workshop_id)
    cmd = c.SwitchGroup(workshop_id=workshop_id, participant_id=me, key_area_id=body.key_area_id)
    return await record(ctx.app.switch_group, cmd, caller, corr)


@router.post("/workshops/{workshop_id}/projects", status_code=201, response_model=Created)
async def propose_project(
    workshop_id: WorkshopId, body: ProjectDraft, caller: TakePart, ctx: Ctx, corr: Correlation
) -> Created:
    me = participant_of(caller)
    await in_scope(ctx, caller, workshop_id)
    project_id = uuid4()
    cmd = c.ProposeProject(
        workshop_id=workshop_id,
        project_id=project_id,
        key_area_id=body.key_area_id,
        title=body.title,
        summary=body.summary,
        idea_ids=body.idea_ids,
        proposer_ids=[me, *[p for p in body.co_proposer_ids if p != me]],
    )
    position = await run(ctx.app.propose_project, cmd, meta_for(caller, corr))
    return Created(id=project_id, position=position)


@router.post("/workshops/{workshop_id}/projects/{project_id}/revise", response_model=Recorded)
async def revise_project(
    workshop_id: WorkshopId,
    project_id: UUID,
    body: ProjectRevision,
    caller: TakePart,
    ctx: Ctx,
    corr: Correlation,
) -> Recorded:
    """Edit your group's project (any of its proposers may)."""
    me = participant_of(caller)
    await in_scope(ctx, caller, workshop_id)
    project = await project_in(ctx, workshop_id, project_id)
    if me not in project.proposer_ids:
        raise NotAllowed("only the project's proposers may revise it", "project_id")
    cmd = c.ReviseProject(
        project_id=project_id,
        title=body.title,
        summary=body.summary,
        idea_ids=body.idea_ids,
        proposer_ids=[me, *[p for p in body.co_proposer_ids if p != me]],
    )
    return await record(ctx.app.revise_project, cmd, caller, corr)


@router.post("/workshops/{workshop_id}/ballot", status_code=201, response_model=Recorded)
async def cast_ballot(
    workshop_id: WorkshopId, body: BallotChoices, caller: TakePart, ctx: Ctx, corr: Correlation
) -> Recorded:
    """Cast your ballot (written with others arriving at the same moment, in one commit)."""
    me = participant_of(caller)
    await in_scope(ctx, caller, workshop_id)
    cmd = c.CastBallot(workshop_id=workshop_id, participant_id=me, choices=body.choices)
    return await record(ctx.ballots.cast, cmd, caller, corr)


@router.post("/workshops/{workshop_id}/ballot/revise", response_model=Recorded)
async def revise_ballot(
    workshop_id: WorkshopId, body: BallotChoices, caller: TakePart, ctx: Ctx, corr: Correlation
) -> Recorded:
    """Change your ballot while the vote is open."""
    me = participant_of(caller)
    await in_scope(ctx, caller, workshop_id)
    cmd = c.ReviseBallot(workshop_id=workshop_id, participant_id=me, choices=body.choices)
    return await record(ctx.app.revise_ballot, cmd, caller, corr)
