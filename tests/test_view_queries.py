"""The read functions over the views (``projections.queries.ViewReader``): the directory and
rosters, the nomination board, thread lists and reply trees for the public and for auditors,
the moderation log, commitments, and reading one's own writes while a projector follows live.

State is built through the ledger's commands; every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest

from ledger.application import DialogueLedger
from ledger.domain import Action, AdmissionRule, AppealOutcome, Choice, PostKind, ReasonCode
from ledger.domain.base import debate_thread_id, opening_post_id
from ledger.errors import InvalidInput, NotFound
from projections.queries import ViewReader
from projections.runner import Projector
from tests.conftest import Clock
from tests.scenario import World, build_world, person, start_thread

Read = Callable[[], ViewReader]


@pytest.fixture
def projector(ledger: DialogueLedger) -> Iterator[Projector]:
    """A projector with a prefix of its own (on PostgreSQL the view tables are shared by
    every schema, see tests/test_views_rebuild.py); its tables are dropped at the end."""
    projector = Projector(ledger, prefix=f"q{uuid4().hex[:8]}_")
    yield projector
    projector.stop()
    for store in projector.stores:
        store.drop_tables()


@pytest.fixture
def read(projector: Projector) -> Read:
    """Catch the views up with the ledger and answer a reader over them."""

    def caught_up() -> ViewReader:
        projector.catch_up()
        return ViewReader(projector)

    return caught_up


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def who(world: World, name: str) -> dict[str, Any]:
    """A person as the reader shows one (the scenario's display names are capitalised)."""
    return {"id": str(getattr(world, name)),
            "handle": {"community_moderator": "cmod", "org_moderator": "omod"}.get(name, name),
            "name": {"community_moderator": "Cmod", "org_moderator": "Omod"}.get(
                name, name.capitalize())}


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


# --- the directory and rosters -----------------------------------------------------------------
def test_the_directory_lists_communities_with_organisation_rule_and_members(
        ledger: DialogueLedger, read: Read, clock: Clock) -> None:
    world = build_world(ledger)
    reader = read()
    circle, square = reader.communities()
    assert circle == {
        "id": str(world.circle), "slug": "circle", "name": "Inner circle",
        "organisation": {"id": str(world.org), "slug": "northwind", "name": "Northwind"},
        "access": "invitation-only",
        "rule": {"quorum": 3, "threshold": 0.6, "min_community_votes": 2, "deadline_days": 7,
                 "direct_invitations": True},
        "member_count": 7,  # rep, alice, bob, carol, both moderators and the auditor
        "created_at": iso(clock.now),
    }
    assert (square["slug"], square["access"], square["member_count"],
            square["rule"]["direct_invitations"]) == ("square", "open", 1, False)
    assert reader.communities(str(world.org)) == [circle, square]
    assert reader.community("circle") == reader.community(str(world.circle)) == circle
    assert reader.community(world.square) == square

    other = ledger.found_organisation("Elsewhere", "elsewhere", actor_id=world.outsider).id
    clock.advance(hours=1)
    ledger.change_admission_rule(world.circle, AdmissionRule(quorum=5, threshold=0.75,
                                                             min_community_votes=4),
                                 actor_id=world.rep)
    reader = read()
    assert reader.communities(str(other)) == []
    assert reader.community("circle")["rule"] == {
        "quorum": 5, "threshold": 0.75, "min_community_votes": 4, "deadline_days": 7,
        "direct_invitations": False}
    assert reader.community("circle")["created_at"] == iso(clock.now - timedelta(hours=1))
    for unknown in ("nowhere", str(uuid4())):
        with pytest.raises(NotFound):
            reader.community(unknown)


def test_a_roster_shows_roles_moderator_sides_and_how_members_joined(
        ledger: DialogueLedger, read: Read, clock: Clock) -> None:
    world = build_world(ledger)
    joined_at = iso(clock.now)
    roster = read().roster(world.circle)
    assert [(m["handle"], m["display_name"], m["status"], m["roles"], m["moderator_side"],
             m["joined_via"]) for m in roster] == [
        ("alice", "Alice", "active", ["member"], None, "direct-invitation"),
        ("auditor", "Auditor", "active", ["auditor"], None, "appointment"),
        ("bob", "Bob", "active", ["member"], None, "direct-invitation"),
        ("carol", "Carol", "active", ["member"], None, "direct-invitation"),
        ("cmod", "Cmod", "active", ["member", "moderator"], "community", "direct-invitation"),
        ("omod", "Omod", "active", ["member", "moderator", "representative"], "organisation",
         "direct-invitation"),
        ("rep", "Rep", "active", ["member", "representative"], None, "founding"),
    ]
    assert roster[0]["person_id"] == str(world.alice)
    assert all(m["joined_at"] == joined_at and m["is_bot"] is False for m in roster)
    assert [m["handle"] for m in read().roster("square")] == ["rep"]

    # Someone leaves, someone is suspended; a nominee is not (yet) a member.
    clock.advance(days=1)
    ledger.leave_community(world.circle, actor_id=world.bob)
    ledger.moderate(world.circle, Action.SUSPEND_MEMBER, ReasonCode.HARASSMENT, "Insults",
                    member_id=world.carol, actor_id=world.community_moderator)
    ledger.nominate(world.circle, world.outsider, "Knows the area", actor_id=world.alice)
    reader = read()
    current = {m["handle"]: m for m in reader.roster(world.circle)}
    assert sorted(current) == ["alice", "auditor", "carol", "cmod", "omod", "rep"]
    assert current["carol"]["status"] == "suspended"
    assert current["carol"]["roles"] == ["member"]
    everyone = {m["handle"]: m for m in reader.roster(world.circle, include_former=True)}
    assert sorted(everyone) == ["alice", "auditor", "bob", "carol", "cmod", "omod", "rep"]
    assert (everyone["bob"]["status"], everyone["bob"]["roles"]) == ("left", [])
    assert reader.community("circle")["member_count"] == 6  # a suspended member still counts
    with pytest.raises(NotFound):
        reader.roster(str(uuid4()))


# --- the nomination board ------------------------------------------------------------------------
def test_the_nomination_board_shows_votes_reasons_changes_and_outcomes(
        ledger: DialogueLedger, read: Read, clock: Clock) -> None:
    world = build_world(ledger)
    dave, erin = person(ledger, "dave"), person(ledger, "erin")
    made = clock.now
    admitted = ledger.nominate(world.circle, world.outsider, "Runs the repair café",
                               actor_id=world.alice).id
    ledger.reply(opening_post_id(debate_thread_id(admitted)), "Yes, I know her work.",
                 actor_id=world.bob)
    ledger.cast_vote(admitted, Choice.ADMIT, "a helpful neighbour", actor_id=world.alice)
    ledger.cast_vote(admitted, Choice.DECLINE, "I want to hear more", actor_id=world.bob)
    ledger.cast_vote(admitted, Choice.ADMIT, "welcome", actor_id=world.rep)
    declined = ledger.nominate(world.circle, dave, "Dave posts a lot", actor_id=world.bob).id
    ledger.cast_vote(declined, Choice.DECLINE, "trolls elsewhere", actor_id=world.carol)
    ledger.cast_vote(declined, Choice.DECLINE, "not constructive",
                     actor_id=world.community_moderator)
    ledger.cast_vote(declined, Choice.ADMIT, "reach", actor_id=world.org_moderator)
    expired = ledger.nominate(world.circle, erin, "Erin farms nearby", actor_id=world.carol).id
    ledger.cast_vote(expired, Choice.ADMIT, "rural voice", actor_id=world.alice)
    changed = clock.advance(hours=2)
    ledger.change_vote(admitted, Choice.ADMIT, "read the debate; convinced",
                       actor_id=world.bob)
    ledger.decide_nomination(admitted, actor_id=world.carol)
    ledger.decide_nomination(declined, actor_id=world.alice)

    reader = read()
    open_board = reader.nominations(world.circle, "open")
    assert [n["id"] for n in open_board] == [str(expired)]
    assert open_board[0]["decided_at"] is None
    clock.advance(days=8)
    ledger.decide_nomination(expired, actor_id=world.carol)

    reader = read()
    board = reader.nominations(world.circle)
    assert [(n["id"], n["status"]) for n in board] == [
        (str(expired), "expired"), (str(declined), "declined"), (str(admitted), "admitted")]
    first = board[2]
    assert first == {
        "id": str(admitted), "community_id": str(world.circle),
        "nominee": {"id": str(world.outsider), "handle": "outsider", "name": "Outsider"},
        "nominator": who(world, "alice"), "statement": "Runs the repair café",
        "status": "admitted", "made_at": iso(made), "deadline": iso(made + timedelta(days=7)),
        "decided_at": iso(changed), "votes_cast": 3, "admit_votes": 3, "decline_votes": 0,
        "rule": {"quorum": 3, "threshold": 0.6, "min_community_votes": 2},
        "debate_thread": {"id": str(debate_thread_id(admitted)), "post_count": 2,
                          "visible_post_count": 2},
    }
    assert (board[1]["votes_cast"], board[1]["admit_votes"], board[1]["decline_votes"],
            board[1]["nominee"]["handle"]) == (3, 1, 2, "dave")
    assert (board[0]["votes_cast"], board[0]["admit_votes"], board[0]["decided_at"],
            board[0]["debate_thread"]["post_count"]) == (1, 1, iso(clock.now), 1)
    assert [n["id"] for n in reader.nominations("circle", "admitted")] == [str(admitted)]
    assert reader.nominations(world.circle, "open") == []
    assert reader.nominations(world.square) == []

    detail = reader.nomination(admitted)
    assert {k: v for k, v in detail.items() if k != "ballots"} == first
    ballots = {b["voter"]["handle"]: b for b in detail["ballots"]}
    assert ballots["bob"] == {
        "voter": who(world, "bob"), "choice": "admit", "reason": "read the debate; convinced",
        "for_organisation": False, "cast_at": iso(made), "changed_at": iso(changed),
        "changes": 1}
    assert (ballots["alice"]["choice"], ballots["alice"]["reason"],
            ballots["alice"]["changed_at"], ballots["alice"]["changes"]) == (
        "admit", "a helpful neighbour", None, 0)
    assert (ballots["rep"]["for_organisation"], ballots["rep"]["voter"]) == (
        True, who(world, "rep"))
    assert sorted(ballots) == ["alice", "bob", "rep"]
    with pytest.raises(InvalidInput):
        reader.nominations(world.circle, "pending")
    with pytest.raises(NotFound):
        reader.nomination(str(uuid4()))


# --- the thread list -----------------------------------------------------------------------------
def test_the_thread_list_pages_by_last_activity_without_gaps_or_duplicates(
        ledger: DialogueLedger, read: Read, clock: Clock) -> None:
    world = build_world(ledger)
    ledger.join_community(world.square, actor_id=world.alice)
    activity: dict[str, datetime] = {}
    opened_at = clock.now
    for index in range(11):
        if index % 3:  # every third thread shares its time with the one before: ties
            clock.advance(minutes=5)
        author = world.alice if index % 2 else world.rep
        thread = ledger.open_thread(world.square, PostKind.QUESTION, f"Question {index}",
                                    "Why?", actor_id=author).id
        activity[str(thread)] = clock.now
    oldest = next(iter(activity))
    clock.advance(minutes=5)
    ledger.reply(opening_post_id(UUID(oldest)), "An answer", actor_id=world.rep)
    activity[oldest] = clock.now
    expected = sorted(activity, key=lambda t: (-activity[t].timestamp(), t))
    assert expected[0] == oldest

    reader = read()
    for limit in (3, 4, 1, 11, 50):
        seen: list[str] = []
        after = None
        pages = 0
        while True:
            page = reader.threads(world.square, limit=limit, after=after)
            pages += 1
            assert len(page["items"]) <= limit
            seen += [item["id"] for item in page["items"]]
            after = page["next"]
            if after is None:
                break
            assert len(page["items"]) == limit
        assert seen == expected, limit
        assert pages == max(1, -(-len(expected) // limit)), limit

    first = reader.threads("square", limit=1)["items"][0]
    assert first == {
        "id": oldest, "community_id": str(world.square), "title": "Question 0",
        "kind": "question", "opener": who(world, "rep"),
        "opened_at": iso(opened_at),
        "last_activity_at": iso(clock.now), "post_count": 2, "visible_post_count": 2,
        "org_reply_count": 1, "org_responded": True, "locked": False, "nomination_id": None}
    assert reader.threads(world.square, limit=50)["items"][1]["org_responded"] is False
    assert reader.threads(world.circle) == {"items": [], "next": None}

    for bad in ("not a cursor!", "", cursor("threads:12"), cursor("moderation:12"),
                cursor(f"threads:soon:{oldest}"), cursor("threads:12:not-an-id"),
                cursor(f"threads:{10**30}:{oldest}"), "%%%%", cursor(f"threads: 1:{oldest}")):
        with pytest.raises(InvalidInput):
            reader.threads(world.square, after=bad)
    for limit in (0, -1, 10_000):
        with pytest.raises(InvalidInput):
            reader.threads(world.square, limit=limit)
    with pytest.raises(NotFound):
        reader.threads("nowhere")


# --- a thread for the public and for auditors -------------------------------------------------
def test_the_public_sees_placeholders_where_auditors_see_everything(
        ledger: DialogueLedger, read: Read, clock: Clock) -> None:
    world = build_world(ledger)
    opened = clock.now
    thread_id, opening = start_thread(ledger, world.circle, world.alice)
    edited = ledger.reply(opening, "First draft", actor_id=world.bob).id
    drafts = [clock.now]
    for body in ("Second draft", "Final words"):
        drafts.append(clock.advance(minutes=10))
        ledger.edit_post(edited, body, actor_id=world.bob)
    nested = ledger.reply(edited, "I agree with Bob", actor_id=world.alice).id
    regret = ledger.reply(opening, "Something I regret saying", actor_id=world.carol).id
    retracted_at = clock.advance(minutes=1)
    ledger.retract_post(regret, actor_id=world.carol)
    spam = ledger.reply(opening, "Buy cheap panels here", actor_id=world.bob).id
    hide = ledger.moderate(world.circle, Action.HIDE_POST, ReasonCode.SPAM, "Advertising",
                           post_ids=[spam], actor_id=world.community_moderator).id
    leak = ledger.reply(nested, "The internal memo says: cut the crews", actor_id=world.carol).id
    removed_at = clock.advance(minutes=1)
    removal = ledger.moderate(world.circle, Action.REMOVE_POST, ReasonCode.CONFIDENTIAL,
                              "Quotes an internal memo", post_ids=[leak],
                              actor_id=world.org_moderator).id
    answer = ledger.reply(opening, "We will look into it", actor_id=world.rep).id
    ledger.acknowledge_post(opening, actor_id=world.rep)
    ledger.acknowledge_post(opening, actor_id=world.org_moderator)

    reader = read()
    public = reader.thread(thread_id)
    assert (public["id"], public["title"], public["opener"], public["post_count"],
            public["visible_post_count"], public["org_responded"], public["locked"],
            public["audience"]) == (str(thread_id), "Opening hours", who(world, "alice"), 7, 4,
                                    True, False, "public")
    (root,) = public["posts"]
    assert (root["id"], root["parent_id"], root["body"], root["state"],
            root["acknowledgement_count"], root["published_at"]) == (
        str(opening), None, "Why does the library close at five?", "visible", 2, iso(opened))
    assert [r["id"] for r in root["replies"]] == [str(p) for p in (edited, regret, spam, answer)]
    first, withdrawn, hidden, reply = root["replies"]
    assert (first["body"], first["state"], first["placeholder"], first["edited_at"],
            first["author"]) == ("Final words", "visible", None, iso(drafts[-1]),
                                 who(world, "bob"))
    assert "versions" not in first and "history" not in first
    (agreeing,) = first["replies"]
    assert (agreeing["id"], agreeing["body"]) == (str(nested), "I agree with Bob")
    (removed,) = agreeing["replies"]
    assert removed["id"] == str(leak) and removed["replies"] == []
    for post, state, by, reason, decision, at in (
            (withdrawn, "retracted", "carol", None, None, retracted_at),
            (hidden, "hidden", "community_moderator", "spam", str(hide), retracted_at),
            (removed, "removed", "org_moderator", "confidential", str(removal), removed_at)):
        assert post["state"] == state
        assert post["body"] is None
        assert post["placeholder"] == {"state": state, "by": who(world, by),
                                       "reason_code": reason, "decision_id": decision,
                                       "at": iso(at)}
    assert (reply["for_organisation"], reply["body"]) == (True, "We will look into it")
    text = orjson.dumps(public).decode()
    for withheld in ("Something I regret", "Buy cheap panels", "internal memo says",
                     "First draft", "Second draft"):
        assert withheld not in text

    auditor = reader.thread(str(thread_id), audience="auditor")
    assert auditor["audience"] == "auditor"
    (root,) = auditor["posts"]
    posts = {p["id"]: p for p in walk(root)}
    assert len(posts) == 7
    assert all(p["state"] == public_post["state"]
               for p, public_post in zip(walk(root), walk(public["posts"][0]), strict=True))
    assert [(v["version"], v["body"], v["actor"]["handle"], v["occurred_at"])
            for v in posts[str(edited)]["versions"]] == [
        (1, "First draft", "bob", iso(drafts[0])), (2, "Second draft", "bob", iso(drafts[1])),
        (3, "Final words", "bob", iso(drafts[2]))]
    leaked = posts[str(leak)]
    assert (leaked["body"], leaked["state"], leaked["retracted"]) == (
        "The internal memo says: cut the crews", "removed", False)
    assert leaked["moderation"] == {"state": "removed", "decision_id": str(removal),
                                    "reason_code": "confidential",
                                    "by": who(world, "org_moderator"), "at": iso(removed_at)}
    assert [(h["change"], h["actor"]["handle"], h["decision_id"], h["reason_code"])
            for h in leaked["history"]] == [("removed", "omod", str(removal), "confidential")]
    assert "placeholder" not in leaked
    regretted = posts[str(regret)]
    assert (regretted["body"], regretted["retracted"], regretted["moderation"]) == (
        "Something I regret saying", True, None)
    assert [(h["change"], h["actor"], h["decision_id"], h["occurred_at"])
            for h in regretted["history"]] == [
        ("retracted", who(world, "carol"), None, iso(retracted_at))]
    assert posts[str(spam)]["body"] == "Buy cheap panels here"
    assert [a["by"]["handle"] for a in posts[str(opening)]["acknowledgements"]] == [
        "rep", "omod"]
    assert posts[str(answer)]["acknowledgements"] == []

    with pytest.raises(InvalidInput):
        reader.thread(thread_id, audience="everyone")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        reader.thread(str(uuid4()))


def walk(post: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield post
    for reply in post["replies"]:
        yield from walk(reply)


# --- moderation, appeals and reversal --------------------------------------------------------
def test_the_moderation_log_and_a_reversal_that_restores_the_public_body(
        ledger: DialogueLedger, read: Read, clock: Clock) -> None:
    world = build_world(ledger)
    thread_id, opening = start_thread(ledger, world.circle, world.alice)
    leak = ledger.reply(opening, "The memo names no one", actor_id=world.carol).id
    insult = ledger.reply(opening, "You are all idiots", actor_id=world.bob).id
    removed_at = clock.advance(minutes=5)
    removal = ledger.moderate(world.circle, Action.REMOVE_POST, ReasonCode.CONFIDENTIAL,
                              "Quotes a memo", post_ids=[leak],
                              actor_id=world.org_moderator).id
    assert read().thread(thread_id)["posts"][0]["replies"][0]["body"] is None
    notified_at = clock.advance(minutes=5)
    ledger.notify_author(removal, "Your post was removed: it quotes a memo.",
                         actor_id=world.org_moderator)
    lodged_at = clock.advance(hours=1)
    ledger.lodge_appeal(removal, "It names nobody and it matters", actor_id=world.carol)
    reversed_at = clock.advance(hours=1)
    ledger.decide_appeal(removal, AppealOutcome.REVERSED, "Public interest",
                         actor_id=world.community_moderator)
    hide = ledger.moderate(world.circle, Action.HIDE_POST, ReasonCode.HARASSMENT, "Insults",
                           post_ids=[insult], actor_id=world.community_moderator).id
    ledger.lodge_appeal(hide, "It was a joke", actor_id=world.bob)
    ledger.decide_appeal(hide, AppealOutcome.UPHELD, "Not funny",
                         actor_id=world.org_moderator)
    lock = ledger.moderate(world.circle, Action.LOCK_THREAD, ReasonCode.OFF_TOPIC,
                           "Drifting", thread_id=thread_id, automated_detection=True,
                           actor_id=world.community_moderator).id
    suspension = ledger.moderate(world.circle, Action.SUSPEND_MEMBER, ReasonCode.HARASSMENT,
                                 "Repeated insults", member_id=world.bob,
                                 author_notified=True, actor_id=world.org_moderator).id

    reader = read()
    # The reversal restored the removed post's body for the public; the hidden one stays hidden.
    public = reader.thread(thread_id)
    restored, hidden = public["posts"][0]["replies"]
    assert (restored["state"], restored["body"], restored["placeholder"]) == (
        "visible", "The memo names no one", None)
    assert (hidden["state"], hidden["body"], hidden["placeholder"]["decision_id"]) == (
        "hidden", None, str(hide))
    assert public["locked"] is True and public["visible_post_count"] == 2
    audited = reader.thread(thread_id, audience="auditor")["posts"][0]["replies"][0]
    assert [(h["change"], h["actor"]["handle"], h["decision_id"]) for h in
            audited["history"]] == [("removed", "omod", str(removal)),
                                    ("reversed", "cmod", str(removal))]
    assert audited["moderation"]["state"] == "restored"

    log: list[dict[str, Any]] = []
    after = None
    while True:
        page = reader.moderation_log(world.circle, limit=3, after=after)
        log += page["items"]
        after = page["next"]
        if after is None:
            break
    assert [d["id"] for d in log] == [str(d) for d in (removal, hide, lock, suspension)]
    assert log == reader.moderation_log("circle")["items"]
    assert [d["position"] for d in log] == sorted(d["position"] for d in log)
    first = log[0]
    assert first == {
        "id": str(removal), "position": first["position"],
        "moderator": who(world, "org_moderator"), "side": "organisation",
        "action": "remove-post", "reason_code": "confidential", "statement": "Quotes a memo",
        "post_ids": [str(leak)], "thread_id": None, "member_id": None, "member": None,
        "affected_person_ids": [str(world.carol)], "automated_detection": False,
        "author_notified": True, "notice": "Your post was removed: it quotes a memo.",
        "notified_at": iso(notified_at), "decided_at": iso(removed_at),
        "appeal": {"status": "reversed", "appellant": who(world, "carol"),
                   "statement": "It names nobody and it matters",
                   "reviewer": who(world, "community_moderator"),
                   "reasons": "Public interest", "lodged_at": iso(lodged_at),
                   "decided_at": iso(reversed_at)}}
    assert (log[1]["side"], log[1]["appeal"]["status"], log[1]["appeal"]["reviewer"],
            log[1]["appeal"]["reasons"]) == ("community", "upheld",
                                             who(world, "org_moderator"), "Not funny")
    assert (log[2]["action"], log[2]["thread_id"], log[2]["automated_detection"],
            log[2]["post_ids"], log[2]["affected_person_ids"], log[2]["appeal"]) == (
        "lock-thread", str(thread_id), True, [], [str(world.alice)],
        {"status": "none", "appellant": None, "statement": None, "reviewer": None,
         "reasons": None, "lodged_at": None, "decided_at": None})
    assert (log[3]["action"], log[3]["member"], log[3]["author_notified"],
            log[3]["notice"]) == ("suspend-member", who(world, "bob"), True, None)
    assert reader.moderation_log(world.square) == {"items": [], "next": None}
    assert reader.moderation_log(world.circle, after=cursor(f"moderation:{log[1]['position']}"))[
        "items"] == log[2:]
    for bad in ("garbage", cursor("moderation:x"), cursor("moderation:1:2"),
                reader.threads(world.circle, limit=1)["next"] or cursor("threads:1")):
        with pytest.raises(InvalidInput):
            reader.moderation_log(world.circle, after=bad)
    with pytest.raises(InvalidInput):
        reader.moderation_log(world.circle, limit=0)

    unlock = ledger.moderate(world.circle, Action.UNLOCK_THREAD, ReasonCode.OTHER, "Calmer now",
                             thread_id=thread_id, actor_id=world.org_moderator).id
    reader = read()
    assert reader.thread(thread_id)["locked"] is False
    assert [d["id"] for d in reader.moderation_log(world.circle, after=page_after(log))[
        "items"]] == [str(unlock)]


def page_after(log: list[dict[str, Any]]) -> str:
    """The cursor that follows the last decision of ``log``."""
    return cursor(f"moderation:{log[-1]['position']}")


# --- commitments ---------------------------------------------------------------------------------
def test_commitments_with_progress_closing_and_overdue(
        ledger: DialogueLedger, read: Read, clock: Clock) -> None:
    world = build_world(ledger)  # the clock stands at 2026-03-02
    _, opening = start_thread(ledger, world.circle, world.alice)
    second = ledger.reply(opening, "And on Sundays?", actor_id=world.bob).id
    made = clock.now
    hours = ledger.make_commitment(world.circle, [second, opening], "Open until eight",
                                   due_on=date(2026, 3, 10), actor_id=world.rep).id
    ledger.record_progress(hours, "Budget approved", actor_id=world.rep)
    noted = clock.advance(days=1)
    ledger.record_progress(hours, "Staff hired", actor_id=world.org_moderator)
    sundays = ledger.make_commitment(world.circle, [opening], "Open on Sundays",
                                     due_on=date(2026, 3, 5), actor_id=world.rep).id
    closed = clock.advance(days=5)  # after its due date: kept late, but not overdue
    ledger.fulfil_commitment(sundays, "Open since last Sunday", actor_id=world.org_moderator)
    budget = ledger.make_commitment(world.circle, [second], "Publish the library budget",
                                    actor_id=world.rep).id
    ledger.abandon_commitment(budget, "The council publishes it instead", actor_id=world.rep)
    late = ledger.make_commitment(world.circle, [opening], "Fix the door",
                                  due_on=date(2026, 3, 3), actor_id=world.rep).id

    reader = read()
    items = reader.commitments(world.circle, today=date(2026, 3, 11))
    assert [c["id"] for c in items] == [str(c) for c in (hours, sundays, budget, late)]
    assert items[0] == {
        "id": str(hours), "text": "Open until eight", "made_by": who(world, "rep"),
        "made_at": iso(made), "due_on": "2026-03-10", "status": "open", "overdue": True,
        "progress": [
            {"note": "Budget approved", "by": who(world, "rep"), "at": iso(made)},
            {"note": "Staff hired", "by": who(world, "org_moderator"), "at": iso(noted)}],
        "closed_by": None, "closed_at": None, "closing_statement": None,
        "post_ids": [str(opening), str(second)]}
    assert (items[1]["status"], items[1]["overdue"], items[1]["closed_by"],
            items[1]["closed_at"], items[1]["closing_statement"], items[1]["progress"]) == (
        "fulfilled", False, who(world, "org_moderator"), iso(closed),
        "Open since last Sunday", [])
    assert (items[2]["status"], items[2]["due_on"], items[2]["overdue"],
            items[2]["post_ids"]) == ("abandoned", None, False, [str(second)])
    assert (items[3]["status"], items[3]["overdue"]) == ("open", True)

    on_the_day = reader.commitments(world.circle, today=date(2026, 3, 10))
    assert [c["overdue"] for c in on_the_day] == [False, False, False, True]
    long_ago = reader.commitments(world.circle, today=date(2026, 3, 1))
    assert not any(c["overdue"] for c in long_ago)
    assert reader.commitments(world.circle) == reader.commitments(
        world.circle, today=datetime.now(UTC).date())
    assert [c["id"] for c in reader.commitments("circle", "open")] == [str(hours), str(late)]
    assert [c["id"] for c in reader.commitments(world.circle, "fulfilled")] == [str(sundays)]
    assert [c["id"] for c in reader.commitments(world.circle, "abandoned")] == [str(budget)]
    assert reader.commitments(world.square) == []
    with pytest.raises(InvalidInput):
        reader.commitments(world.circle, "kept")


# --- reading one's own writes while a projector follows live ----------------------------------
def test_a_live_projector_shows_each_command_as_soon_as_its_position_is_reached(
        ledger: DialogueLedger, projector: Projector) -> None:
    world = build_world(ledger)
    projector.poll_interval = 30.0  # only the ledger's own notice can wake it in time
    reader = ViewReader(projector)
    with projector:
        receipt = ledger.open_thread(world.circle, PostKind.CONCERN, "Live", "Is this on?",
                                     actor_id=world.alice)
        assert projector.wait(receipt.position, 5) is True
        assert projector.position >= receipt.position
        assert reader.threads(world.circle)["items"][0]["id"] == str(receipt.id)

        answer = ledger.reply(opening_post_id(receipt.id), "Yes, we hear you",
                              actor_id=world.rep)
        assert projector.wait(answer.position, 5)
        thread = reader.thread(receipt.id)
        assert thread["org_responded"] is True
        assert thread["posts"][0]["replies"][0]["body"] == "Yes, we hear you"

        nomination = ledger.nominate(world.circle, world.outsider, "Live nomination",
                                     actor_id=world.bob)
        vote = ledger.cast_vote(nomination.id, Choice.ADMIT, "why not", actor_id=world.carol)
        assert projector.wait(vote.position, 5)
        assert reader.nomination(nomination.id)["votes_cast"] == 1

        decision = ledger.moderate(world.circle, Action.HIDE_POST, ReasonCode.OFF_TOPIC,
                                   "Off topic", post_ids=[answer.id],
                                   actor_id=world.community_moderator)
        assert projector.wait(decision.position, 5)
        assert reader.thread(receipt.id)["posts"][0]["replies"][0]["state"] == "hidden"
        assert reader.moderation_log(world.circle)["items"][-1]["id"] == str(decision.id)

        left = ledger.leave_community(world.circle, actor_id=world.carol)
        assert projector.wait(left.position, 5)
        assert "carol" not in [m["handle"] for m in reader.roster(world.circle)]
        assert projector.last_error is None


def test_a_time_before_1970_keeps_its_fraction_of_a_second(
        ledger: DialogueLedger, read: Read) -> None:
    world = build_world(ledger)
    moment = datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC)
    thread = ledger.open_thread(world.circle, PostKind.COMMENT, "From the archive",
                                "An old letter", actor_id=world.alice, occurred_at=moment).id
    assert read().thread(thread)["opened_at"] == "1969-12-31T23:59:59.500000Z"
