"""Group commit: many ballots per transaction, each caller answered on its own."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID, uuid4

import pytest

from domain import commands as c
from domain.agenda import PhaseKind
from domain.errors import DomainError, DuplicateBallot, UnknownId
from domain.workshop import Workshop
from services.app import Workshops
from services.group_commit import BallotBox
from services.persistence import postgres_env

from .walk import Walk, ready_to_vote

pytestmark = pytest.mark.integration


@pytest.fixture
def app(fresh_database_url: str) -> Iterator[Workshops]:
    application = Workshops(env=postgres_env(fresh_database_url))
    yield application
    application.close()


def _cast(box: BallotBox, walk: Walk, voter: UUID, choices: dict[str, object]) -> int | str:
    command = c.CastBallot(workshop_id=walk.id, participant_id=voter, choices=choices)
    try:
        return box.cast(command, walk.meta(f"participant:{voter}"))
    except DomainError as error:
        return type(error).__name__


def test_a_room_voting_at_once_is_written_in_few_transactions(app: Workshops) -> None:
    walk, people, projects = ready_to_vote(app, voters=60)
    with BallotBox(app) as box, ThreadPoolExecutor(max_workers=30) as pool:
        positions = list(pool.map(lambda p: _cast(box, walk, p, {str(projects[0]): 1}), people))
        batches = box.batches
    assert all(isinstance(p, int) for p in positions)
    assert len(set(positions)) == 60
    assert batches < 60  # several ballots shared a transaction
    walk.to(PhaseKind.CLOSED)
    assert app.recount(app.load(Workshop, walk.id, "workshop_id")).ballots_counted == 60


def test_a_bad_ballot_in_a_batch_fails_alone(app: Workshops) -> None:
    walk, people, projects = ready_to_vote(app, voters=6)
    good = {str(projects[0]): 1}
    with BallotBox(app) as box:
        assert isinstance(_cast(box, walk, people[0], good), int)  # cast before the batch
        with ThreadPoolExecutor(max_workers=6) as pool:
            outcomes = list(
                pool.map(
                    lambda args: _cast(box, walk, *args),
                    [
                        (people[0], good),  # voted already: found on save
                        (people[1], {str(uuid4()): 1}),  # no such project
                        (people[2], good),
                        (people[2], good),  # twice in one batch
                        (people[3], good),
                        (uuid4(), good),  # not a participant
                    ],
                )
            )
    assert outcomes[0] == DuplicateBallot.__name__
    assert outcomes[1] == UnknownId.__name__
    twice = outcomes[2:4]
    assert sum(isinstance(o, int) for o in twice) == 1 and DuplicateBallot.__name__ in twice
    assert isinstance(outcomes[4], int)
    assert outcomes[5] == UnknownId.__name__
    walk.to(PhaseKind.CLOSED)
    counted = app.recount(app.load(Workshop, walk.id, "workshop_id")).ballots_counted
    assert counted == 3  # people 0, 2 and 3
