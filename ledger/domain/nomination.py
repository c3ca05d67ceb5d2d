"""A proposal to admit a person into an invitation-only community, debated and voted on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.base import Act, debate_thread_id
from ledger.domain.community import AdmissionRule
from ledger.errors import (
    AlreadyVoted,
    NominationDeadlinePassed,
    NominationDecided,
    NominationUndecidable,
    NoVoteToChange,
)


class Choice(StrEnum):
    ADMIT = "admit"
    DECLINE = "decline"


class NominationStatus(StrEnum):
    OPEN = "open"
    ADMITTED = "admitted"
    DECLINED = "declined"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Ballot:
    choice: Choice
    reason: str
    for_organisation: bool


@dataclass(frozen=True)
class Tally:
    cast: int
    admit: int
    community_votes: int
    community_admit: int

    @property
    def community_decline(self) -> int:
        return self.community_votes - self.community_admit


class Nomination(Aggregate):
    @event("Made")
    def __init__(
        self,
        community_id: UUID,
        nominee_id: UUID,
        nominator_id: UUID,
        statement: str,
        rule: AdmissionRule,
        act: Act,
    ) -> None:
        self.community_id = community_id
        self.nominee_id = nominee_id
        self.nominator_id = nominator_id
        self.statement = statement
        self.rule = rule
        self.deadline: datetime = act.occurred_at + timedelta(days=rule.deadline_days)
        self.ballots: dict[UUID, Ballot] = {}
        self.status = NominationStatus.OPEN

    @event("VoteCast")
    def cast_vote(self, choice: Choice, reason: str, for_organisation: bool, act: Act) -> None:
        self.check_is_open_for_votes(act)
        if act.actor_id in self.ballots:
            raise AlreadyVoted("each member votes once; change the vote instead",
                               nomination_id=self.id)
        self.ballots[act.actor_id] = Ballot(choice, reason, for_organisation)

    @event("VoteChanged")
    def change_vote(self, choice: Choice, reason: str, for_organisation: bool, act: Act) -> None:
        self.check_is_open_for_votes(act)
        if act.actor_id not in self.ballots:
            raise NoVoteToChange("there is no vote to change", nomination_id=self.id)
        self.ballots[act.actor_id] = Ballot(choice, reason, for_organisation)

    @property
    def debate_thread_id(self) -> UUID:
        return debate_thread_id(self.id)

    def decide(self, act: Act) -> NominationStatus:
        """Close the nomination by the community's admission rule and return the outcome."""
        self.check_is_open()
        outcome = self.outcome(act.occurred_at)
        if outcome is NominationStatus.OPEN:
            raise NominationUndecidable(
                "no quorum yet, and the deadline has not passed",
                nomination_id=self.id,
                deadline=self.deadline.isoformat(),
            )
        tally = self.tally()
        self._decided(outcome, tally.cast, tally.admit, act)
        return outcome

    @event("Decided")
    def _decided(self, outcome: NominationStatus, votes_cast: int, admit_votes: int,
                 act: Act) -> None:
        self.status = outcome

    # --- the rule --------------------------------------------------------------------
    def tally(self) -> Tally:
        ballots = list(self.ballots.values())
        community = [b for b in ballots if not b.for_organisation]
        return Tally(
            cast=len(ballots),
            admit=sum(b.choice is Choice.ADMIT for b in ballots),
            community_votes=len(community),
            community_admit=sum(b.choice is Choice.ADMIT for b in community),
        )

    def outcome(self, at: datetime) -> NominationStatus:
        """What the admission rule decides at ``at``; OPEN while it cannot yet decide.

        The representatives' votes count like any member's, but an outcome must be supported
        by at least one community voter: if the tally would admit (or decline) with no
        community vote for it, the organisation would be deciding alone, so the other outcome
        is taken instead.
        """
        rule = self.rule
        tally = self.tally()
        if tally.cast >= rule.quorum and tally.community_votes >= rule.min_community_votes:
            admit = tally.admit / tally.cast >= rule.threshold
            if admit and tally.community_admit == 0:
                admit = False
            elif not admit and tally.community_decline == 0:
                admit = True
            return NominationStatus.ADMITTED if admit else NominationStatus.DECLINED
        if at >= self.deadline:
            return NominationStatus.EXPIRED
        return NominationStatus.OPEN

    def check_is_open(self) -> None:
        if self.status is not NominationStatus.OPEN:
            raise NominationDecided("the nomination has been decided", nomination_id=self.id,
                                    outcome=self.status)

    def check_is_open_for_votes(self, act: Act) -> None:
        self.check_is_open()
        if act.occurred_at >= self.deadline:
            raise NominationDeadlinePassed("the nomination's deadline has passed",
                                           nomination_id=self.id)
