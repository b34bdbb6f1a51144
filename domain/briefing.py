"""Drafting a workshop's briefing note from what the programme has done so far."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class EarlierWorkshop(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    region: str
    starts_at: datetime
    key_areas: list[str]
    winners: list[str]


class InitiativeLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    stage: str
    regions: list[str]
    # Whether an owner is assigned, not who: the draft is recorded in the workshop's
    # stream, where a name could never be erased.
    has_owner: bool
    status: str | None  # red, amber or green, from the latest progress report


def draft_briefing(
    programme: str,
    region: str,
    starts_at: datetime,
    earlier: list[EarlierWorkshop],
    initiatives: list[InitiativeLine],
) -> str:
    """A plain-text draft: the facilitator edits it before publishing."""
    lines = [
        f"Briefing for the {region} workshop of {programme}, {starts_at:%A %d %B %Y}.",
        "",
    ]
    lines += _earlier_section(earlier)
    lines += _initiative_section(initiatives)
    lines += [
        "On the day we brainstorm, group the ideas into key areas, sign up to one",
        "group, agree a project per group, pitch it in two minutes and vote.",
    ]
    return "\n".join(lines)


def _earlier_section(earlier: list[EarlierWorkshop]) -> list[str]:
    if not earlier:
        return ["This is the programme's first workshop.", ""]
    lines = ["What earlier workshops found:"]
    for w in sorted(earlier, key=lambda w: w.starts_at):
        lines.append(f"- {w.title} ({w.region}, {w.starts_at:%d %B %Y})")
        if w.key_areas:
            lines.append(f"  key areas: {'; '.join(w.key_areas)}")
        if w.winners:
            lines.append(f"  winning projects: {'; '.join(w.winners)}")
    return [*lines, ""]


def _initiative_section(initiatives: list[InitiativeLine]) -> list[str]:
    if not initiatives:
        return []
    lines = ["Initiatives carried forward so far:"]
    for i in sorted(initiatives, key=lambda i: i.title.lower()):
        owner = ", owner assigned" if i.has_owner else ", no owner yet"
        status = f", {i.status}" if i.status else ""
        lines.append(
            f"- {i.title}: {i.stage.replace('_', ' ')}{status}{owner} ({', '.join(i.regions)})"
        )
    return [*lines, ""]
