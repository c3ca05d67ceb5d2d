"""The record that a client's command id has been carried out, for idempotent retries."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.base import Act, deterministic_id


class CommandRecord(Aggregate):
    """Saved in the same transaction as the command's events; its id derives from the
    command id, so a retry finds it (or conflicts with it) and records nothing twice."""

    @staticmethod
    def create_id(command_id: str) -> UUID:
        return deterministic_id("command", command_id)

    @event("Recorded")
    def __init__(self, command_id: str, command: str, result_id: UUID, act: Act,
                 request: str | None = None) -> None:
        self.command_id = command_id
        self.command = command
        self.result_id = result_id
        self.actor_id = act.actor_id
        #: A digest of the request the command came with, if its caller gave one (records
        #: from before it existed have none).
        self.request = request


class CommandId(str):
    """A command id that also carries a digest of the request it came with (``request``):
    a retry under the same id with another request is then refused instead of being
    answered as a replay of the first. A plain ``str`` command id is compared by command
    and actor only."""

    request: str | None

    def __new__(cls, value: str, request: str | None = None) -> CommandId:
        made = super().__new__(cls, value)
        made.request = request
        return made
