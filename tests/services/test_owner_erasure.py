"""Right to erasure for an initiative owner: the key goes; the log, tallies and chain stay."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from domain import programme_commands as pc
from domain.errors import InvalidInput, UnknownId, WrongPhase
from domain.owner import ERASED_OWNER, identify
from domain.programme import programme_id
from domain.workshop import Workshop
from projections.audit_chain import AuditChainProjection, AuditChainView
from projections.audit_trail import AuditTrailProjection, AuditTrailView
from projections.pipeline import PipelineProjection, PipelineView
from services.app import Workshops
from services.persistence import postgres_env
from services.programmes import Programmes
from services.report import gather, markdown
from tests.e2e.cli import quickwins
from tests.projections.programme_helpers import Story, day, meta_at, runner_of, south_west

from .test_erasure import _plaintext_anywhere

pytestmark = pytest.mark.integration

NAME, EMAIL = "Jane Owner", "jane.owner@example.org"
JANE = f"{NAME} <{EMAIL}>"
PROGRAMME = "South West ICT"  # the story's programme (tests.projections.programme_helpers)


def _pipeline(url: str, app: Workshops, story: Story) -> tuple[str | None, list[str]]:
    """The first initiative's owner and trail as the pipeline shows them now."""
    position = app.max_position()
    with runner_of(url, AuditTrailProjection, AuditTrailView) as trail_runner:
        trail_runner.wait(position, timeout=60)
    with runner_of(url, AuditChainProjection, AuditChainView) as chain_runner:
        chain_runner.wait(position, timeout=60)
    i1 = story.initiatives["I1"]
    with runner_of(url, PipelineProjection, PipelineView) as runner:
        runner.wait(position, timeout=60)
        row = runner.view.initiative(i1)
        trail = [e.text for e in runner.view.trail(i1)]
        report = gather(runner.view, story.south_west.id, day(2011, 3, 1))
    assert row is not None and report is not None
    assert f"owner {row.owner}; " in markdown(report)  # the report shows the owner as now
    return row.owner, trail


def _tallies(app: Workshops, story: Story) -> list[object]:
    return [
        app.recount(app.load(Workshop, d.id, "workshop_id")) for d in (story.devon, story.cornwall)
    ]


def test_erasing_an_owner_leaves_no_plaintext_and_keeps_tallies_and_chain(
    fresh_database_url: str, tmp_path: Path
) -> None:
    url = fresh_database_url
    app = Workshops(env=postgres_env(url))
    try:
        story = south_west(app, i1_owner=JANE)
        service = story.south_west.programmes
        owner_id = service.initiative(story.initiatives["I1"]).owner_id
        assert owner_id == identify(story.south_west.id, JANE)
        assert service.owner(owner_id).address == JANE
        before = _tallies(app, story)

        owner, trail = _pipeline(url, app, story)
        assert owner == NAME
        assert "Owner: Jane Owner" in trail
        assert "Reminder (milestone_overdue) sent to Jane Owner: Hold the CEO workshop" in trail
        # Encrypted in the log from the start: only the pipeline's one owner row holds
        # the name, and nothing holds the address.
        assert _plaintext_anywhere(url, NAME) == ["pipeline_owners.name"]
        assert _plaintext_anywhere(url, EMAIL) == []
        first = quickwins("audit", "verify", "--json", database_url=url, data_dir=tmp_path)
        assert first.returncode == 0, first.stdout + first.stderr

        run = quickwins(
            "programme", "erase-owner", PROGRAMME, JANE, database_url=url, data_dir=tmp_path
        )
        assert run.returncode == 0, run.stderr
        assert NAME not in run.stdout

        owner, trail = _pipeline(url, app, story)
        for needle in (NAME, EMAIL, "Jane", "jane.owner"):
            assert _plaintext_anywhere(url, needle) == [], needle
        assert owner == ERASED_OWNER
        assert f"Owner: {ERASED_OWNER}" in trail
        assert f"Reminder (milestone_overdue) sent to {ERASED_OWNER}: Hold the CEO workshop" in (
            trail
        )
        erased = service.owner(owner_id)
        assert erased.erased and (erased.name, erased.address) == (ERASED_OWNER, None)
        assert service.initiative(story.initiatives["I1"]).owner_id == owner_id  # still owned
        assert _tallies(app, story) == before  # tallies and their digests are unchanged
        verify = quickwins("audit", "verify", "--json", database_url=url, data_dir=tmp_path)
        assert verify.returncode == 0, verify.stdout + verify.stderr  # the log is intact
        assert json.loads(verify.stdout)["checked"] > json.loads(first.stdout)["checked"]

        # A rebuild from the start shows the erased owner too (the key is gone).
        with runner_of(url, PipelineProjection, PipelineView) as runner:
            runner.view.reset()
        owner, trail = _pipeline(url, app, story)
        assert owner == ERASED_OWNER and f"Owner: {ERASED_OWNER}" in trail
        assert _plaintext_anywhere(url, NAME) == []
    finally:
        app.close()


def test_owners_are_registered_once_and_erased_once(database_url: str) -> None:
    app = Workshops(env=postgres_env(database_url))
    try:
        service = Programmes(app)
        at = day(2010, 6, 1)
        name = f"Erasure {uuid4()}"
        pid = service.launch(
            pc.LaunchProgramme(name=name, sponsor="Board", regions=["Devon"]),
            meta_at(at, "manager"),
        )
        assert pid == programme_id(name)

        def add() -> UUID:
            cmd = pc.AddInitiative(
                programme_id=pid, initiative_id=uuid4(), title="T", region="Devon", reason="r"
            )
            return service.add_initiative(cmd, meta_at(at, "manager"))

        one, two = add(), add()
        for initiative, text in ((one, JANE), (two, "J. Owner <JANE.OWNER@example.org>")):
            service.assign_owner(
                pc.AssignOwner(initiative_id=initiative, owner=text),
                meta_at(at, "manager"),
            )
        owner_id = identify(pid, JANE)
        assert service.initiative(one).owner_id == service.initiative(two).owner_id == owner_id
        assert service.owner(owner_id).version == 1  # registered once, as first typed
        assert service.owner_name(owner_id) == NAME

        # Bad references record nothing.
        position = app.max_position()
        for cmd, error, field in (
            (pc.EraseOwner(programme_id=pid, owner="Nobody"), UnknownId, "owner"),
            (pc.EraseOwner(programme_id=pid, owner_id=uuid4()), UnknownId, "owner_id"),
            (pc.EraseOwner(programme_id=uuid4(), owner_id=owner_id), UnknownId, "owner_id"),
            (pc.EraseOwner(programme_id=pid, owner=" x" * 60), InvalidInput, "owner"),
        ):
            with pytest.raises(error) as raised:
                service.erase_owner(cmd, meta_at(at, "admin:dpo"))
            assert raised.value.field == field
        with pytest.raises(ValueError, match="not both"):
            pc.EraseOwner(programme_id=pid, owner=JANE, owner_id=owner_id)
        with pytest.raises(ValueError, match="not both"):
            pc.EraseOwner(programme_id=pid)
        assert app.max_position() == position

        erase = pc.EraseOwner(programme_id=pid, owner_id=owner_id)
        service.erase_owner(erase, meta_at(at, "admin:dpo"))
        position = app.max_position()
        service.erase_owner(erase, meta_at(at, "admin:dpo"))  # again: nothing new
        assert app.max_position() == position
        assert service.owner_name(owner_id) == ERASED_OWNER
        # The erased person cannot be assigned again: their key is gone.
        with pytest.raises(WrongPhase) as refused:
            service.assign_owner(
                pc.AssignOwner(initiative_id=one, owner=JANE),
                meta_at(at, "manager"),
            )
        assert refused.value.field == "owner"
        assert app.max_position() == position
    finally:
        app.close()
