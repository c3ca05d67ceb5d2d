"""A post: an opening post or a reply. Every version is kept; nothing is ever deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from ledger.domain.base import Act, check_text, opening_post_id
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
        check_text("body", body, MAX_BODY)
        self.community_id = community_id
        self.thread_id = thread_id
        self.parent_id = parent_id
        self.author_id = act.actor_id
        self.kind = kind
        self.for_organisation = for_organisation
        self.versions = [Version(body, act.occurred_at)]
        self.retracted = False
        self.moderation: ModerationState | None = None
        self.moderation_decision_id: UUID | None = None
        self.acknowledged_by: set[UUID] = set()

    @property
    def body(self) -> str:
        return self.versions[-1].body

    @property
    def is_publicly_visible(self) -> bool:
        return not self.retracted and self.moderation is None

    # --- the author's acts -----------------------------------------------------------
    @event("Edited")
    def edit(self, body: str, act: Act) -> None:
        self.check_is_author(act)
        check_text("body", body, MAX_BODY)
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
        self.moderation = ModerationState.HIDDEN
        self.moderation_decision_id = decision_id

    @event("Removed")
    def remove(self, decision_id: UUID, reason_code: str, act: Act) -> None:
        if self.moderation is ModerationState.REMOVED:
            raise PostAlreadyModerated("the post is already removed", post_id=self.id)
        self.moderation = ModerationState.REMOVED
        self.moderation_decision_id = decision_id

    @event("Restored")
    def restore(self, decision_id: UUID, act: Act) -> None:
        if self.moderation is None:
            raise PostNotModerated("the post is neither hidden nor removed", post_id=self.id)
        self.moderation = None
        self.moderation_decision_id = None

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
