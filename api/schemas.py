"""Request and response bodies, with the examples shown in the OpenAPI document."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict

from ledger.domain import Access, Action, AppealOutcome, Choice, PostKind, ReasonCode, Role

Text200 = Field(min_length=1, max_length=200)


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _uuid_text(value: Any) -> Any:
    """Only a UUID's canonical text (8-4-4-4-12 hex digits) is an id in a request."""
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise ValueError("an id is a UUID in its canonical form (8-4-4-4-12 hex digits)")
    return value


def _date_text(value: Any) -> Any:
    """Only a calendar date (YYYY-MM-DD), without a time part, is a date in a request."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError("a date is YYYY-MM-DD, without a time part")
    return value


def _whole_number(value: Any) -> Any:
    """A JSON integer: a number without a fractional part (``3`` or ``3.0``, as JSON Schema
    has it), never a string or a boolean."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError("expected a whole number")


#: JSON has no UUID, date or enum types: these are parsed from their text, and from nothing
#: else, in bodies that are otherwise strict.
Id = Annotated[UUID, Strict(False), BeforeValidator(_uuid_text)]
IsoDate = Annotated[date, Strict(False), BeforeValidator(_date_text)]
Whole = Annotated[int, BeforeValidator(_whole_number)]


class Body(BaseModel):
    """A request body: strict, so nothing is coerced (no ``"yes"`` for true, no ``"3"`` for
    3, no 1 for true), and nothing unknown is accepted. Enum fields are marked
    ``Strict(False)`` (their values arrive as JSON strings); ids, dates and integers are
    :data:`Id`, :data:`IsoDate` and :data:`Whole`."""

    model_config = ConfigDict(extra="forbid", strict=True)


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
    quorum: Whole = Field(3, ge=1, le=10_000, examples=[3])
    threshold: float = Field(0.6, gt=0, le=1, examples=[0.6])
    min_community_votes: Whole = Field(2, ge=1, le=10_000, examples=[2])
    deadline_days: Whole = Field(7, ge=1, le=365, examples=[7])
    direct_invitations: bool = Field(False, examples=[False])


class CommunityIn(Body):
    organisation: str = Field(min_length=1, max_length=64, examples=["northwind"])
    name: str = Field(min_length=1, max_length=200, examples=["Northwind Voices"])
    slug: str = Field(min_length=2, max_length=64, examples=["northwind-voices"])
    access: Annotated[Access, Strict(False)] = Field(examples=["invitation-only"])
    admission_rule: RuleIn | None = None


class RoleIn(Body):
    person: str = Field(min_length=1, max_length=100, examples=["bea"])
    role: Annotated[Role, Strict(False)] = Field(examples=["moderator"])


class NominationIn(Body):
    nominee: str = Field(min_length=1, max_length=100, examples=["noor"])
    statement: str = Field(min_length=1, max_length=5_000,
                           examples=["Noor organises 40 tenant associations."])


class VoteIn(Body):
    choice: Annotated[Choice, Strict(False)] = Field(examples=["admit"])
    reason: str = Field(min_length=1, max_length=2_000, examples=["renters need a voice"])


class ThreadIn(Body):
    kind: Annotated[PostKind, Strict(False)] = Field(examples=["concern"])
    title: str = Field(min_length=1, max_length=200, examples=["Outages every storm"])
    body: str = Field(min_length=1, max_length=20_000,
                      examples=["Our village lost power five times since July."])


class ReplyIn(Body):
    body: str = Field(min_length=1, max_length=20_000, examples=["Same here."])
    kind: Annotated[PostKind, Strict(False)] = PostKind.COMMENT


class EditIn(Body):
    body: str = Field(min_length=1, max_length=20_000,
                      examples=["Correction: the outage lasted 30 hours, not 20."])


class CommitmentIn(Body):
    posts: list[Id] = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=5_000,
                      examples=["Restore northern maintenance crews by October."])
    due_on: IsoDate | None = Field(None, examples=["2026-10-31"])


class TextIn(Body):
    text: str = Field(min_length=1, max_length=5_000, examples=["Twelve crew posts advertised."])


class ModerationIn(Body):
    action: Annotated[Action, Strict(False)] = Field(examples=["remove-post"])
    reason_code: Annotated[ReasonCode, Strict(False)] = Field(examples=["confidential"])
    statement: str = Field(min_length=1, max_length=5_000,
                           examples=["The post quotes an internal document."])
    posts: list[Id] = Field(default_factory=list, max_length=100)
    thread: Id | None = None
    member: str | None = Field(None, min_length=1, max_length=100)
    automated_detection: bool = False
    author_notified: bool = False


class AppealDecisionIn(Body):
    outcome: Annotated[AppealOutcome, Strict(False)] = Field(examples=["reversed"])
    reasons: str = Field(min_length=1, max_length=5_000,
                         examples=["Public interest outweighs confidentiality."])


View = dict[str, Any]
