"""What every event carries, and the small value types shared by the aggregates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID, uuid5

from ledger.errors import InvalidInput

#: Namespace of every deterministic id in the ledger (uuid5).
LEDGER_NAMESPACE = UUID("6f1c1f0e-9a53-4d5e-9a51-0d1a1e6c2b7a")

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Act:
    """Who did something, when it happened, and the client's command id if one was given.

    ``occurred_at`` is the time of the act itself; it can differ from the time the event is
    recorded (the event's ``timestamp``), for example when a historic archive is imported.
    """

    actor_id: UUID
    occurred_at: datetime
    command_id: str | None = None


def utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC; naive datetimes are rejected."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput("times must carry a time zone", value=moment.isoformat())
    return moment.astimezone(UTC)


def now_utc() -> datetime:
    return datetime.now(tz=UTC)


def deterministic_id(*parts: object) -> UUID:
    return uuid5(LEDGER_NAMESPACE, "/".join(str(p) for p in parts))


def opening_post_id(thread_id: UUID) -> UUID:
    """A thread's opening post has an id derived from the thread's: one per thread."""
    return deterministic_id("opening-post", thread_id)


def debate_thread_id(nomination_id: UUID) -> UUID:
    """A nomination's debate thread has an id derived from the nomination's."""
    return deterministic_id("debate-thread", nomination_id)


def check_text(field: str, value: str, max_length: int) -> str:
    """Reject empty or over-long free text, and the NUL character (no SQL text column, on
    PostgreSQL, can hold it). The commands check free text, names and handles by the
    stricter rules of :mod:`ledger.domain.text` instead."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} must not be empty", field=field)
    if "\x00" in value:
        raise InvalidInput(f"{field} must not contain the NUL character", field=field)
    if len(value) > max_length:
        raise InvalidInput(
            f"{field} is longer than {max_length} characters", field=field, max=max_length
        )
    return value


def check_slug(value: str) -> str:
    if not isinstance(value, str) or not 2 <= len(value) <= 64 or not SLUG_PATTERN.match(value):
        raise InvalidInput(
            "a slug is 2-64 characters of lower-case letters, digits and single hyphens",
            field="slug",
            value=value,
        )
    _check_not_an_id("slug", value)
    return value


def _check_not_an_id(field: str, value: str) -> None:
    """Slugs and handles stand in for ids wherever an id is accepted, so none may read as
    one."""
    try:
        UUID(value)
    except ValueError:
        return
    raise InvalidInput(f"a {field} must not look like an id", field=field, value=value)


class Side(StrEnum):
    """Which side a moderator (or a voter) belongs to."""

    ORGANISATION = "organisation"
    COMMUNITY = "community"
