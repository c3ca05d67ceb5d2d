"""A small world for the listen-and-respond report tests, where every act happens at an exact
time.

Times are given in hours from ``BASE`` (2026-04-01 00:00 UTC): ``at(10)`` is 10:00 on April 1.
The report's period in these tests is ``[at(0), at(240))`` (ten days: April 1-10), so the
previous period is ``[at(-240), at(0))`` (March 22-31), and ages and overdue dates are measured
at ``NOW = at(300)`` (2026-04-13 12:00 UTC) unless a test says otherwise.

``build_town(ledger)`` records, all at ``SETUP`` (a month before ``BASE``; the ledger's clock
must read ``LATE`` or later, since no act may be dated in the ledger's future):

* the organisation ``org`` with its representatives ``rep`` (founder) and ``rep2``, and a bot
  representative ``botrep``;
* ``hall``: an invitation-only community (direct invitations allowed), where ``rep2`` is a
  representative and the organisation-side moderator, ``cmod`` a member moderating for the
  community side, ``alice`` ... ``frank`` members, ``bot`` a member that is a bot and
  ``botrep`` a representative that is a bot;
* ``annex``: an open community of the same organisation, with ``rep`` (its founder and
  representative, also moderating there for the organisation side), ``alice`` and ``bob``;
* ``outsider``: registered, member of nothing (someone to nominate).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from ledger.application import DialogueLedger, Receipt
from ledger.domain import Access, Action, AdmissionRule, AppealOutcome, PostKind, ReasonCode, Role
from ledger.domain.base import debate_thread_id, opening_post_id
from projections.report import ListeningReport, ReportRequest
from projections.runner import Projector

BASE = datetime(2026, 4, 1, tzinfo=UTC)
SETUP = BASE - timedelta(days=30)
NOW_H = 300.0


def at(hours: float) -> datetime:
    """``hours`` after ``BASE``."""
    return BASE + timedelta(hours=hours)


def iso(hours: float) -> str:
    """``at(hours)`` as the report writes times."""
    return at(hours).isoformat().replace("+00:00", "Z")


NOW = at(NOW_H)
START, END = at(0), at(240)
#: The ledger's clock in these tests: after every act (a given ``occurred_at`` may not lie in
#: the ledger's future).
LATE = at(1000)

Q, C, P, CM = PostKind.QUESTION, PostKind.CONCERN, PostKind.PROPOSAL, PostKind.COMMENT
HIDE, REMOVE = Action.HIDE_POST, Action.REMOVE_POST
UPHELD, REVERSED = AppealOutcome.UPHELD, AppealOutcome.REVERSED


@dataclass
class Town:
    app: DialogueLedger
    org: UUID
    hall: UUID
    annex: UUID
    rep: UUID
    rep2: UUID
    cmod: UUID
    alice: UUID
    bob: UUID
    carol: UUID
    dave: UUID
    erin: UUID
    frank: UUID
    bot: UUID
    botrep: UUID
    outsider: UUID

    # --- acts at exact times --------------------------------------------------------------
    def thread(self, author: UUID, hours: float, kind: PostKind = Q,
               community: UUID | None = None) -> tuple[UUID, UUID]:
        """Open a thread at ``at(hours)``; ``(thread id, opening post id)``."""
        thread_id = self.app.open_thread(community or self.hall, kind, f"{kind} {hours}",
                                         f"Opening post at {hours} h", actor_id=author,
                                         occurred_at=at(hours)).id
        return thread_id, opening_post_id(thread_id)

    def reply(self, parent: UUID, author: UUID, hours: float, kind: PostKind = CM) -> UUID:
        return self.app.reply(parent, f"Reply at {hours} h", actor_id=author, kind=kind,
                              occurred_at=at(hours)).id

    def retract(self, post: UUID, author: UUID, hours: float) -> Receipt:
        return self.app.retract_post(post, actor_id=author, occurred_at=at(hours))

    def ack(self, post: UUID, by: UUID, hours: float) -> Receipt:
        return self.app.acknowledge_post(post, actor_id=by, occurred_at=at(hours))

    def moderate(self, moderator: UUID, action: Action, reason: ReasonCode,
                 posts: Sequence[UUID], hours: float,
                 community: UUID | None = None) -> Receipt:
        return self.app.moderate(community or self.hall, action, reason, "Decided.",
                                 actor_id=moderator, post_ids=posts, occurred_at=at(hours))

    def appeal(self, decision: UUID, by: UUID, hours: float) -> Receipt:
        return self.app.lodge_appeal(decision, "Please look again.", actor_id=by,
                                     occurred_at=at(hours))

    def decide(self, decision: UUID, by: UUID, outcome: AppealOutcome,
               hours: float) -> Receipt:
        return self.app.decide_appeal(decision, outcome, "Reviewed.", actor_id=by,
                                      occurred_at=at(hours))

    def commit(self, hours: float, posts: Sequence[UUID], due: date | None = None,
               by: UUID | None = None, community: UUID | None = None) -> UUID:
        return self.app.make_commitment(community or self.hall, posts, f"Promise at {hours}",
                                        due_on=due, actor_id=by or self.rep,
                                        occurred_at=at(hours)).id

    def fulfil(self, commitment: UUID, hours: float) -> Receipt:
        return self.app.fulfil_commitment(commitment, "Done.", actor_id=self.rep,
                                          occurred_at=at(hours))

    def abandon(self, commitment: UUID, hours: float) -> Receipt:
        return self.app.abandon_commitment(commitment, "Dropped.", actor_id=self.rep,
                                           occurred_at=at(hours))

    def nominate(self, nominator: UUID, hours: float) -> tuple[UUID, UUID]:
        """Nominate ``outsider``; ``(debate thread id, its opening post id)``."""
        nomination = self.app.nominate(self.hall, self.outsider, "A good neighbour.",
                                       actor_id=nominator, occurred_at=at(hours)).id
        thread_id = debate_thread_id(nomination)
        return thread_id, opening_post_id(thread_id)


def build_town(app: DialogueLedger) -> Town:
    def person(handle: str, *, is_bot: bool = False) -> UUID:
        return app.register_person(handle, handle.capitalize(), is_bot=is_bot,
                                   occurred_at=SETUP).id

    rep, rep2, cmod = person("rep"), person("rep2"), person("cmod")
    alice, bob, carol, dave, erin, frank = (
        person(h) for h in ("alice", "bob", "carol", "dave", "erin", "frank"))
    bot, botrep = person("bot", is_bot=True), person("botrep", is_bot=True)
    outsider = person("outsider")
    org = app.found_organisation("Riverside", "riverside", actor_id=rep, occurred_at=SETUP).id
    for representative in (rep2, botrep):
        app.appoint_representative(org, representative, actor_id=rep, occurred_at=SETUP)
    hall = app.create_community(
        org, "Hall", "hall", access=Access.INVITATION_ONLY,
        rule=AdmissionRule(direct_invitations=True), actor_id=rep, occurred_at=SETUP).id
    annex = app.create_community(org, "Annex", "annex", access=Access.OPEN, actor_id=rep,
                                 occurred_at=SETUP).id
    for member in (rep2, cmod, alice, bob, carol, dave, erin, frank, bot, botrep):
        app.invite_directly(hall, member, actor_id=rep, occurred_at=SETUP)
        app.accept_invitation(hall, actor_id=member, occurred_at=SETUP)
    for who, role in ((rep2, Role.REPRESENTATIVE), (rep2, Role.MODERATOR),
                      (cmod, Role.MODERATOR), (botrep, Role.REPRESENTATIVE)):
        app.grant_role(hall, who, role, actor_id=rep, occurred_at=SETUP)
    for member in (alice, bob):
        app.join_community(annex, actor_id=member, occurred_at=SETUP)
    app.grant_role(annex, rep, Role.MODERATOR, actor_id=rep, occurred_at=SETUP)
    return Town(app=app, org=org, hall=hall, annex=annex, rep=rep, rep2=rep2, cmod=cmod,
                alice=alice, bob=bob, carol=carol, dave=dave, erin=erin, frank=frank,
                bot=bot, botrep=botrep, outsider=outsider)


# --- views -----------------------------------------------------------------------------------
class Views:
    """Makes caught-up projectors (default view tables) for a test's ledgers, and stops any
    that follow their ledger at the end of the test."""

    def __init__(self) -> None:
        self.made: list[Projector] = []

    def __call__(self, app: DialogueLedger) -> Projector:
        projector = Projector(app)
        self.made.append(projector)
        projector.catch_up()
        return projector

    def close(self) -> None:
        for projector in self.made:
            projector.stop()


# --- computing the report --------------------------------------------------------------------
def report(projector: Projector, *communities: UUID, now: datetime | None = NOW,
           start: datetime = START, end: datetime = END, at_position: int | None = None,
           as_of: datetime | None = None, k: int = 5, w: float = 24.0) -> dict[str, Any]:
    return ListeningReport(projector).compute(ReportRequest(
        community_ids=tuple(str(c) for c in communities), start=start, end=end,
        at=at_position, as_of=as_of, now=now, pile_on_members=k, pile_on_hours=w))


def stats(count: int, median: float | None, p90: float | None, mean: float | None,
          maximum: float | None) -> dict[str, Any]:
    return {"count": count, "median": median, "p90": p90, "mean": mean, "max": maximum}


def backlog(*entries: tuple[UUID, float, PostKind], now_h: float = NOW_H) -> list[dict[str, Any]]:
    """The expected unanswered list from ``(thread id, opened at hour, kind)``, ages at
    ``now_h``."""
    return [{"thread_id": str(thread), "opened_at": iso(hours), "kind": str(kind),
             "age_hours": now_h - hours} for thread, hours, kind in entries]


def addressed(posts: int, done: int, **kinds: tuple[int, int]) -> dict[str, Any]:
    """Expected posts-addressed figures; kinds not named have no posts."""
    def ratio(n: int, d: int) -> float | None:
        return n / d if d else None

    by_kind = {}
    for kind in ("question", "concern", "proposal", "comment"):
        n, d = kinds.get(kind, (0, 0))
        by_kind[kind] = {"posts": n, "addressed": d, "rate": ratio(d, n)}
    return {"posts": posts, "addressed": done, "rate": ratio(done, posts), "by_kind": by_kind}


def responders(figures: dict[str, Any]) -> dict[str, tuple[int, float]]:
    """Per-responder figures of the representatives who responded, as
    ``{person id: (responses, median hours)}``."""
    return {r["person_id"]: (r["replies_to_members"], r["median_hours_to_respond"])
            for r in figures["responders"] if r["replies_to_members"]}


def silent_representatives(figures: dict[str, Any]) -> list[str]:
    """The representatives listed with no response to a member post."""
    return [r["person_id"] for r in figures["responders"]
            if not r["replies_to_members"] and r["median_hours_to_respond"] is None]


def pile_on(thread: UUID, start_h: float, before: bool,
            after_h: float | None) -> dict[str, Any]:
    return {"thread_id": str(thread), "started_at": iso(start_h), "responded_before": before,
            "response_after_hours": after_h}


NO_COMMITMENTS = {"made": 0, "fulfilled": 0, "abandoned": 0, "overdue": 0, "open": 0,
                  "median_days_to_fulfil": None}
NO_APPEALS = {"lodged": 0, "upheld": 0, "reversed": 0, "pending": 0, "reversal_rate": None}
