"""Projects: proposed by a group during discussion and revised until pitches start."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.agenda import PhaseKind
from domain.errors import InvalidInput, UnknownId, WrongPhase
from domain.project import MAX_IDEAS, MAX_PROPOSERS, Project, propose
from domain.text import SUMMARY_MAX, TITLE_MAX
from domain.workshop import Workshop

from .builders import (
    advance_to,
    area_named,
    idea,
    meta,
    people,
    person,
    project,
    rejects,
    workshop_at,
)


def _discussing() -> Workshop:
    return workshop_at(PhaseKind.DISCUSSION, areas={"Cloud": None, "Hosting": None})


def test_a_group_proposes_a_project_during_discussion() -> None:
    workshop = _discussing()
    cloud = area_named(workshop, "Cloud")
    pat, sam = people(workshop, 2)
    one, two = idea(workshop, pat), idea(workshop, sam)
    act = meta(actor="pat")
    project_id = uuid4()
    proposed = propose(
        project_id,
        workshop,
        cloud,
        "  Regional CEO workshop ",
        " For chief executives ",
        [one, two, one],
        [pat, sam, pat],
        act,
    )
    [event] = proposed.collect_events()
    assert type(event).__name__ == "Proposed" and event.meta == act
    assert proposed.id == project_id
    assert (proposed.workshop_id, proposed.key_area_id) == (workshop.id, cloud)
    assert (proposed.title, proposed.summary) == ("Regional CEO workshop", "For chief executives")
    assert proposed.idea_ids == [one.id, two.id]  # distinct, in the order given
    assert proposed.proposer_ids == [pat.id, sam.id]


def test_project_text_limits() -> None:
    workshop = _discussing()
    cloud = area_named(workshop, "Cloud")
    pat = person(workshop)

    def propose_with(title: str, summary: str) -> Project:
        return propose(uuid4(), workshop, cloud, title, summary, [], [pat], meta())

    longest = propose_with("t" * TITLE_MAX, "s" * SUMMARY_MAX)
    assert (longest.title, longest.summary) == ("t" * TITLE_MAX, "s" * SUMMARY_MAX)
    assert propose_with("Title", " \n ").summary == ""
    for title in ("t" * (TITLE_MAX + 1), "", "  \t"):
        rejects(InvalidInput, "title", lambda t=title: propose_with(t, ""), workshop, pat)
    too_long = "s" * (SUMMARY_MAX + 1)
    rejects(InvalidInput, "summary", lambda: propose_with("Title", too_long), workshop, pat)


def test_a_project_needs_proposers_within_limits() -> None:
    workshop = _discussing()
    cloud = area_named(workshop, "Cloud")
    pat = person(workshop)

    def propose_with(ideas: list, proposers: list) -> Project:  # type: ignore[type-arg]
        return propose(uuid4(), workshop, cloud, "Title", "", ideas, proposers, meta())

    rejects(InvalidInput, "proposer_ids", lambda: propose_with([], []), workshop)
    crowd = people(workshop, MAX_PROPOSERS + 1)
    assert len(propose_with([], crowd[:MAX_PROPOSERS]).proposer_ids) == MAX_PROPOSERS
    rejects(InvalidInput, "proposer_ids", lambda: propose_with([], crowd), workshop)
    many = [idea(workshop, pat) for _ in range(MAX_IDEAS + 1)]
    assert len(propose_with(many[:MAX_IDEAS], [pat]).idea_ids) == MAX_IDEAS
    rejects(InvalidInput, "idea_ids", lambda: propose_with(many, [pat]), workshop)


def test_ideas_and_proposers_come_from_this_workshop() -> None:
    workshop, elsewhere = _discussing(), _discussing()
    cloud = area_named(workshop, "Cloud")
    pat, stranger = person(workshop), person(elsewhere)
    foreign_idea = idea(elsewhere, stranger)

    def propose_with(ideas: list, proposers: list) -> Project:  # type: ignore[type-arg]
        return propose(uuid4(), workshop, cloud, "Title", "", ideas, proposers, meta())

    rejects(UnknownId, "idea_ids", lambda: propose_with([foreign_idea], [pat]), workshop)
    rejects(UnknownId, "proposer_ids", lambda: propose_with([], [pat, stranger]), workshop)


def test_a_project_belongs_to_a_live_key_area() -> None:
    workshop = workshop_at(PhaseKind.GROUPING, areas={"Cloud": None, "Hosting": None})
    cloud, hosting = area_named(workshop, "Cloud"), area_named(workshop, "Hosting")
    workshop.merge_key_areas(hosting, cloud, meta())
    advance_to(workshop, PhaseKind.DISCUSSION)
    pat = person(workshop)

    def propose_to(area: object) -> Project:
        return propose(uuid4(), workshop, area, "Title", "", [], [pat], meta())  # type: ignore[arg-type]

    rejects(UnknownId, "key_area_id", lambda: propose_to(uuid4()), workshop)
    rejects(InvalidInput, "key_area_id", lambda: propose_to(hosting), workshop)


@pytest.mark.parametrize("kind", [PhaseKind.SIGNUP, PhaseKind.PITCHES, PhaseKind.VOTE])
def test_projects_are_proposed_only_during_discussion(kind: PhaseKind) -> None:
    workshop = workshop_at(kind, areas={"Cloud": None})
    pat = person(workshop)
    act = lambda: propose(  # noqa: E731
        uuid4(), workshop, area_named(workshop, "Cloud"), "T", "", [], [pat], meta()
    )
    rejects(WrongPhase, "phase", act, workshop)


# ----- revised --------------------------------------------------------------


def test_a_project_is_revised_during_discussion() -> None:
    workshop = _discussing()
    pat, sam = people(workshop, 2)
    one = idea(workshop, pat)
    ceo = project(workshop, area_named(workshop, "Cloud"), [pat])
    act = meta(actor="sam")
    ceo.revise(workshop, " CEO day ", "s" * SUMMARY_MAX, [one], [pat, sam], act)
    [revised] = ceo.collect_events()
    assert type(revised).__name__ == "Revised" and revised.meta == act
    assert (ceo.title, ceo.summary) == ("CEO day", "s" * SUMMARY_MAX)
    assert (ceo.idea_ids, ceo.proposer_ids) == ([one.id], [pat.id, sam.id])
    assert (revised.title, revised.idea_ids, revised.proposer_ids) == (
        "CEO day",
        [one.id],
        [pat.id, sam.id],
    )


def test_bad_revisions() -> None:
    workshop, elsewhere = _discussing(), _discussing()
    pat, stranger = person(workshop), person(elsewhere)
    ceo = project(workshop, area_named(workshop, "Cloud"), [pat])
    revise = ceo.revise
    rejects(UnknownId, "project_id", lambda: revise(elsewhere, "T", "", [], [pat], meta()), ceo)
    rejects(InvalidInput, "proposer_ids", lambda: revise(workshop, "T", "", [], [], meta()), ceo)
    rejects(
        UnknownId, "proposer_ids", lambda: revise(workshop, "T", "", [], [stranger], meta()), ceo
    )
    too_long = "t" * (TITLE_MAX + 1)
    rejects(InvalidInput, "title", lambda: revise(workshop, too_long, "", [], [pat], meta()), ceo)
    rejects(InvalidInput, "title", lambda: revise(workshop, " ", "", [], [pat], meta()), ceo)
    foreign = idea(elsewhere, stranger)
    rejects(UnknownId, "idea_ids", lambda: revise(workshop, "T", "", [foreign], [pat], meta()), ceo)


def test_no_revision_once_pitches_start() -> None:
    workshop = _discussing()
    pat = person(workshop)
    ceo = project(workshop, area_named(workshop, "Cloud"), [pat])
    advance_to(workshop, PhaseKind.PITCHES)
    act = lambda: ceo.revise(workshop, "Too late", "", [], [pat], meta())  # noqa: E731
    rejects(WrongPhase, "phase", act, ceo, workshop)
