"""Named domain errors.

Every rule a command enforces fails with one of these. Each carries a stable ``code``
(used as the problem ``type`` by the HTTP API and printed by the CLI) and changes nothing:
the command that raised it has recorded no event.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LedgerError(Exception):
    """Base of every error a ledger command can raise on purpose."""

    code: ClassVar[str] = "ledger-error"
    status: ClassVar[int] = 409

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled whole, details included: a command run in another process (the API's
        command process) raises the same error here."""
        return _rebuild, (type(self), self.message, self.details)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **{
            k: str(v) if not isinstance(v, int | float | bool | None) else v
            for k, v in self.details.items()
        }}


# --- bad input ---------------------------------------------------------------------------
class InvalidInput(LedgerError):
    code = "invalid-input"
    status = 422


class NotFound(LedgerError):
    code = "not-found"
    status = 404


class SlugTaken(LedgerError):
    code = "slug-taken"


class HandleTaken(LedgerError):
    code = "handle-taken"


class CommandIdReused(LedgerError):
    code = "command-id-reused"


class CommandIdReusedForAnotherRequest(LedgerError):
    """The same command id (an API Idempotency-Key) came with another request than the
    first time: 422, as the IETF Idempotency-Key draft says."""

    code = "idempotency-key-reused"
    status = 422


class ConcurrencyConflict(LedgerError):
    code = "concurrency-conflict"


# --- who may act -------------------------------------------------------------------------
class NotPermitted(LedgerError):
    code = "not-permitted"
    status = 403


class NotARepresentative(NotPermitted):
    code = "not-a-representative"


class NotAMember(NotPermitted):
    code = "not-a-member"


class MemberSuspended(NotPermitted):
    code = "member-suspended"


class AuditorsCannotWrite(NotPermitted):
    code = "auditors-cannot-write"


class NotAModerator(NotPermitted):
    code = "not-a-moderator"


class NotTheAuthor(NotPermitted):
    code = "not-the-author"


class NotAffectedAuthor(NotPermitted):
    code = "not-affected-author"


class CannotReviewOwnDecision(NotPermitted):
    code = "cannot-review-own-decision"


# --- memberships and admission -----------------------------------------------------------
class AlreadyMember(LedgerError):
    code = "already-member"


class InvitationRequired(LedgerError):
    code = "invitation-required"


class NoPendingInvitation(LedgerError):
    code = "no-pending-invitation"


class DirectInvitationsNotAllowed(LedgerError):
    code = "direct-invitations-not-allowed"


class MembershipNotActive(LedgerError):
    code = "membership-not-active"


class MembershipNotSuspended(LedgerError):
    code = "membership-not-suspended"


class RoleConflict(LedgerError):
    code = "role-conflict"


class NominationsNotUsed(LedgerError):
    code = "nominations-not-used"


class AlreadyNominated(LedgerError):
    code = "already-nominated"


class AlreadyVoted(LedgerError):
    code = "already-voted"


class NoVoteToChange(LedgerError):
    code = "no-vote-to-change"


class NominationDecided(LedgerError):
    code = "nomination-decided"


class NominationDeadlinePassed(LedgerError):
    code = "nomination-deadline-passed"


class NominationUndecidable(LedgerError):
    code = "nomination-undecidable"


# --- threads and posts -------------------------------------------------------------------
class ThreadLocked(LedgerError):
    code = "thread-locked"


class ThreadNotLocked(LedgerError):
    code = "thread-not-locked"


class CannotReplyToRemovedPost(LedgerError):
    code = "cannot-reply-to-removed-post"


class PostNotEditable(LedgerError):
    code = "post-not-editable"


class PostAlreadyRetracted(LedgerError):
    code = "post-already-retracted"


class PostAlreadyModerated(LedgerError):
    code = "post-already-moderated"


class PostNotModerated(LedgerError):
    code = "post-not-moderated"


class AlreadyAcknowledged(LedgerError):
    code = "already-acknowledged"


class WrongCommunity(LedgerError):
    code = "wrong-community"
    status = 422


# --- commitments and moderation ----------------------------------------------------------
class CommitmentClosed(LedgerError):
    code = "commitment-closed"


class AppealAlreadyLodged(LedgerError):
    code = "appeal-already-lodged"


class NoAppealLodged(LedgerError):
    code = "no-appeal-lodged"


class AppealAlreadyDecided(LedgerError):
    code = "appeal-already-decided"


class AppealNotPossible(LedgerError):
    code = "appeal-not-possible"


def _rebuild(cls: type[LedgerError], message: str, details: dict[str, Any]) -> LedgerError:
    return cls(message, **details)
