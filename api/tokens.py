"""API tokens: one per person and role, kept hashed.

A token is ``dl_`` followed by 32 random bytes (URL-safe base64). Only its SHA-256 digest is
recorded, and the token record's id derives from the digest, so a presented token is found by
key; the token itself is shown once, when issued, and never stored.
"""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event

from ledger.application import DialogueLedger
from ledger.domain.base import Act, deterministic_id
from ledger.domain.text import check_free_text
from ledger.errors import InvalidInput, NotFound

PREFIX = "dl_"


class TokenRole(StrEnum):
    MEMBER = "member"
    REPRESENTATIVE = "representative"
    MODERATOR = "moderator"
    AUDITOR = "auditor"


class ApiToken(Aggregate):
    @staticmethod
    def create_id(digest: str) -> UUID:
        return deterministic_id("api-token", digest)

    @event("Issued")
    def __init__(self, digest: str, person_id: UUID, role: TokenRole, label: str,
                 act: Act) -> None:
        self.person_id = person_id
        self.role = role
        self.label = label
        self.revoked = False

    @event("Revoked")
    def revoke(self, act: Act) -> None:
        self.revoked = True


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(app: DialogueLedger, person_ref: str, role: TokenRole | str,
                label: str = "") -> tuple[str, UUID]:
    """Issue a new token for a person; returns the token (shown once) and its id."""
    person_id = app.person_id(person_ref)
    try:
        role = TokenRole(role)
    except ValueError:
        raise InvalidInput(f"unknown role {role!r}", field="role",
                           allowed=", ".join(TokenRole)) from None
    if label:  # an operator's note, recorded: free text (ledger.domain.text)
        label = check_free_text("label", label, 200)
    token = PREFIX + secrets.token_urlsafe(32)
    digest = digest_of(token)
    record = ApiToken(digest=digest, person_id=person_id, role=role, label=label,
                      act=Act(actor_id=person_id, occurred_at=app.clock()))
    app.save(record)
    return token, record.id


def find_token(app: DialogueLedger, token: str) -> ApiToken | None:
    """The live token record for a presented token, or None."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    try:
        record: ApiToken = app.repository.get(ApiToken.create_id(digest_of(token)))
    except AggregateNotFoundError:
        return None
    return None if record.revoked else record


def revoke_token(app: DialogueLedger, token_id: UUID) -> None:
    try:
        record: ApiToken = app.repository.get(token_id)
    except AggregateNotFoundError:
        raise NotFound("no such token", id=token_id) from None
    record.revoke(act=Act(actor_id=record.person_id, occurred_at=app.clock()))
    app.save(record)

