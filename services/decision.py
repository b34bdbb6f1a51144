"""The auditor's questions, answered from the log alone.

- `state_at`: a workshop's board as the room saw it at a past time or log
  position, folded from the log (`projections.time_travel`), never read
  from a stored view;
- `aggregate_at`: one aggregate as it was at a past time or position;
- `verify_decision`: the declared result recomputed from the raw ballots up
  to the recorded close of the vote, and compared field by field;
- `decision_record`: what happened, as JSON, Markdown or HTML: the agenda as
  it actually ran, who was eligible, the tally, the close position and the
  digest of the ballots counted.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic
from pydantic import BaseModel, ConfigDict

from domain.agenda import Criterion, VotingRules
from domain.ballot import Ballot
from domain.errors import UnknownId, WrongPhase
from domain.tally import BallotRecord, ProjectEntry, Result, tally
from domain.workshop import workshop_id
from projections.board import (
    BALLOT_CAST,
    CRITERIA_ADOPTED,
    HANDLED_TOPICS,
    JOINED,
    PHASE_CLOSED,
    PHASE_EXTENDED,
    PHASE_OPENED,
    PHASE_PAUSED,
    PHASE_RESUMED,
    PROJECT_PROPOSED,
    PROJECT_REVISED,
    RESULTS_DECLARED,
    SCHEDULED,
)
from projections.board_models import Board
from projections.time_travel import PositionedEvent, board_at, workshop_events

from .app import Workshops

PAGE = 1000
BALLOT_REVISED: type[Any] = vars(Ballot)["Revised"]
AUDIT_TOPICS: tuple[str, ...] = (*HANDLED_TOPICS, get_topic(BALLOT_REVISED))


# ----- reading the log ------------------------------------------------------------


def read_log(
    app: Workshops, topics: Sequence[str] = AUDIT_TOPICS, stop: int | None = None
) -> Iterator[PositionedEvent]:
    """The log's events (of `topics`; all when empty) in position order, up to `stop`."""
    start = 1
    while True:
        page = app.recorder.select_notifications(start, PAGE, stop=stop, topics=topics)
        for notification in page:
            yield notification.id, app.mapper.to_domain_event(notification)
        if len(page) < PAGE:
            return
        start = page[-1].id + 1


def resolve_workshop(ref: str | UUID) -> UUID:
    """A workshop by its id or its code."""
    if isinstance(ref, UUID):
        return ref
    try:
        return UUID(ref)
    except ValueError:
        return workshop_id(ref)


def workshop_log(app: Workshops, ref: str | UUID) -> tuple[UUID, list[PositionedEvent]]:
    """One workshop's events, from the log; UnknownId when it was never scheduled."""
    found = resolve_workshop(ref)
    events = workshop_events(found, read_log(app))
    if not events or not isinstance(events[0][1], SCHEDULED):
        raise UnknownId(f"no workshop {str(ref)!r}", "workshop")
    return found, events


# ----- time travel ------------------------------------------------------------------


def state_at(
    app: Workshops,
    ref: str | UUID,
    *,
    position: int | None = None,
    at: datetime | None = None,
) -> Board | None:
    """The board at a log position or a time; None if the workshop did not exist yet."""
    found, events = workshop_log(app, ref)
    return board_at(found, events, position=position, at=at)


def aggregate_at(
    app: Workshops,
    aggregate_id: UUID,
    *,
    position: int | None = None,
    at: datetime | None = None,
) -> Aggregate | None:
    """One aggregate as it was after its last event up to the cut-off (None: not yet)."""
    version: int | None = None
    for pos, event in read_log(app, topics=()):
        if event.originator_id != aggregate_id:
            continue
        if (position is not None and pos > position) or (at is not None and event.meta.at > at):
            break
        version = event.originator_version
    if version is None:
        return None
    found: Aggregate = app.repository.get(aggregate_id, version=version)
    return found


# ----- verifying a decision ------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class LateBallot(_Model):
    """A ballot event recorded after the vote closed: shown, never counted."""

    ballot_id: UUID
    participant_id: UUID
    position: int
    at: datetime
    event: Literal["cast", "revised"]
    actor: str


class DecisionCheck(_Model):
    workshop_id: UUID
    code: str
    verified: bool
    differences: list[str]
    close_position: int
    declared_position: int | None
    recomputed: Result
    declared: Result
    ignored_after_close: list[LateBallot]


class _Vote(_Model):
    """The facts of one vote, read from the log."""

    close_position: int
    closed_at: datetime
    declared_position: int | None
    declared_at: datetime | None
    declared: Result | None
    rules: VotingRules
    criteria_version: int | None
    board: Board  # the board at the close of the vote
    recomputed: Result
    late: list[LateBallot]


def _vote(workshop: UUID, events: list[PositionedEvent]) -> _Vote:
    close = next(
        ((p, e) for p, e in events if isinstance(e, PHASE_CLOSED) and e.kind == "vote"), None
    )
    if close is None:
        raise WrongPhase("the vote has not closed in this workshop", "workshop")
    close_position, close_event = close
    board = board_at(workshop, events, position=close_position)
    assert board is not None
    declared = next(((p, e) for p, e in events if isinstance(e, RESULTS_DECLARED)), None)
    criteria_version: int | None = None
    entries: dict[UUID, ProjectEntry] = {}
    voters: dict[UUID, UUID] = {}
    records: list[BallotRecord] = []
    late: list[LateBallot] = []
    for position, event in events:
        if isinstance(event, SCHEDULED):
            criteria_version = event.criteria_version
        elif isinstance(event, CRITERIA_ADOPTED) and position <= close_position:
            criteria_version = event.version
        if isinstance(event, PROJECT_PROPOSED | PROJECT_REVISED) and position <= close_position:
            entries[event.originator_id] = ProjectEntry(
                project_id=event.originator_id, title=event.title
            )
        if isinstance(event, BALLOT_CAST):
            voters[event.originator_id] = event.participant_id
        if isinstance(event, BALLOT_CAST | BALLOT_REVISED):
            record = BallotRecord(
                position=position,
                ballot_id=event.originator_id,
                participant_id=voters[event.originator_id],
                choices=event.choices,
            )
            if position <= close_position:
                records.append(record)
            else:
                late.append(
                    LateBallot(
                        ballot_id=record.ballot_id,
                        participant_id=record.participant_id,
                        position=position,
                        at=event.meta.at,
                        event="cast" if isinstance(event, BALLOT_CAST) else "revised",
                        actor=event.meta.actor,
                    )
                )
    recomputed = tally(board.voting, entries.values(), records, close_position)
    return _Vote(
        close_position=close_position,
        closed_at=close_event.meta.at,
        declared_position=declared[0] if declared else None,
        declared_at=declared[1].meta.at if declared else None,
        declared=Result.model_validate(declared[1].results) if declared else None,
        rules=board.voting,
        criteria_version=criteria_version,
        board=board,
        recomputed=recomputed,
        late=late,
    )


def verify_decision(
    app: Workshops, ref: str | UUID, declared: Result | None = None
) -> DecisionCheck:
    """Recompute the tally from the raw ballots and compare it with the declared result.

    `declared` replaces the recorded result (to check a copy someone handed
    over); by default the workshop's ResultsDeclared event is checked.
    """
    found, events = workshop_log(app, ref)
    return _check(found, events, declared)


def _check(
    found: UUID, events: list[PositionedEvent], declared: Result | None = None
) -> DecisionCheck:
    vote = _vote(found, events)
    claimed = declared or vote.declared
    if claimed is None:
        raise WrongPhase("no results have been declared in this workshop", "workshop")
    differences = compare_results(claimed, vote.recomputed)
    return DecisionCheck(
        workshop_id=found,
        code=vote.board.code,
        verified=not differences,
        differences=differences,
        close_position=vote.close_position,
        declared_position=vote.declared_position,
        recomputed=vote.recomputed,
        declared=claimed,
        ignored_after_close=vote.late,
    )


def compare_results(declared: Result, recomputed: Result) -> list[str]:
    """Every way the declared result differs from the recomputed one, one line each."""
    found: list[str] = []

    def differ(name: str, claimed: object, actual: object) -> None:
        if claimed != actual:
            found.append(f"{name}: declared {claimed}, recomputed {actual}")

    differ("method", declared.method, recomputed.method)
    differ("counted_up_to (close position)", declared.counted_up_to, recomputed.counted_up_to)
    differ("ballots_counted", declared.ballots_counted, recomputed.ballots_counted)
    differ("ballots_ignored", declared.ballots_ignored, recomputed.ballots_ignored)
    differ("digest", declared.digest, recomputed.digest)
    claimed_totals = {t.project_id: t for t in declared.totals}
    actual_totals = {t.project_id: t for t in recomputed.totals}
    for project in sorted(claimed_totals.keys() - actual_totals.keys(), key=str):
        found.append(f"totals: declared project {project} is not on the ballot paper")
    for project in sorted(actual_totals.keys() - claimed_totals.keys(), key=str):
        title = actual_totals[project].title
        found.append(f"totals: project {title!r} ({project}) is missing from the declaration")
    for project, actual in actual_totals.items():
        claimed = claimed_totals.get(project)
        if claimed is None:
            continue
        for field in ("title", "total", "supporters", "share"):
            differ(
                f"totals[{actual.title!r}].{field}",
                getattr(claimed, field),
                getattr(actual, field),
            )
    titles = {p: t.title for p, t in {**claimed_totals, **actual_totals}.items()}

    def ranking(result: Result) -> list[str]:
        return [
            f"{entry.rank}{'=' if entry.tied else ''} "
            + " / ".join(sorted(titles.get(p, str(p)) for p in entry.project_ids))
            + f" ({entry.total:g})"
            for entry in result.ranking
        ]

    claimed_ranking, actual_ranking = ranking(declared), ranking(recomputed)
    if claimed_ranking != actual_ranking:
        for n in range(max(len(claimed_ranking), len(actual_ranking))):
            claimed_line = claimed_ranking[n] if n < len(claimed_ranking) else "-"
            actual_line = actual_ranking[n] if n < len(actual_ranking) else "-"
            differ(f"ranking[{n + 1}]", claimed_line, actual_line)
    differ(
        "winners",
        sorted(titles.get(p, str(p)) for p in declared.winners),
        sorted(titles.get(p, str(p)) for p in recomputed.winners),
    )
    return found


# ----- the decision record -------------------------------------------------------------


class AgendaItem(_Model):
    index: int
    kind: str
    planned_minutes: float
    planned_start: datetime
    planned_end: datetime
    opened_at: datetime | None
    closed_at: datetime | None
    extensions: list[dict[str, Any]]  # {"minutes", "at"} each
    paused_minutes: float
    actual_minutes: float | None


class Voter(_Model):
    participant_id: UUID
    display_name: str
    organisation: str
    joined_at: datetime
    position: int
    ballot_counted: bool


class RankedProject(_Model):
    rank: int
    tied: bool
    project_id: UUID
    title: str
    total: float
    supporters: int
    share: float


class DecisionRecord(_Model):
    workshop_id: UUID
    code: str
    title: str
    region: str
    venue: str
    starts_at: datetime
    agenda: list[AgendaItem]
    eligible: list[Voter]
    counts: dict[str, int]
    method: str
    criteria_version: int | None
    criteria: list[Criterion]
    dots_budget: int | None
    closed_at: datetime
    close_position: int
    declared_at: datetime | None
    declared_position: int | None
    ranking: list[RankedProject]
    winners: list[str]
    digest: str
    verified: bool
    differences: list[str]
    ignored_after_close: list[LateBallot]
    # Filled by the audit chain (another part of `quickwins audit`): left empty here.
    checkpoint: dict[str, Any] | None = None
    signature: str | None = None


def decision_record(app: Workshops, ref: str | UUID) -> DecisionRecord:
    found, events = workshop_log(app, ref)
    vote = _vote(found, events)
    check = _check(found, events)
    result = check.recomputed
    counted = {  # who has a ballot recorded before the close
        e.participant_id
        for p, e in events
        if isinstance(e, BALLOT_CAST) and p <= vote.close_position
    }
    eligible = [
        Voter(
            participant_id=e.originator_id,
            display_name=e.display_name,
            organisation=e.organisation,
            joined_at=e.meta.at,
            position=p,
            ballot_counted=e.originator_id in counted,
        )
        for p, e in events
        if isinstance(e, JOINED) and p <= vote.close_position
    ]
    final = board_at(found, events)
    assert final is not None
    by_id = {t.project_id: t for t in result.totals}
    ranking = [
        RankedProject(
            rank=entry.rank,
            tied=entry.tied,
            project_id=pid,
            title=by_id[pid].title,
            total=by_id[pid].total,
            supporters=by_id[pid].supporters,
            share=by_id[pid].share,
        )
        for entry in result.ranking
        for pid in entry.project_ids
    ]
    return DecisionRecord(
        workshop_id=found,
        code=final.code,
        title=final.title,
        region=final.region,
        venue=final.venue,
        starts_at=final.starts_at,
        agenda=agenda_as_it_ran(final, events),
        eligible=eligible,
        counts={
            "participants": final.participants,
            "eligible_voters": len(eligible),
            "ideas": final.idea_count(),
            "key_areas": len(final.key_areas),
            "projects": len(final.projects),
            "ballots_counted": result.ballots_counted,
            "ballots_after_close": len({late.ballot_id for late in check.ignored_after_close}),
        },
        method=result.method,
        criteria_version=vote.criteria_version,
        criteria=list(vote.rules.criteria) if result.method == "scores" else [],
        dots_budget=vote.rules.dots_budget if result.method == "dots" else None,
        closed_at=vote.closed_at,
        close_position=vote.close_position,
        declared_at=vote.declared_at,
        declared_position=vote.declared_position,
        ranking=ranking,
        winners=[by_id[pid].title for pid in result.winners],
        digest=result.digest,
        verified=check.verified,
        differences=check.differences,
        ignored_after_close=check.ignored_after_close,
    )


def agenda_as_it_ran(board: Board, events: list[PositionedEvent]) -> list[AgendaItem]:
    rows: list[dict[str, Any]] = []
    start = board.starts_at
    for index, phase in enumerate(board.agenda.phases):
        end = start + timedelta(minutes=phase.minutes)
        rows.append(
            {
                "index": index,
                "kind": phase.kind.value,
                "planned_minutes": phase.minutes,
                "planned_start": start,
                "planned_end": end,
                "opened_at": None,
                "closed_at": None,
                "extensions": [],
                "paused_minutes": 0.0,
                "actual_minutes": None,
            }
        )
        start = end
    current: dict[str, Any] | None = None
    paused_at: datetime | None = None
    for _, event in events:
        if isinstance(event, PHASE_OPENED) and event.index < len(rows):
            current = rows[event.index]
            current["opened_at"] = event.meta.at
            paused_at = None
        elif current is None:
            continue
        elif isinstance(event, PHASE_CLOSED):
            current["closed_at"] = event.meta.at
        elif isinstance(event, PHASE_EXTENDED):
            current["extensions"].append({"minutes": event.minutes, "at": event.meta.at})
        elif isinstance(event, PHASE_PAUSED):
            paused_at = event.meta.at
        elif isinstance(event, PHASE_RESUMED) and paused_at is not None:
            current["paused_minutes"] += max(0.0, (event.meta.at - paused_at).total_seconds() / 60)
            paused_at = None
    for row in rows:
        if row["opened_at"] is not None and row["closed_at"] is not None:
            row["actual_minutes"] = round(
                (row["closed_at"] - row["opened_at"]).total_seconds() / 60, 3
            )
    return [AgendaItem.model_validate(row) for row in rows]


# ----- rendering ------------------------------------------------------------------------


def record_json(record: DecisionRecord) -> str:
    return record.model_dump_json(indent=2)


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="minutes") if value else "-"


def _sections(record: DecisionRecord) -> list[tuple[str, list[str], list[list[str]]]]:
    """The record's tables: (title, header, rows), shared by Markdown and HTML."""
    agenda = [
        [
            str(item.index),
            item.kind,
            f"{item.planned_minutes:g}",
            _when(item.planned_start),
            _when(item.opened_at),
            _when(item.closed_at),
            f"{item.actual_minutes:g}" if item.actual_minutes is not None else "-",
            ", ".join(f"+{x['minutes']:g} min at {_when(x['at'])}" for x in item.extensions) or "-",
            f"{item.paused_minutes:g}",
        ]
        for item in record.agenda
    ]
    ranking = [
        [
            f"{p.rank}{'=' if p.tied else ''}",
            p.title,
            f"{p.total:g}",
            str(p.supporters),
            f"{p.share:.0%}",
            str(p.project_id),
        ]
        for p in record.ranking
    ]
    eligible = [
        [v.display_name, v.organisation, _when(v.joined_at), "yes" if v.ballot_counted else "no"]
        for v in record.eligible
    ]
    late = [
        [str(b.position), _when(b.at), b.event, str(b.ballot_id), b.actor]
        for b in record.ignored_after_close
    ]
    sections = [
        (
            "Agenda as it ran",
            [
                "#",
                "phase",
                "planned min",
                "planned start",
                "opened",
                "closed",
                "actual min",
                "extensions",
                "paused min",
            ],
            agenda,
        ),
        ("Ranking", ["rank", "project", "total", "supporters", "share", "id"], ranking),
        ("Eligible voters", ["name", "organisation", "joined", "ballot counted"], eligible),
    ]
    if late:
        sections.append(
            (
                "Ballots recorded after the close (not counted)",
                ["position", "at", "event", "ballot", "actor"],
                late,
            )
        )
    return sections


def _facts(record: DecisionRecord) -> list[tuple[str, str]]:
    criteria = ", ".join(f"{c.name} (x{c.weight:g})" for c in record.criteria) or "-"
    return [
        ("workshop", f"{record.title} ({record.code}), {record.region}, {record.venue}"),
        ("starts at", _when(record.starts_at)),
        ("method", record.method),
        ("criteria version", str(record.criteria_version or "-")),
        ("criteria", criteria),
        *((("dots budget", str(record.dots_budget)),) if record.dots_budget else ()),
        *((k.replace("_", " "), str(v)) for k, v in record.counts.items()),
        ("vote closed", f"{_when(record.closed_at)} at log position {record.close_position}"),
        (
            "results declared",
            f"{_when(record.declared_at)} at log position {record.declared_position or '-'}",
        ),
        ("winners", ", ".join(record.winners) or "none"),
        ("digest of ballots counted", record.digest),
        (
            "verification",
            "verified" if record.verified else "DIFFERS: " + "; ".join(record.differences),
        ),
        ("checkpoint", str(record.checkpoint) if record.checkpoint else "(not yet attached)"),
        ("signature", record.signature or "(not yet attached)"),
    ]


def record_markdown(record: DecisionRecord) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [f"# Decision record: {record.title}", ""]
    lines += [f"- **{name}**: {cell(value)}" for name, value in _facts(record)]
    for title, header, rows in _sections(record):
        lines += ["", f"## {title}", ""]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def record_html(record: DecisionRecord) -> str:
    e = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Decision record: {e(record.title)}</title>",
        "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .5em}"
        "</style></head><body>",
        f"<h1>Decision record: {e(record.title)}</h1>",
        "<dl>",
    ]
    parts += [f"<dt>{e(name)}</dt><dd>{e(value)}</dd>" for name, value in _facts(record)]
    parts.append("</dl>")
    for title, header, rows in _sections(record):
        parts.append(f"<h2>{e(title)}</h2><table><tr>")
        parts += [f"<th>{e(h)}</th>" for h in header]
        parts.append("</tr>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{e(v)}</td>" for v in row) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


RENDERERS = {"json": record_json, "md": record_markdown, "html": record_html}
