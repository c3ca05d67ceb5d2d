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
    """Its id derives from its organisation and its slug: a slug is unique within its
    organisation (as a repository's name within its owner's), so creating one reveals
    nothing about other organisations' communities. Communities created before slugs were
    scoped keep the id derived from the slug alone (:meth:`legacy_id`)."""

    @staticmethod
    def create_id(organisation_id: UUID, slug: str) -> UUID:
        return deterministic_id("community", organisation_id, slug)

    @staticmethod
    def legacy_id(slug: str) -> UUID:
        """The id of a community of this slug created while slugs were global."""
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


class CommunitySlug(Aggregate):
    """Which communities bear a slug, in any organisation (saved with each new community,
    in the same transaction), so that a slug alone still finds a community when the caller
    may see only one of that slug. Communities from before slugs were scoped are not listed:
    their id is :meth:`Community.legacy_id` of the slug."""

    @staticmethod
    def create_id(slug: str) -> UUID:
        return deterministic_id("community-slug", slug)

    @event("Created")
    def __init__(self, slug: str, community_id: UUID, act: Act) -> None:
        self.slug = slug
        self.community_ids: tuple[UUID, ...] = (community_id,)

    @event("Claimed")
    def claim(self, community_id: UUID, act: Act) -> None:
        self.community_ids = (*self.community_ids, community_id)
