"""The full history of a thread: every event of the thread, its posts and the moderation acts
on them, in ledger order, with who acted, when, and why — removed and retracted content and
every version included."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.application import DialogueLedger
from ledger.domain import Thread
from projections.change import Change, from_us
from replay.point_in_time import PointInTime

HIDDEN_FIELDS = ("act", "timestamp", "originator_topic")


def thread_history(app: DialogueLedger, point_in_time: PointInTime, thread_id: UUID, *,
                   at: int | None = None, as_of: datetime | None = None) -> dict[str, Any]:
    app.get(Thread, thread_id)
    changes = [Change.from_notification(n)
               for n in point_in_time.thread_events(thread_id, at, as_of)]
    people = {c.id: c.state for c in changes if c.kind == "Person.Registered"}
    entries = []
    for change in changes:
        if change.kind == "Person.Registered":
            continue
        actor = change.state.get("act", {}).get("actor_id")
        entries.append({
            "position": change.position,
            "occurred_at": from_us(change.occurred_us),
            "recorded_at": change.state.get("timestamp"),
            "event": change.kind,
            "aggregate_id": change.id,
            "version": change.version,
            "actor": {"id": actor, "handle": people.get(actor, {}).get("handle")},
            "command_id": change.state.get("act", {}).get("command_id"),
            "details": {k: v for k, v in change.state.items() if k not in HIDDEN_FIELDS},
        })
    return {"thread_id": str(thread_id),
            "as_of": {"position": point_in_time._point(at),
                      "time": None if as_of is None else as_of.isoformat()},
            "events": entries}


def render_history(history: dict[str, Any]) -> str:
    """One block per event: when, who, what, and its content."""
    lines = [f"History of thread {history['thread_id']} as of position "
             f"{history['as_of']['position']}"
             + (f", time {history['as_of']['time']}" if history["as_of"]["time"] else "")]
    for entry in history["events"]:
        who = entry["actor"]["handle"] or entry["actor"]["id"]
        lines.append(f"#{entry['position']:<7} {entry['occurred_at'][:19]}  {who:<12} "
                     f"{entry['event']}  ({entry['aggregate_id']} v{entry['version']})")
        for key, value in entry["details"].items():
            if value in (None, "", [], {}):
                continue
            text = str(value).replace("\n", " ")
            lines.append(f"{'':9}{key}: {text[:300]}{'…' if len(text) > 300 else ''}")
    return "\n".join(lines)
