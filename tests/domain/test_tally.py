"""The tally: a pure function of the ballots recorded up to the vote's close.

Properties (hypothesis): the order ballots arrive in never matters, ballots after
the close never count, a later record of a ballot replaces the earlier one, ties
are explicit, the digest pins exactly what was counted, and scores use weights.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.agenda import Criterion, VotingRules
from domain.meta import derive_id
from domain.tally import BallotRecord, ProjectEntry, Result, digest, latest_ballots, tally

PROJECTS = [
    ProjectEntry(project_id=derive_id("test-project", n), title=title)
    for n, title in enumerate(["CEO day", "Cloud pilot", "Skills academy", "Shared services"])
]
KEYS = [str(p.project_id) for p in PROJECTS]
VOTERS = [derive_id("test-ballot", n) for n in range(6)]
RULES = {
    "approval": VotingRules(method="approval"),
    "dots": VotingRules(method="dots", dots_budget=4),
    "scores": VotingRules(
        method="scores",
        criteria=(Criterion(name="quick win", weight=3), Criterion(name="low cost", weight=0.5)),
    ),
}
FAST = settings(max_examples=60, deadline=None)


def _choices(method: str) -> st.SearchStrategy[dict[str, Any]]:
    keys = st.sampled_from(KEYS)
    if method == "approval":
        return st.dictionaries(keys, st.just(1), max_size=len(KEYS))
    if method == "dots":
        return st.dictionaries(keys, st.integers(1, 2), max_size=2)
    score = st.integers(1, 5)
    marks = st.fixed_dictionaries({"quick win": score, "low cost": score})
    return st.dictionaries(keys, marks, max_size=len(KEYS))


@st.composite
def elections(draw: st.DrawFn) -> tuple[VotingRules, list[BallotRecord], int]:
    """Rules, ballot records at distinct positions (some revising others), and a close."""
    method = draw(st.sampled_from(sorted(RULES)))
    positions = draw(st.lists(st.integers(1, 60), unique=True, max_size=12))
    records = [
        _record(position, draw(st.sampled_from(VOTERS)), draw(_choices(method)))
        for position in positions
    ]
    close = draw(st.integers(0, 61))
    return RULES[method], records, close


def _record(position: int, ballot: UUID, choices: dict[str, Any]) -> BallotRecord:
    return BallotRecord(
        position=position,
        ballot_id=ballot,
        participant_id=derive_id("voter-of", ballot),
        choices=choices,
    )


def _count(rules: VotingRules, records: list[BallotRecord], close: int) -> Result:
    return tally(rules, PROJECTS, records, close)


def _reference_totals(rules: VotingRules, records: list[BallotRecord], close: int) -> dict:
    """The totals worked out the slow, obvious way."""
    latest: dict[UUID, BallotRecord] = {}
    for record in records:
        if record.position <= close and (
            record.ballot_id not in latest or record.position > latest[record.ballot_id].position
        ):
            latest[record.ballot_id] = record
    weights = {c.name: c.weight for c in rules.criteria}
    totals = {}
    for key in KEYS:
        marks = [r.choices[key] for r in latest.values() if key in r.choices]
        if rules.method == "scores":
            points = sum(weights[name] * s for mark in marks for name, s in mark.items())
        else:
            points = sum(marks)
        totals[key] = (round(points, 6), len(marks))
    return totals


# ----- properties -----------------------------------------------------------


@FAST
@given(election=elections(), data=st.data())
def test_the_order_of_the_input_never_changes_the_result(election: Any, data: Any) -> None:
    rules, records, close = election
    shuffled = data.draw(st.permutations(records))
    projects = data.draw(st.permutations(PROJECTS))
    assert tally(rules, projects, shuffled, close) == _count(rules, records, close)


@FAST
@given(election=elections(), late=st.data())
def test_ballots_recorded_after_the_close_never_count(election: Any, late: Any) -> None:
    rules, records, close = election
    before = _count(rules, records, close)
    taken = {r.position for r in records}
    free = [p for p in range(close + 1, close + 40) if p not in taken]
    positions = late.draw(st.lists(st.sampled_from(free), unique=True, min_size=1, max_size=5))
    extra = [
        _record(p, late.draw(st.sampled_from(VOTERS)), late.draw(_choices(rules.method)))
        for p in positions
    ]
    after = _count(rules, records + extra, close)
    assert after.ballots_ignored == before.ballots_ignored + len(extra)
    assert after.model_dump(exclude={"ballots_ignored"}) == before.model_dump(
        exclude={"ballots_ignored"}
    )


@FAST
@given(election=elections(), data=st.data())
def test_a_later_record_of_a_ballot_replaces_the_earlier_one(election: Any, data: Any) -> None:
    rules, records, _ = election
    close = 1000
    voter = data.draw(st.sampled_from(VOTERS))
    revision = _record(999, voter, data.draw(_choices(rules.method)))
    revised = _count(rules, records + [revision], close)
    without = [r for r in records if r.ballot_id != voter]
    assert revised == _count(rules, without + [revision], close)
    assert revised.ballots_counted == len({r.ballot_id for r in records} | {voter})


@FAST
@given(election=elections())
def test_totals_and_supporters_are_what_the_counted_ballots_say(election: Any) -> None:
    rules, records, close = election
    result = _count(rules, records, close)
    expected = _reference_totals(rules, records, close)
    assert {str(t.project_id): (t.total, t.supporters) for t in result.totals} == expected
    counted = {r.ballot_id for r in records if r.position <= close}
    assert result.ballots_counted == len(counted)
    assert result.ballots_ignored == sum(1 for r in records if r.position > close)
    assert result.counted_up_to == close
    assert result.method == rules.method
    for total in result.totals:
        assert total.share == (round(total.supporters / len(counted), 6) if counted else 0.0)


@FAST
@given(election=elections())
def test_ties_are_explicit_and_ranks_are_shared(election: Any) -> None:
    rules, records, close = election
    result = _count(rules, records, close)
    by_id = {t.project_id: t.total for t in result.totals}
    ranked = [p for entry in result.ranking for p in entry.project_ids]
    assert sorted(ranked, key=str) == sorted(by_id, key=str)  # each project ranked once
    place = 1
    for n, entry in enumerate(result.ranking):
        assert entry.rank == place
        assert {by_id[p] for p in entry.project_ids} == {entry.total}
        assert entry.tied == (len(entry.project_ids) > 1)
        if n:
            assert entry.total < result.ranking[n - 1].total
        place += len(entry.project_ids)
    assert result.ties == [e.project_ids for e in result.ranking if len(e.project_ids) > 1]
    top = result.ranking[0]
    assert result.winners == (top.project_ids if top.total > 0 else [])


@FAST
@given(election=elections(), data=st.data())
def test_the_digest_is_stable_and_pins_every_counted_choice(election: Any, data: Any) -> None:
    rules, records, close = election
    result = _count(rules, records, close)
    assert result.digest.startswith("sha256:") and len(result.digest) == 7 + 64
    assert _count(rules, list(reversed(records)), close).digest == result.digest
    assert digest(latest_ballots(records, close)) == result.digest
    counted = latest_ballots(records, close)
    if not counted:
        return
    target = data.draw(st.sampled_from(counted))
    other = data.draw(_choices(rules.method).filter(lambda c: c != target.choices))
    changed = [r.model_copy(update={"choices": other}) if r is target else r for r in records]
    assert _count(rules, changed, close).digest != result.digest


@FAST
@given(data=st.data())
def test_scores_are_weighted_by_criterion(data: Any) -> None:
    weights = data.draw(st.lists(st.sampled_from([0.5, 1, 2, 3.25]), min_size=2, max_size=2))
    rules = VotingRules(
        method="scores",
        criteria=(Criterion(name="a", weight=weights[0]), Criterion(name="b", weight=weights[1])),
    )
    score = st.integers(1, 5)
    marks = data.draw(st.lists(st.tuples(score, score), min_size=1, max_size=5))
    records = [
        _record(n + 1, VOTERS[n], {KEYS[0]: {"a": a, "b": b}}) for n, (a, b) in enumerate(marks)
    ]
    [first, *_] = [t for t in _count(rules, records, 100).totals if str(t.project_id) == KEYS[0]]
    expected = sum(weights[0] * a + weights[1] * b for a, b in marks)
    assert first.total == round(expected, 6)


# ----- examples -------------------------------------------------------------


def test_the_seed_vote_one_project_with_almost_universal_support() -> None:
    ceo, cloud, skills = KEYS[:3]
    records = [_record(n + 1, VOTERS[n], {ceo: 1}) for n in range(5)]
    records.append(_record(6, VOTERS[5], {cloud: 1, skills: 1}))
    result = _count(RULES["approval"], records, close=10)
    assert result.winners == [PROJECTS[0].project_id]
    assert result.ranking[0].rank == 1 and not result.ranking[0].tied
    assert [t.supporters for t in result.totals if str(t.project_id) == ceo] == [5]
    assert result.ballots_counted == 6 and result.ballots_ignored == 0


def test_a_tie_for_first_place_has_two_winners_and_says_so() -> None:
    ceo, cloud = KEYS[:2]
    records = [_record(1, VOTERS[0], {ceo: 1}), _record(2, VOTERS[1], {cloud: 1})]
    result = _count(RULES["approval"], records, close=2)
    first, rest = result.ranking[0], result.ranking[1]
    assert first.tied and first.rank == 1 and first.total == 1
    assert set(first.project_ids) == {PROJECTS[0].project_id, PROJECTS[1].project_id}
    assert result.winners == first.project_ids
    assert rest.rank == 3 and rest.tied and rest.total == 0
    assert result.ties == [first.project_ids, rest.project_ids]


def test_no_votes_no_winner() -> None:
    result = _count(RULES["dots"], [], close=5)
    assert result.winners == [] and result.ballots_counted == 0
    assert [t.share for t in result.totals] == [0.0] * len(PROJECTS)
    assert result.ranking[0].tied and result.ranking[0].total == 0


def test_a_ballot_revised_after_the_close_counts_as_it_stood_at_the_close() -> None:
    ceo, cloud = KEYS[:2]
    records = [_record(3, VOTERS[0], {ceo: 1}), _record(9, VOTERS[0], {cloud: 1})]
    result = _count(RULES["approval"], records, close=5)
    assert result.winners == [PROJECTS[0].project_id]
    assert result.ballots_counted == 1 and result.ballots_ignored == 1


def test_weights_can_decide_the_winner() -> None:
    ceo, cloud = KEYS[:2]
    # Unweighted, the CEO day (5+1) and the cloud pilot (1+5) would tie.
    marks = {ceo: {"quick win": 5, "low cost": 1}, cloud: {"quick win": 1, "low cost": 5}}
    result = _count(RULES["scores"], [_record(1, VOTERS[0], marks)], close=1)
    totals = {str(t.project_id): t.total for t in result.totals}
    assert totals == {ceo: 15.5, cloud: 5.5, KEYS[2]: 0.0, KEYS[3]: 0.0}
    assert result.winners == [PROJECTS[0].project_id]
    equal = VotingRules(
        method="scores", criteria=(Criterion(name="quick win"), Criterion(name="low cost"))
    )
    assert _count(equal, [_record(1, VOTERS[0], marks)], close=1).ranking[0].tied
