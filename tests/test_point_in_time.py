"""Views as they stood at an earlier position or time, a thread's full history, and
blue/green rebuilds that keep the live views serving."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID

import pytest

from ledger.application import DialogueLedger
from ledger.demo import StoryClock, record_demo
from ledger.domain import Thread
from projections.queries import ViewReader
from projections.runner import Projector
from replay.history import thread_history
from replay.point_in_time import PointInTime
from tests.conftest import Copies


@pytest.fixture
def story(ledger: DialogueLedger) -> Iterator[tuple[DialogueLedger, Projector, UUID]]:
    """The demo, its views, and the outage thread (removal, appeal, reversal, org answer)."""
    summary = record_demo(ledger, StoryClock())
    ledger.clock = lambda: datetime(2026, 11, 1, tzinfo=UTC)
    projector = Projector(ledger)
    projector.catch_up()
    reader = ViewReader(projector)
    outage = next(t["id"] for t in reader.threads(str(summary.community_id), limit=100)["items"]
                  if t["title"].startswith("Rural north"))
    yield ledger, projector, UUID(outage)


def test_views_as_of_now_equal_the_live_views(
        story: tuple[DialogueLedger, Projector, UUID]) -> None:
    app, projector, outage = story
    reader, pit = ViewReader(projector), PointInTime(app, projector)
    thread = app.get(Thread, outage)
    for audience in ("public", "auditor"):
        then = pit.thread(outage, audience=audience)
        assert then.pop("as_of") == {"position": app.position, "time": None}
        assert then == reader.thread(str(outage), audience=audience)  # type: ignore[arg-type]
    assert pit.roster(thread.community_id)["members"] == reader.roster(str(thread.community_id))
    assert pit.moderation_log(thread.community_id)["items"] == \
        reader.moderation_log(str(thread.community_id))["items"]


def test_a_view_at_a_position_equals_the_live_view_of_a_copy_truncated_there(
        story: tuple[DialogueLedger, Projector, UUID], copies: Copies) -> None:
    app, projector, outage = story
    pit = PointInTime(app, projector)
    community = app.get(Thread, outage).community_id
    history = thread_history(app, pit, outage)["events"]
    removal = next(e["position"] for e in history if e["event"] == "Post.Removed")
    reversal = next(e["position"] for e in history if e["event"] == "Post.ModerationReversed")
    for position in (removal - 1, removal, reversal, app.position - 5):
        copy = copies(app, stop=position)
        copy_views = Projector(copy)
        copy_views.catch_up()
        live = ViewReader(copy_views)
        for audience in ("public", "auditor"):
            then = pit.thread(outage, audience=audience, at=position)
            then.pop("as_of")
            assert then == live.thread(str(outage), audience=audience)  # type: ignore[arg-type]
        assert pit.roster(community, at=position)["members"] == live.roster(str(community))
        assert pit.moderation_log(community, at=position)["items"] == \
            live.moderation_log(str(community))["items"]


def test_a_removed_post_shows_a_placeholder_then_its_body_again_after_the_reversal(
        story: tuple[DialogueLedger, Projector, UUID]) -> None:
    app, projector, outage = story
    pit = PointInTime(app, projector)
    history = thread_history(app, pit, outage)["events"]
    removed = next(e for e in history if e["event"] == "Post.Removed")
    reversal = next(e["position"] for e in history if e["event"] == "Post.ModerationReversed")

    def node(at: int) -> dict[str, object]:
        replies = pit.thread(outage, at=at)["posts"][0]["replies"]
        return next(r for r in replies if r["id"] == removed["aggregate_id"])

    during = node(removed["position"])
    assert during["body"] is None
    assert during["placeholder"]["state"] == "removed"  # type: ignore[index]
    assert during["placeholder"]["reason_code"] == "confidential"  # type: ignore[index]
    assert "internal memo" in str(node(reversal)["body"])


def test_as_of_a_time_leaves_out_what_occurred_later(
        story: tuple[DialogueLedger, Projector, UUID]) -> None:
    app, projector, outage = story
    pit = PointInTime(app, projector)
    history = thread_history(app, pit, outage)["events"]
    cut = datetime.fromisoformat(history[5]["occurred_at"])
    earlier = thread_history(app, pit, outage, as_of=cut)["events"]
    assert [e["position"] for e in earlier] == [
        e["position"] for e in history if datetime.fromisoformat(e["occurred_at"]) <= cut]
    assert pit.thread(outage, as_of=cut)["post_count"] == sum(
        e["event"] == "Post.Published" for e in earlier)


def test_a_threads_history_holds_every_version_removed_content_and_the_reasons(
        story: tuple[DialogueLedger, Projector, UUID]) -> None:
    app, projector, outage = story
    history = thread_history(app, PointInTime(app, projector), outage)["events"]
    kinds = [e["event"] for e in history]
    assert kinds[:2] == ["Thread.Opened", "Post.Published"]
    assert [e["position"] for e in history] == sorted(e["position"] for e in history)
    taken = next(e for e in history if e["event"] == "ModerationDecision.Taken")
    assert taken["details"]["reason_code"] == "confidential"
    assert "internal document" in taken["details"]["statement"]
    assert taken["actor"]["handle"] == "lena"
    assert "ModerationDecision.AppealLodged" in kinds
    decided = next(e for e in history if e["event"] == "ModerationDecision.AppealDecided")
    assert decided["details"]["outcome"] == "reversed" and decided["actor"]["handle"] == "bea"
    removed_post = next(e for e in history if e["event"] == "Post.Removed")["aggregate_id"]
    assert any(e["aggregate_id"] == removed_post and "internal memo" in e["details"]["body"]
               for e in history if e["event"] == "Post.Published")
    assert "Post.Acknowledged" in kinds


def test_a_blue_green_rebuild_keeps_the_live_views_serving_and_then_takes_over(
        story: tuple[DialogueLedger, Projector, UUID]) -> None:
    app, projector, outage = story
    reader = ViewReader(projector)
    before = reader.thread(str(outage), audience="auditor")
    other_process = Projector(app)  # another process's projector, following the generation
    other_process.catch_up()
    failures: list[BaseException] = []
    done = threading.Event()

    def keep_reading() -> None:
        try:
            for _ in range(2_000):
                if done.is_set():
                    return
                assert reader.thread(str(outage), audience="auditor") == before
        except BaseException as error:  # reported below
            failures.append(error)

    readers = threading.Thread(target=keep_reading)
    readers.start()
    position = projector.rebuild_blue_green()
    done.set()
    readers.join(timeout=30)
    assert not failures, failures
    assert projector.generation == 1 and projector.prefix == "view_g1_"
    assert position == app.position
    assert reader.thread(str(outage), audience="auditor") == before
    assert other_process.follow_generation() and other_process.prefix == "view_g1_"
    assert ViewReader(other_process).thread(str(outage), audience="auditor") == before
    projector.rebuild_blue_green()
    projector.rebuild_blue_green()  # generation 3: generation 1's tables are dropped
    assert projector.generation == 3
    assert ViewReader(projector).thread(str(outage), audience="auditor") == before
