"""The dialogue's aggregates. Each is small, enforces its own invariants with named
``check_...`` methods, and changes only by recording past-tense events."""

from ledger.domain.base import Act, Side
from ledger.domain.command_record import CommandId, CommandRecord
from ledger.domain.commitment import Commitment, CommitmentStatus
from ledger.domain.community import Access, AdmissionRule, Community, CommunitySlug
from ledger.domain.membership import JoinedVia, Membership, Role, Status, can_see_community
from ledger.domain.moderation import Action, AppealOutcome, ModerationDecision, ReasonCode
from ledger.domain.nomination import Choice, Nomination, NominationStatus
from ledger.domain.organisation import Organisation
from ledger.domain.person import HandleClaim, Person
from ledger.domain.post import ModerationState, Post
from ledger.domain.thread import PostKind, Thread

__all__ = [
    "Access",
    "Act",
    "Action",
    "AdmissionRule",
    "AppealOutcome",
    "Choice",
    "CommandId",
    "CommandRecord",
    "Commitment",
    "CommitmentStatus",
    "Community",
    "CommunitySlug",
    "HandleClaim",
    "JoinedVia",
    "Membership",
    "ModerationDecision",
    "ModerationState",
    "Nomination",
    "NominationStatus",
    "Organisation",
    "Person",
    "Post",
    "PostKind",
    "ReasonCode",
    "Role",
    "Side",
    "Status",
    "Thread",
    "can_see_community",
]
