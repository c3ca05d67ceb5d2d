"""Properties of the admission rule, on the Nomination aggregate alone (no store).

Random rules, random sequences of votes, vote changes and calls for the decision, by
community voters and representatives, at random times around the deadline."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain import Act, AdmissionRule, Choice, Nomination, NominationStatus
from ledger.errors import (
    AlreadyVoted,
    LedgerError,
    NominationDeadlinePassed,
    NominationDecided,
    NominationUndecidable,
    NoVoteToChange,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
COMMUNITY = tuple(UUID(int=100 + i) for i in range(5))
REPRESENTATIVES = tuple(UUID(int=200 + i) for i in range(3))
VOTERS = COMMUNITY + REPRESENTATIVES
PROPERTY = settings(max_examples=200, deadline=None)


@st.composite
def rules(draw: st.DrawFn) -> AdmissionRule:
    quorum = draw(st.integers(1, len(VOTERS)))
    return AdmissionRule(
        quorum=quorum,
        threshold=draw(st.floats(min_value=0.01, max_value=1.0)),
        min_community_votes=draw(st.integers(1, min(quorum, len(COMMUNITY)))),
        deadline_days=draw(st.integers(1, 10)),
    )


@dataclass(frozen=True)
class Step:
    kind: str  # "cast", "change" or "decide"
    voter: UUID
    choice: Choice
    at: datetime


steps = st.builds(
    Step,
    kind=st.sampled_from(["cast", "cast", "change", "decide"]),
    voter=st.sampled_from(VOTERS),
    choice=st.sampled_from(list(Choice)),
    at=st.integers(0, 12 * 24).map(lambda hours: T0 + timedelta(hours=hours)),
)


def new_nomination(rule: AdmissionRule) -> Nomination:
    return Nomination(community_id=UUID(int=1), nominee_id=UUID(int=2),
                      nominator_id=COMMUNITY[0], statement="A good neighbour", rule=rule,
                      act=Act(actor_id=COMMUNITY[0], occurred_at=T0))


def vote(nomination: Nomination, step: Step, *, change: bool) -> None:
    method = nomination.change_vote if change else nomination.cast_vote
    method(choice=step.choice, reason=f"{step.choice}", for_organisation=step.voter in
           REPRESENTATIVES, act=Act(actor_id=step.voter, occurred_at=step.at))


def has_quorum(nomination: Nomination) -> bool:
    tally = nomination.tally()
    return (tally.cast >= nomination.rule.quorum
            and tally.community_votes >= nomination.rule.min_community_votes)


def community_supports(nomination: Nomination, outcome: NominationStatus) -> bool:
    wanted = Choice.ADMIT if outcome is NominationStatus.ADMITTED else Choice.DECLINE
    return any(b.choice is wanted and not b.for_organisation
               for b in nomination.ballots.values())


def run(nomination: Nomination, history: list[Step]) -> list[tuple[Step, object]]:
    """Apply each step; return (step, outcome or the error raised)."""
    results: list[tuple[Step, object]] = []
    for step in history:
        try:
            if step.kind == "decide":
                result: object = nomination.decide(Act(actor_id=step.voter,
                                                       occurred_at=step.at))
            else:
                vote(nomination, step, change=step.kind == "change")
                result = None
        except LedgerError as error:
            result = error
        results.append((step, result))
    return results


@PROPERTY
@given(rule=rules(), history=st.lists(steps, max_size=30))
def test_a_decision_is_taken_only_with_quorum_and_community_support_or_expires_at_the_deadline(
        rule: AdmissionRule, history: list[Step]) -> None:
    nomination = new_nomination(rule)
    for step in history:
        if step.kind != "decide":
            run(nomination, [step])
            continue
        quorum, open_before = has_quorum(nomination), nomination.status
        [(_, result)] = run(nomination, [step])
        if open_before is not NominationStatus.OPEN:
            assert isinstance(result, NominationDecided)
        elif quorum:
            assert result in (NominationStatus.ADMITTED, NominationStatus.DECLINED)
            assert isinstance(result, NominationStatus)
            assert community_supports(nomination, result)
        elif step.at >= nomination.deadline:
            assert result is NominationStatus.EXPIRED
        else:
            assert isinstance(result, NominationUndecidable)
            assert nomination.status is NominationStatus.OPEN
        if isinstance(result, NominationStatus):
            assert nomination.status is result


@PROPERTY
@given(rule=rules(), history=st.lists(steps, max_size=30))
def test_once_decided_no_vote_is_accepted_and_the_ballots_stay_as_they_were(
        rule: AdmissionRule, history: list[Step]) -> None:
    nomination = new_nomination(rule)
    ballots_at_decision = None
    for step, result in run(nomination, history):
        if isinstance(result, NominationStatus):
            ballots_at_decision = dict(nomination.ballots)
        elif ballots_at_decision is not None and step.kind != "decide":
            assert isinstance(result, NominationDecided)
    if ballots_at_decision is not None:
        assert nomination.status is not NominationStatus.OPEN
        assert nomination.ballots == ballots_at_decision


@PROPERTY
@given(rule=rules(), history=st.lists(steps, max_size=30))
def test_each_voter_casts_at_most_one_ballot_and_changes_only_their_own(
        rule: AdmissionRule, history: list[Step]) -> None:
    nomination = new_nomination(rule)
    nomination.collect_events()
    voted: set[UUID] = set()
    for step in history:
        was_open = nomination.status is NominationStatus.OPEN
        [(_, result)] = run(nomination, [step])
        if step.kind == "decide":
            continue
        if not was_open:
            assert isinstance(result, NominationDecided)
        elif step.at >= nomination.deadline:
            assert isinstance(result, NominationDeadlinePassed)
        elif step.kind == "cast":
            assert isinstance(result, AlreadyVoted) == (step.voter in voted), result
            voted.add(step.voter)
        else:
            assert isinstance(result, NoVoteToChange) == (step.voter not in voted), result
    cast = Counter(e.act.actor_id for e in nomination.collect_events()
                   if type(e).__name__ == "VoteCast")
    assert set(cast.values()) <= {1}
    assert set(cast) == set(nomination.ballots) == voted


@PROPERTY
@given(rule=rules(),
       community=st.lists(st.sampled_from(list(Choice)), min_size=1, max_size=len(COMMUNITY)),
       first=st.lists(st.sampled_from(list(Choice)), max_size=len(REPRESENTATIVES)),
       second=st.lists(st.sampled_from(list(Choice)), max_size=len(REPRESENTATIVES)))
def test_representatives_changing_their_votes_never_decide_against_every_community_voter(
        rule: AdmissionRule, community: list[Choice], first: list[Choice],
        second: list[Choice]) -> None:
    nomination = new_nomination(rule)
    at = T0 + timedelta(hours=1)
    for voter, choice in zip(COMMUNITY, community, strict=False):
        vote(nomination, Step("cast", voter, choice, at), change=False)
    for voter, choice in zip(REPRESENTATIVES, first, strict=False):
        vote(nomination, Step("cast", voter, choice, at), change=False)
    for voter, choice in zip(REPRESENTATIVES, second, strict=False):
        was_cast = voter in nomination.ballots
        vote(nomination, Step("change" if was_cast else "cast", voter, choice, at),
             change=was_cast)
    outcome = nomination.outcome(at)
    if outcome is NominationStatus.OPEN:
        assert not has_quorum(nomination)
        return
    assert community_supports(nomination, outcome)
    if len(set(community)) == 1:  # a unanimous community decides whatever the organisation
        expected = (NominationStatus.ADMITTED if community[0] is Choice.ADMIT
                    else NominationStatus.DECLINED)
        assert outcome is expected
