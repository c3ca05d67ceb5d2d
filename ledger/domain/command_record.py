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
    def __init__(self, command_id: str, command: str, result_id: UUID, act: Act) -> None:
        self.command_id = command_id
        self.command = command
        self.result_id = result_id
        self.actor_id = act.actor_id
