"""A person taking part in dialogues, known by a unique handle."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.base import Act, deterministic_id
from ledger.domain.text import claim_key, handle_key


class Person(Aggregate):
    """A person's id derives from their handle's key (its PRECIS UsernameCaseMapped form:
    case-insensitive, width-mapped, NFC), so a handle is unique and a person is found by
    handle without an index. For an ASCII handle the key is ``handle.lower()``, as it always
    was.

    The handle and display name are checked (and brought to their stored form) by the
    command, before the event: see :mod:`ledger.domain.text`. Events recorded under older
    rules load as they were recorded."""

    @staticmethod
    def create_id(handle: str) -> UUID:
        return deterministic_id("person", handle_key(handle))

    @staticmethod
    def legacy_id(handle: str) -> UUID:
        """The id a person registered under ``handle`` got before handles were keyed by
        PRECIS; the same as :meth:`create_id` for every ASCII handle."""
        return deterministic_id("person", handle.lower())

    @event("Registered")
    def __init__(self, handle: str, display_name: str, is_bot: bool, act: Act) -> None:
        self.handle = handle
        self.display_name = display_name
        self.is_bot = is_bot


class HandleClaim(Aggregate):
    """Holds a handle's look-alike class (its claim key, see
    :func:`ledger.domain.text.claim_key`) for the person who registered it.

    Its id is the id a person whose handle *is* that claim key would have: a handle that is
    its own claim key (``ruth``) needs no claim, the person holds the place; a handle that
    is not (``emma``, whose skeleton is ``ernrna``; ``ruth`` with an Armenian seh for the u) saves a
    claim in the same transaction as the person. Two registrations of look-alikes then
    write version 1 of one aggregate, and the store lets only one of them through, however
    close together they come."""

    @staticmethod
    def create_id(key: str) -> UUID:
        return deterministic_id("person", key)

    @staticmethod
    def needed_for(handle: str) -> str | None:
        """The claim key a registration of ``handle`` must claim, or None when the person's
        own id is the claim."""
        key = claim_key(handle)
        return None if HandleClaim.create_id(key) == Person.create_id(handle) else key

    @event("Claimed")
    def __init__(self, key: str, person_id: UUID, act: Act) -> None:
        self.key = key
        self.person_id = person_id
