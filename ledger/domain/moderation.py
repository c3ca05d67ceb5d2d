"""A moderation decision: who acted, on what, why; and the one appeal against it."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.base import Act, Side
from ledger.errors import (
    AppealAlreadyDecided,
    AppealAlreadyLodged,
    AppealNotPossible,
    CannotReviewOwnDecision,
    InvalidInput,
    NoAppealLodged,
    NotAffectedAuthor,
)


class ReasonCode(StrEnum):
    SPAM = "spam"
    HARASSMENT = "harassment"
    OFF_TOPIC = "off-topic"
    ILLEGAL = "illegal"
    CONFIDENTIAL = "confidential"
    OTHER = "other"


class Action(StrEnum):
    HIDE_POST = "hide-post"
    REMOVE_POST = "remove-post"
    RESTORE_POST = "restore-post"
    LOCK_THREAD = "lock-thread"
    UNLOCK_THREAD = "unlock-thread"
    SUSPEND_MEMBER = "suspend-member"
    REINSTATE_MEMBER = "reinstate-member"


POST_ACTIONS = frozenset({Action.HIDE_POST, Action.REMOVE_POST, Action.RESTORE_POST})
THREAD_ACTIONS = frozenset({Action.LOCK_THREAD, Action.UNLOCK_THREAD})
MEMBER_ACTIONS = frozenset({Action.SUSPEND_MEMBER, Action.REINSTATE_MEMBER})
#: Restrictive actions can be appealed; an appeal that succeeds reverses them.
APPEALABLE = frozenset(
    {Action.HIDE_POST, Action.REMOVE_POST, Action.LOCK_THREAD, Action.SUSPEND_MEMBER}
)


class AppealOutcome(StrEnum):
    UPHELD = "upheld"
    REVERSED = "reversed"


class ModerationDecision(Aggregate):
    @event("Taken")
    def __init__(
        self,
        community_id: UUID,
        moderator_side: Side,
        action: Action,
        reason_code: ReasonCode,
        statement: str,
        post_ids: tuple[UUID, ...],
        thread_id: UUID | None,
        member_id: UUID | None,
        affected_person_ids: tuple[UUID, ...],
        automated_detection: bool,
        author_notified: bool,
        act: Act,
    ) -> None:
        if (action in POST_ACTIONS) != bool(post_ids):
            raise InvalidInput("post actions name the affected posts, and only they do",
                               field="post_ids")
        if (action in THREAD_ACTIONS) != (thread_id is not None):
            raise InvalidInput("thread actions name the thread, and only they do",
                               field="thread_id")
        if (action in MEMBER_ACTIONS) != (member_id is not None):
            raise InvalidInput("member actions name the member, and only they do",
                               field="member_id")
        self.community_id = community_id
        self.moderator_id = act.actor_id
        self.moderator_side = moderator_side
        self.action = action
        self.reason_code = reason_code
        self.statement = statement
        self.post_ids = post_ids
        self.thread_id = thread_id
        self.member_id = member_id
        self.affected_person_ids = affected_person_ids
        self.automated_detection = automated_detection
        self.author_notified = author_notified
        self.appellant_id: UUID | None = None
        self.appeal_outcome: AppealOutcome | None = None

    @event("AuthorNotified")
    def notify_author(self, notice: str, act: Act) -> None:
        self.author_notified = True

    @event("AppealLodged")
    def lodge_appeal(self, statement: str, act: Act) -> None:
        if self.action not in APPEALABLE:
            raise AppealNotPossible(f"a {self.action} decision cannot be appealed",
                                    decision_id=self.id)
        if act.actor_id not in self.affected_person_ids:
            raise NotAffectedAuthor("only the affected author can appeal", decision_id=self.id)
        if self.appellant_id is not None:
            raise AppealAlreadyLodged("this decision has already been appealed",
                                      decision_id=self.id)
        self.appellant_id = act.actor_id

    @event("AppealDecided")
    def decide_appeal(self, outcome: AppealOutcome, reasons: str, act: Act) -> None:
        if self.appellant_id is None:
            raise NoAppealLodged("no appeal has been lodged", decision_id=self.id)
        if self.appeal_outcome is not None:
            raise AppealAlreadyDecided("the appeal has been decided", decision_id=self.id)
        if act.actor_id == self.moderator_id:
            raise CannotReviewOwnDecision(
                "a moderator cannot decide an appeal against their own decision",
                decision_id=self.id,
            )
        if act.actor_id == self.appellant_id:
            raise CannotReviewOwnDecision("a moderator cannot decide their own appeal",
                                          decision_id=self.id)
        self.appeal_outcome = outcome
