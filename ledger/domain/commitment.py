"""A commitment the organisation makes in answer to posts, tracked until kept or dropped."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.base import Act
from ledger.errors import CommitmentClosed, InvalidInput


class CommitmentStatus(StrEnum):
    OPEN = "open"
    FULFILLED = "fulfilled"
    ABANDONED = "abandoned"


class Commitment(Aggregate):
    @event("Made")
    def __init__(
        self,
        community_id: UUID,
        post_ids: tuple[UUID, ...],
        text: str,
        due_on: date | None,
        act: Act,
    ) -> None:
        if not post_ids:
            raise InvalidInput("a commitment answers at least one post", field="post_ids")
        self.community_id = community_id
        self.post_ids = post_ids
        self.text = text
        self.due_on = due_on
        self.status = CommitmentStatus.OPEN
        self.progress: list[str] = []

    @event("ProgressRecorded")
    def record_progress(self, note: str, act: Act) -> None:
        self.check_is_open()
        self.progress.append(note)

    @event("Fulfilled")
    def fulfil(self, statement: str, act: Act) -> None:
        self.check_is_open()
        self.status = CommitmentStatus.FULFILLED

    @event("Abandoned")
    def abandon(self, statement: str, act: Act) -> None:
        self.check_is_open()
        self.status = CommitmentStatus.ABANDONED

    def check_is_open(self) -> None:
        if self.status is not CommitmentStatus.OPEN:
            raise CommitmentClosed(f"the commitment is {self.status}", commitment_id=self.id)
