"""Sign-ups: one per participant per workshop, switched while sign-up is open, and
a group's capacity kept by numbered seats, so it is never exceeded."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.agenda import PhaseKind
from domain.errors import GroupFull, InvalidInput, UnknownId, WrongPhase
from domain.participant import Participant
from domain.signup import Seat, SignUp, seat_ids, sign_up, sign_up_id, take_seat
from domain.workshop import Workshop

from .builders import (
    MemoryStore,
    advance_to,
    area_named,
    meta,
    people,
    person,
    rejects,
    settled,
    workshop_at,
)


def _open(areas: dict[str, int | None]) -> Workshop:
    return workshop_at(PhaseKind.SIGNUP, areas=areas)


def test_a_participant_signs_up_to_an_uncapped_group() -> None:
    workshop = _open({"Cloud": None})
    cloud = area_named(workshop, "Cloud")
    pat = person(workshop)
    act = meta(actor="pat")
    signup, seat = sign_up(workshop, pat, cloud, {}, act)
    assert seat is None
    [signed] = signup.collect_events()
    assert type(signed).__name__ == "SignedUp" and signed.meta == act
    assert signup.id == sign_up_id(workshop.id, pat.id)
    assert (signup.workshop_id, signup.participant_id, signup.key_area_id, signup.seat_id) == (
        workshop.id,
        pat.id,
        cloud,
        None,
    )


def test_a_capped_group_gives_out_numbered_seats() -> None:
    workshop = _open({"Cloud": 2})
    cloud = area_named(workshop, "Cloud")
    pat, sam = people(workshop, 2)
    act = meta(actor="pat")
    signup, seat = sign_up(workshop, pat, cloud, {}, act)
    assert seat is not None and seat.id == seat_ids(cloud, 2)[0] == signup.seat_id
    [claimed] = seat.collect_events()
    assert type(claimed).__name__ == "Claimed" and claimed.meta == act
    assert (seat.key_area_id, seat.holder) == (cloud, pat.id)
    _, second = sign_up(workshop, sam, cloud, {seat.id: seat}, meta())
    assert second is not None and second.id == seat_ids(cloud, 2)[1]
    assert second.holder == sam.id


def test_a_full_group_refuses_and_records_nothing() -> None:
    workshop = _open({"Cloud": 2})
    cloud = area_named(workshop, "Cloud")
    pat, sam, kim = people(workshop, 3)
    seats: dict[UUID, Seat] = {}
    for someone in (pat, sam):
        _, seat = sign_up(workshop, someone, cloud, seats, meta())
        assert seat is not None
        seats[seat.id] = settled(seat)
    act = lambda: sign_up(workshop, kim, cloud, seats, meta())  # noqa: E731
    error = rejects(GroupFull, "key_area_id", act, workshop, kim, *seats.values())
    assert "2" in error.message


def test_a_released_seat_is_taken_again() -> None:
    workshop = _open({"Cloud": 1})
    cloud = area_named(workshop, "Cloud")
    pat, sam = people(workshop, 2)
    seat = take_seat(workshop, cloud, pat.id, {}, meta())
    assert seat is not None
    settled(seat)
    seats = {seat.id: seat}
    rejects(
        GroupFull, "key_area_id", lambda: take_seat(workshop, cloud, sam.id, seats, meta()), seat
    )
    leaving = meta(actor="pat")
    seat.release(leaving)
    [released] = seat.collect_events()
    assert type(released).__name__ == "Released" and released.meta == leaving
    assert seat.holder is None
    seat.release(meta())  # free already: nothing more
    assert seat.collect_events() == []
    arriving = meta(actor="sam")
    again = take_seat(workshop, cloud, sam.id, seats, arriving)
    assert again is seat and seat.holder == sam.id
    [reclaimed] = seat.collect_events()
    assert type(reclaimed).__name__ == "Reclaimed" and reclaimed.meta == arriving


def test_a_taken_seat_cannot_be_claimed() -> None:
    workshop = _open({"Cloud": 1})
    cloud = area_named(workshop, "Cloud")
    seat = settled(Seat(id=seat_ids(cloud, 1)[0], key_area_id=cloud, holder=uuid4(), meta=meta()))
    rejects(GroupFull, "key_area_id", lambda: seat.claim(uuid4(), meta()), seat)


def test_a_seat_is_taken_only_in_a_live_group() -> None:
    workshop = workshop_at(PhaseKind.GROUPING, areas={"Cloud": 2, "Hosting": 2})
    cloud, hosting = area_named(workshop, "Cloud"), area_named(workshop, "Hosting")
    workshop.merge_key_areas(hosting, cloud, meta())
    advance_to(workshop, PhaseKind.SIGNUP)
    someone = uuid4()
    unknown = lambda: take_seat(workshop, uuid4(), someone, {}, meta())  # noqa: E731
    rejects(UnknownId, "key_area_id", unknown, workshop)
    merged = lambda: take_seat(workshop, hosting, someone, {}, meta())  # noqa: E731
    rejects(InvalidInput, "key_area_id", merged, workshop)


def test_an_uncapped_group_needs_no_seat() -> None:
    workshop = _open({"Cloud": None})
    assert take_seat(workshop, area_named(workshop, "Cloud"), uuid4(), {}, meta()) is None


@pytest.mark.parametrize("kind", [PhaseKind.GROUPING, PhaseKind.DISCUSSION])
def test_sign_up_only_while_sign_up_is_open(kind: PhaseKind) -> None:
    workshop = workshop_at(PhaseKind.GROUPING, areas={"Cloud": None})
    cloud = area_named(workshop, "Cloud")
    advance_to(workshop, kind)
    pat = person(workshop)
    act = lambda: sign_up(workshop, pat, cloud, {}, meta())  # noqa: E731
    rejects(WrongPhase, "phase", act, workshop, pat)


def test_sign_up_to_an_unknown_or_merged_group() -> None:
    workshop = workshop_at(PhaseKind.GROUPING, areas={"Cloud": None, "Hosting": 3})
    cloud, hosting = area_named(workshop, "Cloud"), area_named(workshop, "Hosting")
    workshop.merge_key_areas(hosting, cloud, meta())
    advance_to(workshop, PhaseKind.SIGNUP)
    pat = person(workshop)
    unknown = lambda: sign_up(workshop, pat, uuid4(), {}, meta())  # noqa: E731
    rejects(UnknownId, "key_area_id", unknown, workshop, pat)
    merged = lambda: sign_up(workshop, pat, hosting, {}, meta())  # noqa: E731
    rejects(InvalidInput, "key_area_id", merged, workshop, pat)


def test_only_participants_of_this_workshop_sign_up() -> None:
    workshop = _open({"Cloud": 1})
    stranger = person(_open({"Cloud": 1}))
    act = lambda: sign_up(workshop, stranger, area_named(workshop, "Cloud"), {}, meta())  # noqa: E731
    rejects(UnknownId, "participant_id", act, workshop, stranger)


def test_one_sign_up_per_participant_per_workshop() -> None:
    """The second sign-up names the same stream, so storing it is a conflict."""
    workshop = _open({"Cloud": None, "Culture": None})
    cloud, culture = area_named(workshop, "Cloud"), area_named(workshop, "Culture")
    pat = person(workshop)
    first, _ = sign_up(workshop, pat, cloud, {}, meta())
    second, _ = sign_up(workshop, pat, culture, {}, meta())
    assert first.id == second.id == sign_up_id(workshop.id, pat.id)
    store = MemoryStore()
    store.save(first)
    with pytest.raises(IntegrityError):
        store.save(second)
    kept = store.repository.get(first.id)
    assert isinstance(kept, SignUp) and kept.key_area_id == cloud and kept.version == 1
    # Someone else in the same workshop, or the same person elsewhere, is another stream.
    assert sign_up_id(workshop.id, uuid4()) != first.id
    assert sign_up_id(uuid4(), pat.id) != first.id


# ----- switching group ------------------------------------------------------


def test_a_participant_switches_group_while_sign_up_is_open() -> None:
    workshop = _open({"Cloud": 1, "Culture": None, "Skills": 1})
    cloud, culture, skills = (area_named(workshop, n) for n in ("Cloud", "Culture", "Skills"))
    pat = person(workshop)
    signup, old_seat = sign_up(workshop, pat, cloud, {}, meta())
    settled(signup)
    act = meta(actor="pat")
    assert signup.switch(workshop, culture, {}, act) is None
    [switched] = signup.collect_events()
    assert type(switched).__name__ == "SwitchedGroup" and switched.meta == act
    assert (switched.key_area_id, switched.seat_id) == (culture, None)
    assert (signup.key_area_id, signup.seat_id) == (culture, None)
    new_seat = signup.switch(workshop, skills, {}, meta())
    assert new_seat is not None and new_seat.holder == pat.id
    assert signup.seat_id == new_seat.id == seat_ids(skills, 1)[0]


def test_bad_switches() -> None:
    workshop = _open({"Cloud": None, "Full": 1})
    cloud, full = area_named(workshop, "Cloud"), area_named(workshop, "Full")
    pat, sam = people(workshop, 2)
    signup = settled(sign_up(workshop, pat, cloud, {}, meta())[0])
    _, taken = sign_up(workshop, sam, full, {}, meta())
    assert taken is not None
    seats = {taken.id: settled(taken)}
    switch = signup.switch
    rejects(InvalidInput, "key_area_id", lambda: switch(workshop, cloud, {}, meta()), signup)
    rejects(UnknownId, "key_area_id", lambda: switch(workshop, uuid4(), {}, meta()), signup)
    rejects(GroupFull, "key_area_id", lambda: switch(workshop, full, seats, meta()), signup, taken)
    advance_to(workshop, PhaseKind.DISCUSSION)
    rejects(WrongPhase, "phase", lambda: switch(workshop, full, {}, meta()), signup)


# ----- the capacity invariant -----------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    capacities=st.lists(st.one_of(st.none(), st.integers(1, 3)), min_size=2, max_size=3),
    moves=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2)), max_size=25),
)
def test_no_group_ever_holds_more_people_than_its_capacity(
    capacities: list[int | None], moves: list[tuple[int, int]]
) -> None:
    """Sign-ups and switches in any order (the old seat released on a switch, as the
    application does) never put more people in a group than its seats."""
    workshop = _open({f"Area {n}": cap for n, cap in enumerate(capacities)})
    areas = [area_named(workshop, f"Area {n}") for n in range(len(capacities))]
    crowd: list[Participant] = people(workshop, 6)
    seats: dict[UUID, Seat] = {}
    signups: dict[UUID, SignUp] = {}
    for who, where in moves:
        someone, area = crowd[who], areas[where % len(areas)]
        current = signups.get(someone.id)
        if current is not None and current.key_area_id == area:
            continue
        try:
            if current is None:
                signups[someone.id], seat = sign_up(workshop, someone, area, seats, meta())
            else:
                old = seats.get(current.seat_id) if current.seat_id else None
                seat = current.switch(workshop, area, seats, meta())
                if old is not None:
                    old.release(meta())
        except GroupFull:
            capacity = capacities[areas.index(area)]
            held = [s for s in seats.values() if s.key_area_id == area and s.holder]
            assert capacity is not None and len(held) == capacity
            continue
        if seat is not None:
            seats[seat.id] = seat
        for n, capacity in enumerate(capacities):
            members = [s for s in signups.values() if s.key_area_id == areas[n]]
            if capacity is not None:
                assert len(members) <= capacity
                holders = {s.holder for s in seats.values() if s.key_area_id == areas[n]}
                assert {m.participant_id for m in members} == holders - {None}
