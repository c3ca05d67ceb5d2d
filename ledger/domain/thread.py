"""A thread: a title, a kind, and its opening post. Replies are posts of their own."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from ledger.domain.base import Act, debate_thread_id, opening_post_id
from ledger.errors import ThreadLocked, ThreadNotLocked


class PostKind(StrEnum):
    QUESTION = "question"
    CONCERN = "concern"
    PROPOSAL = "proposal"
    COMMENT = "comment"


class Thread(Aggregate):
    """A thread's opening post is the one post in it without a parent. A nomination's
    debate thread names the nomination, and its id derives from the nomination's."""

    @staticmethod
    def create_id(nomination_id: UUID | None) -> UUID:
        return uuid4() if nomination_id is None else debate_thread_id(nomination_id)

    @event("Opened")
    def __init__(
        self,
        community_id: UUID,
        kind: PostKind,
        title: str,
        nomination_id: UUID | None,
        act: Act,
    ) -> None:
        self.community_id = community_id
        self.kind = kind
        self.title = title
        self.opener_id = act.actor_id
        self.nomination_id = nomination_id
        self.locked = False
        self.lock_decision_id: UUID | None = None

    @event("Locked")
    def lock(self, decision_id: UUID, act: Act) -> None:
        self.check_not_locked()
        self.locked = True
        self.lock_decision_id = decision_id

    @event("Unlocked")
    def unlock(self, decision_id: UUID, act: Act) -> None:
        if not self.locked:
            raise ThreadNotLocked("the thread is not locked", thread_id=self.id)
        self.locked = False
        self.lock_decision_id = None

    @property
    def opening_post_id(self) -> UUID:
        return opening_post_id(self.id)

    def check_not_locked(self) -> None:
        if self.locked:
            raise ThreadLocked("the thread is locked", thread_id=self.id)
