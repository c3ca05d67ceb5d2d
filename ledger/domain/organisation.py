"""An organisation that wants to hear from its community, and the people who speak for it."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.base import Act, check_slug, deterministic_id
from ledger.errors import InvalidInput, NotARepresentative


class Organisation(Aggregate):
    """Its id derives from its slug, so the slug is unique and a lookup needs no index."""

    @staticmethod
    def create_id(slug: str) -> UUID:
        return deterministic_id("organisation", slug)

    @event("Founded")
    def __init__(self, name: str, slug: str, founder_id: UUID, act: Act) -> None:
        check_slug(slug)
        self.name = name
        self.slug = slug
        self.representatives: set[UUID] = {founder_id}

    @event("RepresentativeAppointed")
    def appoint_representative(self, person_id: UUID, act: Act) -> None:
        self.check_is_representative(act.actor_id)
        if person_id in self.representatives:
            raise InvalidInput("already a representative", person_id=person_id)
        self.representatives.add(person_id)

    @event("RepresentativeWithdrawn")
    def withdraw_representative(self, person_id: UUID, act: Act) -> None:
        self.check_is_representative(act.actor_id)
        if person_id not in self.representatives:
            raise InvalidInput("not a representative", person_id=person_id)
        if len(self.representatives) == 1:
            raise InvalidInput("an organisation keeps at least one representative")
        self.representatives.discard(person_id)

    def is_representative(self, person_id: UUID) -> bool:
        return person_id in self.representatives

    def check_is_representative(self, person_id: UUID) -> None:
        if person_id not in self.representatives:
            raise NotARepresentative(
                "only the organisation's representatives may do this",
                organisation_id=self.id,
                person_id=person_id,
            )
