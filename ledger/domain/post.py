"""A post: an opening post or a reply. Every version is kept; nothing is ever deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from ledger.domain.base import Act, opening_post_id
from ledger.domain.thread import PostKind
from ledger.errors import (
    AlreadyAcknowledged,
    CannotReplyToRemovedPost,
    NotTheAuthor,
    PostAlreadyModerated,
    PostAlreadyRetracted,
    PostNotEditable,
    PostNotModerated,
)

MAX_BODY = 20_000


class ModerationState(StrEnum):
    HIDDEN = "hidden"
    REMOVED = "removed"


@dataclass(frozen=True)
class Standing:
    """A moderation decision that currently hides or removes the post."""

    decision_id: UUID
    state: ModerationState
    reason_code: str


@dataclass(frozen=True)
class Version:
    body: str
    occurred_at: datetime


class Post(Aggregate):
    @staticmethod
    def create_id(thread_id: UUID, parent_id: UUID | None) -> UUID:
        return opening_post_id(thread_id) if parent_id is None else uuid4()

    @event("Published")
    def __init__(
        self,
        community_id: UUID,
        thread_id: UUID,
        parent_id: UUID | None,
        kind: PostKind,
        body: str,
        for_organisation: bool,
        act: Act,
    ) -> None:
        self.community_id = community_id
        self.thread_id = thread_id
        self.parent_id = parent_id
        self.author_id = act.actor_id
        self.kind = kind
        self.for_organisation = for_organisation
        self.versions = [Version(body, act.occurred_at)]
        self.retracted = False
        self.standing: list[Standing] = []
        self.acknowledged_by: set[UUID] = set()

    @property
    def body(self) -> str:
        return self.versions[-1].body

    @property
    def moderation(self) -> ModerationState | None:
        """The state the latest standing decision puts the post in (None: not moderated)."""
        return self.standing[-1].state if self.standing else None

    @property
    def moderation_decision_id(self) -> UUID | None:
        return self.standing[-1].decision_id if self.standing else None

    @property
    def is_publicly_visible(self) -> bool:
        return not self.retracted and self.moderation is None

    # --- the author's acts -----------------------------------------------------------
    @event("Edited")
    def edit(self, body: str, act: Act) -> None:
        self.check_is_author(act)
        if self.retracted or self.moderation is ModerationState.REMOVED:
            raise PostNotEditable("a retracted or removed post cannot be edited",
                                  post_id=self.id)
        self.versions.append(Version(body, act.occurred_at))

    @event("Retracted")
    def retract(self, act: Act) -> None:
        self.check_is_author(act)
        if self.retracted:
            raise PostAlreadyRetracted("the post is already retracted", post_id=self.id)
        self.retracted = True

    # --- the organisation's listening ------------------------------------------------
    @event("Acknowledged")
    def acknowledge(self, act: Act) -> None:
        if act.actor_id in self.acknowledged_by:
            raise AlreadyAcknowledged("already acknowledged by this representative",
                                      post_id=self.id)
        self.acknowledged_by.add(act.actor_id)

    # --- moderation ------------------------------------------------------------------
    @event("Hidden")
    def hide(self, decision_id: UUID, reason_code: str, act: Act) -> None:
        if self.moderation is not None:
            raise PostAlreadyModerated("the post is already hidden or removed", post_id=self.id)
        self.standing.append(Standing(decision_id, ModerationState.HIDDEN, reason_code))

    @event("Removed")
    def remove(self, decision_id: UUID, reason_code: str, act: Act) -> None:
        if self.moderation is ModerationState.REMOVED:
            raise PostAlreadyModerated("the post is already removed", post_id=self.id)
        self.standing.append(Standing(decision_id, ModerationState.REMOVED, reason_code))

    @event("Restored")
    def restore(self, decision_id: UUID, act: Act) -> None:
        """A moderator's decision to restore the post lifts every standing decision."""
        if self.moderation is None:
            raise PostNotModerated("the post is neither hidden nor removed", post_id=self.id)
        self.standing = []

    @event("ModerationReversed")
    def reverse_moderation(self, decision_id: UUID, act: Act) -> None:
        """An appeal reversed ``decision_id``: it no longer stands; any other still does."""
        if all(s.decision_id != decision_id for s in self.standing):
            raise PostNotModerated("that decision does not stand on this post",
                                   post_id=self.id, decision_id=decision_id)
        self.standing = [s for s in self.standing if s.decision_id != decision_id]

    # --- invariants ------------------------------------------------------------------
    def check_is_author(self, act: Act) -> None:
        if act.actor_id != self.author_id:
            raise NotTheAuthor("only the author can do this", post_id=self.id)

    def check_can_be_replied_to(self) -> None:
        if not self.is_publicly_visible:
            raise CannotReplyToRemovedPost(
                "the post was removed, hidden or retracted; it cannot be replied to",
                post_id=self.id,
            )
