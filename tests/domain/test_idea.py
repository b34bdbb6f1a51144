"""Ideas: submitted, edited and withdrawn by their author while the brainstorm is open,
grouped into a key area, merged into another idea as a duplicate."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

import pytest

from domain.agenda import PhaseKind
from domain.errors import AlreadyExists, InvalidInput, NotAllowed, UnknownId, WrongPhase
from domain.idea import Idea, submit
from domain.text import IDEA_MAX
from domain.workshop import Workshop

from .builders import (
    advance_to,
    area_named,
    idea,
    meta,
    new_programme,
    person,
    programme_workshop,
    rejects,
    settled,
    workshop_at,
)

# ----- submitted ------------------------------------------------------------


def test_an_idea_is_submitted_during_the_brainstorm() -> None:
    workshop = workshop_at(PhaseKind.BRAINSTORM)
    pat = person(workshop, "pat")
    act = meta(actor="pat", minutes=12)
    idea_id = uuid4()
    submitted = submit(idea_id, workshop, pat, "  A regional forum for CIOs \n", act)
    [event] = submitted.collect_events()
    assert type(event).__name__ == "Submitted" and event.meta == act
    assert submitted.id == idea_id
    assert (submitted.workshop_id, submitted.author_id) == (workshop.id, pat.id)
    assert submitted.text == "A regional forum for CIOs"
    assert submitted.active and submitted.key_area_id is None


@pytest.mark.parametrize("kind", [None, PhaseKind.BRIEFING, PhaseKind.GROUPING, PhaseKind.VOTE])
def test_ideas_are_submitted_only_during_the_brainstorm(kind: PhaseKind | None) -> None:
    workshop = workshop_at(kind)
    pat = person(workshop)
    act = lambda: submit(uuid4(), workshop, pat, "late idea", meta())  # noqa: E731
    rejects(WrongPhase, "phase", act, workshop, pat)


def test_between_phases_no_idea_is_submitted() -> None:
    workshop = workshop_at(PhaseKind.BRAINSTORM)
    pat = person(workshop)
    workshop.close_phase(workshop.phase_index, meta())
    settled(workshop)
    rejects(WrongPhase, "phase", lambda: submit(uuid4(), workshop, pat, "x", meta()), workshop)


def test_the_author_must_have_joined_this_workshop() -> None:
    workshop, elsewhere = workshop_at(PhaseKind.BRAINSTORM), workshop_at(PhaseKind.BRAINSTORM)
    stranger = person(elsewhere)
    act = lambda: submit(uuid4(), workshop, stranger, "idea", meta())  # noqa: E731
    rejects(UnknownId, "author_id", act, workshop, stranger)


def test_idea_text_limits() -> None:
    workshop = workshop_at(PhaseKind.BRAINSTORM)
    pat = person(workshop)
    assert submit(uuid4(), workshop, pat, "i" * IDEA_MAX, meta()).text == "i" * IDEA_MAX
    for bad in ("i" * (IDEA_MAX + 1), "", "   \n\t"):
        act = lambda bad=bad: submit(uuid4(), workshop, pat, bad, meta())  # noqa: E731
        rejects(InvalidInput, "text", act, workshop, pat)


# ----- edited and withdrawn -------------------------------------------------


def test_the_author_edits_an_idea_during_the_brainstorm() -> None:
    workshop = workshop_at(PhaseKind.BRAINSTORM)
    pat = person(workshop)
    mine = idea(workshop, pat)
    act = meta(actor="pat")
    mine.edit(workshop, pat.id, " Run a CIO forum twice a year ", act)
    [edited] = mine.collect_events()
    assert type(edited).__name__ == "Edited" and edited.meta == act
    assert edited.text == mine.text == "Run a CIO forum twice a year"
    mine.edit(workshop, pat.id, "e" * IDEA_MAX, meta())
    assert mine.text == "e" * IDEA_MAX


def test_bad_edits() -> None:
    workshop = workshop_at(PhaseKind.BRAINSTORM)
    pat, sam = person(workshop), person(workshop)
    mine = idea(workshop, pat)
    edit = mine.edit
    rejects(NotAllowed, "author_id", lambda: edit(workshop, sam.id, "mine now", meta()), mine)
    rejects(NotAllowed, "author_id", lambda: edit(workshop, uuid4(), "mine now", meta()), mine)
    too_long = "e" * (IDEA_MAX + 1)
    rejects(InvalidInput, "text", lambda: edit(workshop, pat.id, too_long, meta()), mine)
    rejects(InvalidInput, "text", lambda: edit(workshop, pat.id, "  ", meta()), mine)
    elsewhere = workshop_at(PhaseKind.BRAINSTORM)
    rejects(UnknownId, "idea_id", lambda: edit(elsewhere, pat.id, "x", meta()), mine)
    advance_to(workshop, PhaseKind.GROUPING)
    rejects(WrongPhase, "phase", lambda: edit(workshop, pat.id, "x", meta()), mine, workshop)


def test_the_author_withdraws_an_idea_during_the_brainstorm() -> None:
    workshop = workshop_at(PhaseKind.BRAINSTORM)
    pat, sam = person(workshop), person(workshop)
    mine = idea(workshop, pat)
    rejects(NotAllowed, "author_id", lambda: mine.withdraw(workshop, sam.id, meta()), mine)
    act = meta(actor="pat")
    mine.withdraw(workshop, pat.id, act)
    [withdrawn] = mine.collect_events()
    assert type(withdrawn).__name__ == "Withdrawn" and withdrawn.meta == act
    assert mine.withdrawn and not mine.active
    rejects(InvalidInput, "idea_id", lambda: mine.withdraw(workshop, pat.id, meta()), mine)
    rejects(InvalidInput, "idea_id", lambda: mine.edit(workshop, pat.id, "back", meta()), mine)


def test_no_withdrawal_after_the_brainstorm() -> None:
    workshop = workshop_at(PhaseKind.GROUPING)
    pat = person(workshop)
    mine = idea(workshop, pat)
    rejects(WrongPhase, "phase", lambda: mine.withdraw(workshop, pat.id, meta()), mine)


# ----- grouped --------------------------------------------------------------


def test_an_idea_is_grouped_into_a_key_area_while_grouping() -> None:
    workshop = workshop_at(PhaseKind.GROUPING, areas={"Cloud": None, "Culture": None})
    cloud, culture = area_named(workshop, "Cloud"), area_named(workshop, "Culture")
    one = idea(workshop, person(workshop))
    act = meta()
    one.group(workshop, cloud, act)
    [grouped] = one.collect_events()
    assert type(grouped).__name__ == "Grouped"
    assert (grouped.key_area_id, grouped.meta) == (cloud, act)
    one.group(workshop, culture, meta())  # regrouping moves it
    assert one.key_area_id == culture


def test_bad_grouping() -> None:
    workshop = workshop_at(PhaseKind.BRAINSTORM)
    pat = person(workshop)
    one, gone = idea(workshop, pat), idea(workshop, pat)
    gone.withdraw(workshop, pat.id, meta())
    advance_to(workshop, PhaseKind.GROUPING)
    cloud, hosting = (workshop.define_key_area(name, meta()) for name in ("Cloud", "Hosting"))
    workshop.merge_key_areas(hosting, cloud, meta())
    settled(workshop), settled(gone)
    rejects(UnknownId, "key_area_id", lambda: one.group(workshop, uuid4(), meta()), one)
    rejects(InvalidInput, "key_area_id", lambda: one.group(workshop, hosting, meta()), one)
    rejects(InvalidInput, "idea_id", lambda: gone.group(workshop, cloud, meta()), gone)
    elsewhere = workshop_at(PhaseKind.GROUPING, areas={"Cloud": None})
    there = area_named(elsewhere, "Cloud")
    rejects(UnknownId, "idea_id", lambda: one.group(elsewhere, there, meta()), one, elsewhere)


@pytest.mark.parametrize("kind", [PhaseKind.BRAINSTORM, PhaseKind.SIGNUP])
def test_ideas_are_grouped_only_while_grouping(kind: PhaseKind) -> None:
    workshop = workshop_at(PhaseKind.GROUPING, areas={"Cloud": None})
    cloud = area_named(workshop, "Cloud")
    if kind == PhaseKind.SIGNUP:
        advance_to(workshop, kind)
    else:
        workshop = workshop_at(kind)
    one = idea(workshop, person(workshop))
    rejects(WrongPhase, "phase", lambda: one.group(workshop, cloud, meta()), one)


# ----- merged as a duplicate ------------------------------------------------


@pytest.mark.parametrize("kind", [PhaseKind.BRAINSTORM, PhaseKind.GROUPING])
def test_an_idea_is_merged_into_another_as_a_duplicate(kind: PhaseKind) -> None:
    workshop = workshop_at(kind)
    pat, sam = person(workshop), person(workshop)
    original, duplicate = idea(workshop, pat), idea(workshop, sam)
    act = meta()
    duplicate.merge_into(workshop, original, act)
    [merged] = duplicate.collect_events()
    assert type(merged).__name__ == "MergedAsDuplicate"
    assert (merged.target_id, merged.meta) == (original.id, act)
    assert duplicate.merged_into == original.id and not duplicate.active
    assert original.active and original.collect_events() == []
    # A merged idea is no longer edited by its author.
    if kind == PhaseKind.BRAINSTORM:
        edit = duplicate.edit
        rejects(InvalidInput, "idea_id", lambda: edit(workshop, sam.id, "x", meta()), duplicate)


def test_bad_merges_of_ideas() -> None:
    workshop = workshop_at(PhaseKind.BRAINSTORM)
    pat = person(workshop)
    one, two, three = idea(workshop, pat), idea(workshop, pat), idea(workshop, pat)
    rejects(InvalidInput, "target_id", lambda: one.merge_into(workshop, one, meta()), one)
    elsewhere = workshop_at(PhaseKind.BRAINSTORM)
    foreign = idea(elsewhere, person(elsewhere))
    merge = one.merge_into
    rejects(UnknownId, "target_id", lambda: merge(workshop, foreign, meta()), one, foreign)
    rejects(UnknownId, "idea_id", lambda: merge(elsewhere, foreign, meta()), one, foreign)
    three.merge_into(workshop, two, meta())
    settled(three)
    rejects(InvalidInput, "target_id", lambda: merge(workshop, three, meta()), one, three)
    rejects(InvalidInput, "idea_id", lambda: three.merge_into(workshop, one, meta()), three)
    two.withdraw(workshop, pat.id, meta())
    settled(two)
    rejects(InvalidInput, "target_id", lambda: merge(workshop, two, meta()), one, two)


@pytest.mark.parametrize("kind", [PhaseKind.BRIEFING, PhaseKind.SIGNUP, PhaseKind.VOTE])
def test_duplicates_are_merged_only_while_brainstorming_or_grouping(kind: PhaseKind) -> None:
    workshop = workshop_at(kind)
    pat = person(workshop)
    one, two = idea(workshop, pat), idea(workshop, pat)
    rejects(WrongPhase, "phase", lambda: one.merge_into(workshop, two, meta()), one, two)


# ----- the same idea at an earlier workshop of the programme ------------------


def _two_workshops() -> tuple[Workshop, Workshop, Idea, Idea]:
    programme = new_programme()
    earlier = advance_to(programme_workshop(programme, days=0), PhaseKind.BRAINSTORM)
    later = advance_to(programme_workshop(programme, days=60), PhaseKind.BRAINSTORM)
    first = idea(earlier, person(earlier), "A shared cloud")
    second = idea(later, person(later), "A shared cloud for us too")
    return earlier, later, first, second


def test_an_idea_links_to_the_same_idea_at_an_earlier_workshop() -> None:
    earlier, later, first, second = _two_workshops()
    second.link_to_earlier(later, first, earlier, meta())
    assert second.recurs == [first.id]
    (event,) = second.collect_events()
    assert event.earlier_id == first.id  # type: ignore[attr-defined]
    assert event.earlier_workshop_id == earlier.id  # type: ignore[attr-defined]


def test_linking_rules_record_nothing_when_broken() -> None:
    earlier, later, first, second = _two_workshops()

    def link(idea_: Idea, w: Workshop, target: Idea, target_w: Workshop) -> Callable[[], None]:
        return lambda: idea_.link_to_earlier(w, target, target_w, meta())

    rejects(InvalidInput, "earlier_id", link(first, earlier, second, later), first)
    rejects(UnknownId, "earlier_id", link(second, later, first, later), second)
    plain = advance_to(workshop_at(), PhaseKind.BRAINSTORM)
    outsider = idea(plain, person(plain))
    rejects(InvalidInput, "earlier_id", link(second, later, outsider, plain), second)
    second.link_to_earlier(later, first, earlier, meta())
    settled(second)
    rejects(AlreadyExists, "earlier_id", link(second, later, first, earlier), second)
    advance_to(later, PhaseKind.SIGNUP)
    rejects(WrongPhase, "phase", link(second, later, first, earlier), second)


def test_control_characters_are_refused_naming_the_field() -> None:
    from domain.errors import InvalidInput
    from domain.text import require_text

    assert require_text("text", " a\tb\nc ", 100) == "a\tb\nc"
    for bad in ("a\x00b", "bell\x07", "esc\x1b[31m"):
        try:
            require_text("text", bad, 100)
        except InvalidInput as error:
            assert error.field == "text"
        else:
            raise AssertionError(f"{bad!r} was accepted")
