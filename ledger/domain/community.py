"""A community: open to all-comers, or invitation-only and grown by dialogue."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.base import Act, check_slug, deterministic_id
from ledger.errors import InvalidInput


class Access(StrEnum):
    OPEN = "open"
    INVITATION_ONLY = "invitation-only"


@dataclass(frozen=True)
class AdmissionRule:
    """How an invitation-only community decides on a nomination.

    A nomination is decided once ``quorum`` votes are cast, of which at least
    ``min_community_votes`` come from people who do not speak for the organisation. The
    nominee is admitted when the share of admit votes among the votes cast reaches
    ``threshold``, declined otherwise. The organisation's representatives vote as members but
    can never decide alone: an outcome that no community voter supports is not taken (see
    :meth:`ledger.domain.nomination.Nomination.outcome`). Without a quorum by the deadline
    (``deadline_days`` after the nomination), the nomination expires.
    """

    quorum: int = 3
    threshold: float = 0.6
    min_community_votes: int = 2
    deadline_days: int = 7
    direct_invitations: bool = False

    def check(self) -> None:
        if not 1 <= self.quorum <= 10_000:
            raise InvalidInput("quorum must be between 1 and 10000", field="quorum")
        if not 0.0 < self.threshold <= 1.0:
            raise InvalidInput("threshold must be in (0, 1]", field="threshold")
        if not 1 <= self.min_community_votes <= self.quorum:
            raise InvalidInput(
                "min_community_votes must be between 1 and the quorum",
                field="min_community_votes",
            )
        if not 1 <= self.deadline_days <= 365:
            raise InvalidInput("deadline_days must be between 1 and 365", field="deadline_days")


class Community(Aggregate):
    """Its id derives from its slug, so the slug is unique and a lookup needs no index."""

    @staticmethod
    def create_id(slug: str) -> UUID:
        return deterministic_id("community", slug)

    @event("Created")
    def __init__(
        self,
        organisation_id: UUID,
        name: str,
        slug: str,
        access: Access,
        rule: AdmissionRule,
        act: Act,
    ) -> None:
        check_slug(slug)
        rule.check()
        self.organisation_id = organisation_id
        self.name = name
        self.slug = slug
        self.access = access
        self.rule = rule

    @event("AdmissionRuleChanged")
    def change_rule(self, rule: AdmissionRule, act: Act) -> None:
        rule.check()
        self.rule = rule

    @property
    def is_invitation_only(self) -> bool:
        return self.access is Access.INVITATION_ONLY
