"""A recorded event as the projections see it: its position, kind and plain JSON state.

Projections read the event log directly (``projections.log``) and decode each event's state
with orjson; they never build domain objects, which keeps rebuilds fast.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson
from eventsourcing.persistence import Notification


class Change(NamedTuple):
    position: int
    kind: str  # "Aggregate.Event", e.g. "Post.Published"
    id: str  # the aggregate's id
    version: int
    state: dict[str, Any]
    #: ``occurred_at`` in microseconds since the epoch (views store times so).
    occurred_us: int

    @classmethod
    def from_notification(cls, notification: Notification) -> Change:
        return cls.decode(notification.id, kind_of(notification.topic),
                          str(notification.originator_id), notification.originator_version,
                          notification.state)

    @classmethod
    def decode(cls, position: int, kind: str, id: str, version: int, state: bytes) -> Change:
        decoded = orjson.loads(state)
        if b"\\u0000" in state:  # a NUL, which no view stores (PostgreSQL text cannot)
            decoded = without_nul(decoded)
        act = decoded.get("act")
        return cls(position, kind, id, version, decoded,
                   to_us(act["occurred_at"]) if act else 0)

    @classmethod
    def unreadable(cls, position: int, kind: str, id: str, version: int,
                   error: Exception) -> Change:
        """An event whose state cannot be decoded: reading its state raises why (so the
        views that read it park it, see :mod:`projections.parked`)."""
        return cls(position, kind, id, version, Unreadable(error), 0)

    @property
    def actor(self) -> str:
        actor: str = self.state["act"]["actor_id"]
        return actor


class UnreadableEvent(ValueError):
    """A stored event whose state the views cannot decode."""


class Unreadable(dict[str, Any]):
    """The state of an event that could not be decoded: reading any of it raises
    :class:`UnreadableEvent`, saying why."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def __getitem__(self, key: str) -> Any:
        raise UnreadableEvent(f"cannot decode the event's state: "
                              f"{type(self.error).__name__}: {self.error}") from self.error

    def get(self, key: str, default: Any = None) -> Any:
        return self[key]


def without_nul(value: Any) -> Any:
    """``value`` (decoded JSON) with every NUL in its strings replaced by U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {key: without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    return value


def kind_of(topic: str) -> str:
    """``ledger.domain.post:Post.Published`` → ``Post.Published``."""
    return topic.rpartition(":")[2]


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def to_us(iso: str) -> int:
    return (datetime.fromisoformat(iso) - EPOCH) // MICROSECOND


def from_us(us: int | None) -> str | None:
    """Microseconds since the epoch as an ISO 8601 UTC time, for output."""
    if us is None:
        return None
    return (EPOCH + us * MICROSECOND).isoformat().replace("+00:00", "Z")
