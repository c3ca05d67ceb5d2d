"""A person taking part in dialogues, known by a unique handle."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.base import Act, check_handle, check_text, deterministic_id


class Person(Aggregate):
    """A person's id derives from their handle (case-insensitive), so a handle is unique and
    a person is found by handle without an index."""

    @staticmethod
    def create_id(handle: str) -> UUID:
        return deterministic_id("person", handle.lower())

    @event("Registered")
    def __init__(self, handle: str, display_name: str, is_bot: bool, act: Act) -> None:
        check_handle(handle)
        check_text("display_name", display_name, 200)
        self.handle = handle
        self.display_name = display_name
        self.is_bot = is_bot
