"""Request and response bodies, with the examples shown in the OpenAPI document."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ledger.domain import Access, Action, AppealOutcome, Choice, PostKind, ReasonCode, Role

Text200 = Field(min_length=1, max_length=200)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReceiptOut(BaseModel):
    id: UUID = Field(description="what the command created or changed")
    position: int = Field(description="the ledger position of its last event; pass it as "
                                      "min_position to read your own write")
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"id": "6d4a4b8e-b3b0-58ad-b161-781900f5509d", "position": 412}]})


class ProblemOut(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [
        {"type": "urn:dialogue-ledger:problem:thread-locked", "title": "Conflict",
         "status": 409, "detail": "the thread is locked", "code": "thread-locked",
         "instance": "/posts/0b6f.../replies"}]})


class PersonIn(Body):
    handle: str = Field(min_length=1, max_length=100, examples=["ruth"])
    display_name: str = Field(min_length=1, max_length=200, examples=["Ruth Adeyemi"])
    is_bot: bool = False


class OrganisationIn(Body):
    name: str = Field(min_length=1, max_length=200, examples=["Northwind Energy"])
    slug: str = Field(min_length=2, max_length=64, examples=["northwind"])


class PersonRefIn(Body):
    person: str = Field(min_length=1, max_length=100, description="a person's id or handle",
                        examples=["ruth"])


class RuleIn(Body):
    quorum: int = Field(3, ge=1, le=10_000, examples=[3])
    threshold: float = Field(0.6, gt=0, le=1, examples=[0.6])
    min_community_votes: int = Field(2, ge=1, le=10_000, examples=[2])
    deadline_days: int = Field(7, ge=1, le=365, examples=[7])
    direct_invitations: bool = Field(False, examples=[False])


class CommunityIn(Body):
    organisation: str = Field(min_length=1, max_length=64, examples=["northwind"])
    name: str = Field(min_length=1, max_length=200, examples=["Northwind Voices"])
    slug: str = Field(min_length=2, max_length=64, examples=["northwind-voices"])
    access: Access = Field(examples=["invitation-only"])
    admission_rule: RuleIn | None = None


class RoleIn(Body):
    person: str = Field(min_length=1, max_length=100, examples=["bea"])
    role: Role = Field(examples=["moderator"])


class NominationIn(Body):
    nominee: str = Field(min_length=1, max_length=100, examples=["noor"])
    statement: str = Field(min_length=1, max_length=5_000,
                           examples=["Noor organises 40 tenant associations."])


class VoteIn(Body):
    choice: Choice = Field(examples=["admit"])
    reason: str = Field(min_length=1, max_length=2_000, examples=["renters need a voice"])


class ThreadIn(Body):
    kind: PostKind = Field(examples=["concern"])
    title: str = Field(min_length=1, max_length=200, examples=["Outages every storm"])
    body: str = Field(min_length=1, max_length=20_000,
                      examples=["Our village lost power five times since July."])


class ReplyIn(Body):
    body: str = Field(min_length=1, max_length=20_000, examples=["Same here."])
    kind: PostKind = PostKind.COMMENT


class EditIn(Body):
    body: str = Field(min_length=1, max_length=20_000,
                      examples=["Correction: the outage lasted 30 hours, not 20."])


class CommitmentIn(Body):
    posts: list[UUID] = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=5_000,
                      examples=["Restore northern maintenance crews by October."])
    due_on: date | None = Field(None, examples=["2026-10-31"])


class TextIn(Body):
    text: str = Field(min_length=1, max_length=5_000, examples=["Twelve crew posts advertised."])


class ModerationIn(Body):
    action: Action = Field(examples=["remove-post"])
    reason_code: ReasonCode = Field(examples=["confidential"])
    statement: str = Field(min_length=1, max_length=5_000,
                           examples=["The post quotes an internal document."])
    posts: list[UUID] = Field(default_factory=list, max_length=100)
    thread: UUID | None = None
    member: str | None = Field(None, min_length=1, max_length=100)
    automated_detection: bool = False
    author_notified: bool = False


class AppealDecisionIn(Body):
    outcome: AppealOutcome = Field(examples=["reversed"])
    reasons: str = Field(min_length=1, max_length=5_000,
                         examples=["Public interest outweighs confidentiality."])


View = dict[str, Any]
