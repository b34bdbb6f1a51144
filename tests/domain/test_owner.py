"""The Owner aggregate: a person with a pseudonymous id, personal fields, and erasure."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInput
from domain.owner import (
    ERASED_OWNER,
    Owner,
    identify,
    owner_id,
    owner_key,
    register,
    split_owner,
)
from domain.personal import Personal
from domain.text import NAME_MAX

from .builders import MANAGER, meta, new_programme, pending, replay, settled

JANE = "Jane Owner <jane.owner@example.org>"


@pytest.mark.parametrize(
    ("text", "name", "address"),
    [
        (JANE, "Jane Owner", "jane.owner@example.org"),
        ("  Jane   Owner  ", "Jane Owner", ""),
        ("jane.owner@example.org", "jane.owner@example.org", "jane.owner@example.org"),
        ("Jane Owner (jane.owner+qw@example.org.uk)", "Jane Owner", "jane.owner+qw@example.org.uk"),
        ("Bob (no e-mail)", "Bob (no e-mail)", ""),
    ],
)
def test_the_text_splits_into_name_and_address(text: str, name: str, address: str) -> None:
    assert split_owner(text) == (name, address)


def test_the_key_is_the_address_else_the_casefolded_name() -> None:
    assert owner_key(JANE) == "jane.owner@example.org"
    assert owner_key("J. Owner <Jane.Owner@Example.org>") == "jane.owner@example.org"
    assert owner_key("  JANE   owner ") == "jane owner"


def test_the_same_person_in_the_same_programme_has_one_id() -> None:
    one, other = new_programme(), new_programme("Elsewhere")
    assert identify(one.id, JANE) == identify(one.id, "J Owner <JANE.OWNER@example.org>")
    assert identify(one.id, JANE) == owner_id(one.id, "jane.owner@example.org")
    assert identify(one.id, JANE) != identify(other.id, JANE)
    assert identify(one.id, "Sam") != identify(one.id, "Sam <sam@example.org>")


def test_registering_keeps_name_and_address_inside_personal() -> None:
    programme = new_programme()
    act = meta(MANAGER)
    owner = register(programme.id, f"  {JANE} ", act)
    (event,) = owner.collect_events()
    assert isinstance(event, Owner.Registered)
    assert type(event).__qualname__ == "Owner.Registered"
    assert event.meta == act
    assert event.personal == Personal(owner.id, {"name": "Jane Owner", "email": JANE[12:-1]})
    assert set(vars(event)) - {"personal"} <= {
        "originator_id",
        "originator_version",
        "timestamp",
        "originator_topic",
        "programme_id",
        "meta",
    }
    assert (owner.id, owner.programme_id) == (identify(programme.id, JANE), programme.id)
    assert (owner.name, owner.email, owner.address) == (
        "Jane Owner",
        "jane.owner@example.org",
        JANE,
    )


def test_owner_text_limits() -> None:
    programme = new_programme()
    for bad in ("", "  ", "o" * (NAME_MAX + 1)):
        with pytest.raises(InvalidInput) as raised:
            register(programme.id, bad, meta())
        assert raised.value.field == "owner"
    assert register(programme.id, "o" * NAME_MAX, meta()).name == "o" * NAME_MAX


def test_an_owner_without_an_address_has_none() -> None:
    owner = register(new_programme().id, "Bob", meta())
    assert (owner.name, owner.email, owner.address) == ("Bob", "", None)
    assert register(new_programme().id, "bob@example.org", meta()).address == "bob@example.org"


def test_erasing_records_once_and_forgets_the_fields() -> None:
    owner = settled(register(new_programme().id, JANE, meta()))
    owner.erase(meta("admin:dpo"))
    (event,) = owner.collect_events()
    assert type(event).__qualname__ == "Owner.Erased"
    assert set(vars(event)) >= {"meta"} and "personal" not in vars(event)
    assert owner.erased
    assert (owner.name, owner.email, owner.address) == (ERASED_OWNER, "", None)
    owner.erase(meta())  # twice: nothing new
    assert pending(owner) == 0


def test_an_owner_replays() -> None:
    # Stored round trips need the services layer's cipher: see tests/services.
    owner = register(new_programme().id, JANE, meta())
    first = owner.collect_events()
    registered = replay(first)
    assert isinstance(registered, Owner)
    assert (registered.version, registered.name) == (1, "Jane Owner")
    registered.erase(meta())
    erased = replay([*first, *registered.collect_events()])
    assert erased.version == 2 and erased.erased and erased.name == ERASED_OWNER
