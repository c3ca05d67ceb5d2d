"""The report as of a point: the live report is the report as of the views' position; the
report as of a ledger position equals the report on a copy of the ledger truncated there; the
report as of a time leaves out what occurred later and measures ages at that time.

The copies are real second stores (another SQLite file, another PostgreSQL schema) filled
with the original's stored events, then projected from scratch.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from uuid import UUID

import pytest

from ledger.application import DialogueLedger
from ledger.domain import ReasonCode
from projections.runner import Projector
from tests.conftest import Clock, Copies
from tests.report_world import (
    HIDE,
    LATE,
    NOW,
    REMOVE,
    REVERSED,
    C,
    P,
    Q,
    Town,
    Views,
    at,
    backlog,
    build_town,
    iso,
    report,
    stats,
)


@pytest.fixture
def views(copies: Copies) -> Iterator[Views]:
    """(Depends on ``copies``, so that following projectors stop before the copies close.)"""
    made = Views()
    yield made
    made.close()


@pytest.fixture
def town(ledger: DialogueLedger, clock: Clock) -> Town:
    clock.now = LATE
    return build_town(ledger)


def figures_of(result: dict[str, Any]) -> dict[str, Any]:
    """A report without its ``as_of`` block (the positions of a copy are its own)."""
    return {key: value for key, value in result.items() if key != "as_of"}


# --- a history with a removal, its reversal and a fulfilled commitment ------------------------
def record_history(town: Town) -> tuple[dict[str, int], UUID]:
    """Record the history (in time order); the positions around its turns, and the thread
    alice opens at 10 h."""
    t, marks = town, {}
    _, o0 = t.thread(t.alice, -30, Q)                   # previous period, answered in 10 h
    t.reply(o0, t.rep, -20)
    marks["before anything of the period"] = t.app.position
    alices, o1 = t.thread(t.alice, 10, Q)
    answer = t.reply(o1, t.rep, 12)
    marks["before the removal"] = t.app.position
    removal = t.moderate(t.cmod, REMOVE, ReasonCode.SPAM, [answer], 14)
    marks["after the removal"] = removal.position
    t.appeal(removal.id, t.rep, 20)
    marks["before the reversal"] = t.app.position
    marks["after the reversal"] = t.decide(removal.id, t.rep2, REVERSED, 30).position
    _, o2 = t.thread(t.bob, 40, C)
    t.ack(o2, t.rep, 41)
    kept = t.commit(50, [o2], due=date(2026, 4, 5))
    _, o3 = t.thread(t.carol, 60, P)                     # a pile-on: 5th member at 64 h
    for hours, member in ((61, t.dave), (62, t.erin), (63, t.frank), (64, t.alice)):
        t.reply(o3, member, hours)
    marks["before the fulfilment"] = t.app.position
    marks["after the fulfilment"] = t.fulfil(kept, 100).position
    t.commit(110, [o3], due=date(2026, 4, 3))            # open: overdue at 300 h
    _, o4 = t.thread(t.erin, 120, P)
    withdrawn = t.reply(o4, t.rep, 130)
    t.retract(withdrawn, t.rep, 131)
    hidden = t.moderate(t.rep2, HIDE, ReasonCode.OFF_TOPIC, [o4], 150)
    t.appeal(hidden.id, t.erin, 151)
    t.reply(o3, t.rep, 200)                              # the pile-on answered 136 h later
    marks["head"] = t.app.position
    return marks, alices


def test_live_report_is_the_report_as_of_the_views_position(
        ledger: DialogueLedger, town: Town, views: Views) -> None:
    record_history(town)
    projector = views(ledger)
    live = report(projector, town.hall)
    assert live["as_of"] == {"position": ledger.position, "time": None, "now": iso(300)}
    # Live equals as-of-head.
    assert live == report(projector, town.hall, at_position=ledger.position)
    # ...equals the views rebuilt from the first event.
    rebuilt = Projector(ledger)
    assert rebuilt.rebuild() == ledger.position
    assert report(rebuilt, town.hall) == live
    # A sanity check that the history is in it: 4 member threads (alice@10, bob@40,
    # carol@60, erin@120); alice's answered (the removal of rep@12 reversed, 2 h), carol's
    # (rep@200, 140 h); the pile-on at 64 h answered 136 h later.
    period = live["period"]
    assert (period["member_threads"], period["responded_threads"]) == (4, 2)
    assert period["time_to_first_response_hours"] == stats(2, 71.0, 140.0, 71.0, 140.0)
    assert [p["response_after_hours"] for p in period["pile_ons"]] == [136.0]

    # Events the views have not seen yet are not in the live report.
    seen = ledger.position
    _, late = town.thread(town.frank, 210, Q)
    assert report(projector, town.hall) == live
    # A projector following the ledger catches up; then the live report has them.
    projector.start()
    try:
        town.reply(late, town.rep, 212)
        assert projector.wait(ledger.position)
        followed = report(projector, town.hall)
    finally:
        projector.stop()
    assert followed["as_of"]["position"] == ledger.position > seen
    assert followed == report(projector, town.hall, at_position=ledger.position)
    assert (followed["period"]["member_threads"],
            followed["period"]["responded_threads"]) == (5, 3)


def test_report_at_a_position_equals_the_report_on_a_copy_truncated_there(
        ledger: DialogueLedger, town: Town, views: Views, copies: Copies) -> None:
    marks, _ = record_history(town)
    projector = views(ledger)
    seen: dict[str, dict[str, Any]] = {}
    for name, position in marks.items():
        as_of_position = report(projector, town.hall, town.annex, at_position=position)
        assert as_of_position["as_of"]["position"] == position
        copy = copies(ledger, stop=position)
        on_copy = report(views(copy), town.hall, town.annex)
        assert on_copy["as_of"]["position"] == position
        assert figures_of(as_of_position) == figures_of(on_copy), name
        seen[name] = as_of_position["period"]

    # The reports really differ between these points:
    def answered(name: str) -> int:
        return int(seen[name]["responded_threads"])

    assert answered("before anything of the period") == 0
    assert answered("before the removal") == 1          # rep@12 answers alice
    assert answered("after the removal") == 0           # removed: no longer a response
    assert answered("before the reversal") == 0         # appealed, not yet decided
    assert answered("after the reversal") == 1          # restored: counts again
    assert seen["before the reversal"]["moderation"]["appeals"]["pending"] == 1
    assert seen["after the reversal"]["moderation"]["appeals"]["reversed"] == 1
    assert seen["before the fulfilment"]["commitments"]["open"] == 1
    assert seen["before the fulfilment"]["commitments"]["overdue"] == 1  # due 04-05
    assert seen["after the fulfilment"]["commitments"] == {
        "made": 1, "fulfilled": 1, "abandoned": 0, "overdue": 0, "open": 0,
        "median_days_to_fulfil": 50 / 24}               # made at 50 h, fulfilled at 100 h
    assert seen["head"]["commitments"]["made"] == 2


def test_report_as_of_a_time(ledger: DialogueLedger, town: Town, views: Views,
                             copies: Copies) -> None:
    _, alices = record_history(town)
    projector = views(ledger)
    for hours in (11, 13, 14, 29, 30, 64, 100, 160, 300):
        moment = at(hours)
        as_of = report(projector, town.hall, as_of=moment, now=None)
        # ``now`` defaults to the as-of time; the position is still the views'.
        assert as_of["as_of"] == {"position": ledger.position, "time": iso(hours),
                                  "now": iso(hours)}
        # It equals the report on a copy holding only the events that occurred by then,
        # with ages measured at the same time.
        copy = copies(ledger, until=moment)
        on_copy = report(views(copy), town.hall, now=moment)
        assert figures_of(as_of) == figures_of(on_copy), hours

    def period(hours: float, now: datetime | None = None) -> dict[str, Any]:
        return report(projector, town.hall, as_of=at(hours), now=now)["period"]

    # At 11 h alice's thread (10 h) is unanswered, 1 h old; rep@12 has not happened yet.
    assert period(11)["unanswered"] == backlog((alices, 10, Q), now_h=11)
    # At 13 h it is answered (2 h); at 14 h the answer is removed (events at exactly the
    # as-of time are in), and the thread is 4 h old; from 30 h the removal is reversed.
    assert period(13)["time_to_first_response_hours"] == stats(1, 2.0, 2.0, 2.0, 2.0)
    assert (period(14)["responded_threads"], period(14)["unanswered"][0]["age_hours"]) == (
        0, 4.0)
    assert period(29)["responded_threads"] == 0
    assert period(30)["responded_threads"] == 1
    # The commitment due 2026-04-05, made at 50 h: open and not overdue as of 64 h (April 3);
    # fulfilled by 100 h. Given an explicit ``now``, ages and overdue dates use it instead.
    assert (period(64)["commitments"]["open"], period(64)["commitments"]["overdue"]) == (1, 0)
    assert period(64, now=NOW)["commitments"]["overdue"] == 1
    assert period(64, now=NOW)["unanswered"][0]["age_hours"] == 300 - 40  # bob's, 40 h
    assert period(100)["commitments"]["fulfilled"] == 1
    # The pile-on started at 64 h; as of 160 h it is not answered yet.
    assert [(p["started_at"], p["response_after_hours"]) for p in period(160)["pile_ons"]] \
        == [(iso(64), None)]


def test_projecting_a_copy_leaves_the_originals_views_alone(
        ledger: DialogueLedger, town: Town, views: Views, copies: Copies) -> None:
    """Two ledgers in one database (PostgreSQL: two schemas) keep their views apart."""
    marks, _ = record_history(town)
    original = views(ledger)
    before = report(original, town.hall)
    assert before["period"]["commitments"]["fulfilled"] == 1
    copy = views(copies(ledger, stop=marks["before the fulfilment"]))
    assert report(copy, town.hall)["period"]["commitments"]["fulfilled"] == 0
    assert report(original, town.hall) == before
