"""Views as they were at an earlier point: a ledger position (``at``) or a time (``as_of``,
events that occurred by then).

Only the events concerned are read — those of the thread, its posts, the moderation
decisions on them and the people involved (or a community's memberships, or its decisions) —
with ``ledger.store.events_of``, which uses the store's index on aggregate ids; so the cost
depends on the thread, not on the size of the ledger. The events are applied by the same view
handlers as the live views, into an in-memory SQLite database, and read with the same
queries, so a view as of now equals the live view.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import Notification
from eventsourcing.sqlite import SQLiteDatastore

from ledger.application import DialogueLedger
from ledger.domain import Community
from ledger.errors import InvalidInput
from ledger.store import events_of
from projections.change import EPOCH, MICROSECOND, Change
from projections.queries import Json, ViewReader
from projections.runner import Projector
from projections.store import ViewStore
from projections.view import View
from projections.views import DirectoryView, ModerationView, ThreadsView


class ViewSnapshot:
    """View tables in a private in-memory database, filled with chosen events."""

    def __init__(self, app: DialogueLedger, views: Sequence[type[View]]) -> None:
        self.datastore = SQLiteDatastore(f"file:pit_{uuid4().hex}?mode=memory&cache=shared",
                                         pool_size=1, max_overflow=0)
        self.stores = {view.name: ViewStore(view, self.datastore, app.name)
                       for view in views}
        for store in self.stores.values():
            store.create_tables()

    def store(self, name: str) -> ViewStore:
        return self.stores[name]

    def load(self, notifications: Iterable[Notification], up_to: int) -> None:
        changes = [Change.from_notification(n) for n in notifications]
        for store in self.stores.values():
            store.apply(changes, max(up_to, 1))

    def close(self) -> None:
        self.datastore.close()

    def __enter__(self) -> ViewSnapshot:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


class PointInTime:
    """Thread views, rosters and moderation logs as of a position or a time."""

    def __init__(self, app: DialogueLedger, projector: Projector) -> None:
        self.app = app
        self.projector = projector

    # --- what each view needs -----------------------------------------------------------
    def thread_events(self, thread_id: UUID, at: int | None = None,
                      as_of: datetime | None = None) -> list[Notification]:
        """The thread's own events, its posts', the moderation decisions on them, and the
        registrations of everyone who acted, up to the point."""
        store = self.projector.store("threads")
        post_ids = [UUID(row["id"]) for row in store.query(
            "SELECT id FROM {prefix}posts WHERE thread_id = ?", (str(thread_id),))]
        decisions = [UUID(row["id"]) for row in store.query(
            "SELECT DISTINCT d.id FROM {prefix}decisions d "
            "LEFT JOIN {prefix}decision_posts dp ON dp.decision_id = d.id "
            "LEFT JOIN {prefix}posts p ON p.id = dp.post_id "
            "WHERE d.thread_id = ? OR p.thread_id = ?", (str(thread_id), str(thread_id)))]
        return self._with_people(self._select([thread_id, *post_ids, *decisions], at, as_of),
                                 at, as_of)

    def community_events(self, community_id: UUID, *, memberships: bool, decisions: bool,
                         at: int | None = None, as_of: datetime | None = None,
                         ) -> list[Notification]:
        community = self.app.get(Community, community_id)
        ids: list[UUID] = [community.id, community.organisation_id]
        if memberships:
            ids += [UUID(r["id"]) for r in self.projector.store("directory").query(
                "SELECT id FROM {prefix}memberships WHERE community_id = ?",
                (str(community_id),))]
        if decisions:
            ids += [UUID(r["id"]) for r in self.projector.store("moderation").query(
                "SELECT id FROM {prefix}decisions WHERE community_id = ?",
                (str(community_id),))]
        return self._with_people(self._select(ids, at, as_of), at, as_of)

    # --- the views ----------------------------------------------------------------------
    def thread(self, thread_id: UUID, *, audience: str = "public", at: int | None = None,
               as_of: datetime | None = None) -> Json:
        events = self.thread_events(thread_id, at, as_of)
        with ViewSnapshot(self.app, (DirectoryView, ThreadsView, ModerationView)) as snap:
            snap.load(events, self._point(at))
            view = ViewReader(snap).thread(str(thread_id),
                                           audience="auditor" if audience == "auditor"
                                           else "public")
        return self._stamp(view, at, as_of)

    def roster(self, community_id: UUID, *, at: int | None = None,
               as_of: datetime | None = None) -> Json:
        events = self.community_events(community_id, memberships=True, decisions=False,
                                       at=at, as_of=as_of)
        with ViewSnapshot(self.app, (DirectoryView,)) as snap:
            snap.load(events, self._point(at))
            members = ViewReader(snap).roster(str(community_id))
        return self._stamp({"community_id": str(community_id), "members": members}, at, as_of)

    def moderation_log(self, community_id: UUID, *, at: int | None = None,
                       as_of: datetime | None = None) -> Json:
        events = self.community_events(community_id, memberships=False, decisions=True,
                                       at=at, as_of=as_of)
        with ViewSnapshot(self.app, (DirectoryView, ModerationView)) as snap:
            snap.load(events, self._point(at))
            reader = ViewReader(snap)
            items: list[Json] = []
            after = None
            while True:
                chunk = reader.moderation_log(str(community_id), limit=1000, after=after)
                items += chunk["items"]
                after = chunk["next"]
                if after is None:
                    break
        return self._stamp({"community_id": str(community_id), "items": items}, at, as_of)

    # --- helpers ------------------------------------------------------------------------
    def _point(self, at: int | None) -> int:
        head = self.app.position
        if at is not None and at > head:
            raise InvalidInput("that position is beyond the ledger's head", field="at",
                               head=head)
        return head if at is None else at

    def _select(self, ids: Sequence[UUID], at: int | None,
                as_of: datetime | None) -> list[Notification]:
        found = events_of(self.app.recorder, ids, self._point(at))
        if as_of is None:
            return found
        cutoff = (as_of - EPOCH) // MICROSECOND
        return [n for n in found if Change.from_notification(n).occurred_us <= cutoff]

    def _with_people(self, found: list[Notification], at: int | None,
                     as_of: datetime | None) -> list[Notification]:
        people: set[UUID] = set()
        for notification in found:
            change = Change.from_notification(notification)
            act = change.state.get("act") or {}
            for key in ("actor_id",):
                if act.get(key):
                    people.add(UUID(act[key]))
            for key in ("person_id", "nominee_id", "nominator_id", "member_id",
                        "founder_id"):
                value: Any = change.state.get(key)
                if value:
                    people.add(UUID(value))
            for value in change.state.get("affected_person_ids", ()):
                people.add(UUID(value))
        registrations = events_of(self.app.recorder, sorted(people), None)
        merged = {n.id: n for n in [*found, *registrations]}
        return [merged[k] for k in sorted(merged)]

    def _stamp(self, view: Json, at: int | None, as_of: datetime | None) -> Json:
        view["as_of"] = {"position": self._point(at),
                         "time": None if as_of is None else as_of.isoformat()}
        return view
