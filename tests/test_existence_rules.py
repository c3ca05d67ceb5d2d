"""The commands' side of "no existence oracles", and community slugs scoped to their
organisation (on SQLite and PostgreSQL).

A command that refers to a post or thread of another community answers ``wrong-community``
only to someone who may see that community; to anyone else exactly what an id that names
nothing gets. A community's slug is unique within its organisation only; communities stored
before slugs were scoped (their id derives from the slug alone) keep their id and are still
found by their slug.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from uuid import UUID

import pytest

from api.tokens import issue_token
from ledger.application import DialogueLedger
from ledger.domain import Access, Act, Action, AdmissionRule, Community, ReasonCode, Role
from ledger.errors import LedgerError, NotFound, SlugTaken, WrongCommunity
from projections.queries import ViewReader
from projections.runner import Projector
from tests.api_world import serve
from tests.scenario import World, build_world, refused, start_thread


def _refusal(ledger: DialogueLedger, run: object) -> LedgerError:
    before = ledger.position
    with pytest.raises(LedgerError) as raised:
        assert callable(run)
        run()
    assert ledger.position == before
    return raised.value


def _same_refusal(ledger: DialogueLedger, hidden: UUID, command: object) -> None:
    """``command(id)`` is refused alike for a hidden object's id and for a random id."""
    assert callable(command)
    random = uuid.uuid4()
    seen = _refusal(ledger, lambda: command(hidden))
    unknown = _refusal(ledger, lambda: command(random))
    assert type(seen) is type(unknown) is NotFound
    assert seen.message == unknown.message
    assert (seen.details, unknown.details) == ({"id": hidden}, {"id": random})


def _outsider_moderates_the_square(ledger: DialogueLedger, w: World) -> None:
    ledger.join_community(w.square, actor_id=w.outsider)
    ledger.grant_role(w.square, w.outsider, Role.MODERATOR, actor_id=w.rep)


def test_a_moderator_elsewhere_is_told_no_such_post_or_thread_of_a_hidden_community(
        ledger: DialogueLedger) -> None:
    w = build_world(ledger)
    thread, post = start_thread(ledger, w.circle, w.alice)
    _outsider_moderates_the_square(ledger, w)
    _same_refusal(ledger, post, lambda i: ledger.moderate(
        w.square, Action.HIDE_POST, ReasonCode.SPAM, "Probe.", post_ids=[i],
        actor_id=w.outsider))
    _same_refusal(ledger, thread, lambda i: ledger.moderate(
        w.square, Action.LOCK_THREAD, ReasonCode.SPAM, "Probe.", thread_id=i,
        actor_id=w.outsider))


def test_another_organisations_representative_is_told_no_such_post_of_a_hidden_community(
        ledger: DialogueLedger) -> None:
    w = build_world(ledger)
    _, post = start_thread(ledger, w.circle, w.alice)
    south = ledger.found_organisation("Southwind", "southwind", actor_id=w.outsider).id
    forum = ledger.create_community(south, "Forum", "forum", access=Access.OPEN,
                                    actor_id=w.outsider).id
    _same_refusal(ledger, post, lambda i: ledger.make_commitment(
        forum, [i], "Probe.", actor_id=w.outsider))


def test_wrong_community_is_answered_to_whoever_sees_where_the_post_belongs(
        ledger: DialogueLedger) -> None:
    w = build_world(ledger)
    thread, post = start_thread(ledger, w.square, w.rep)  # the square is open
    with refused(ledger, WrongCommunity):
        ledger.make_commitment(w.circle, [post], "Probe.", actor_id=w.rep)
    with refused(ledger, WrongCommunity):
        ledger.moderate(w.circle, Action.LOCK_THREAD, ReasonCode.SPAM, "Probe.",
                        thread_id=thread, actor_id=w.community_moderator)
    # the circle's moderator sees the circle: moderating its post from the square
    _, hidden = start_thread(ledger, w.circle, w.alice)
    _outsider_moderates_the_square(ledger, w)
    ledger.invite_directly(w.circle, w.outsider, actor_id=w.rep)
    ledger.accept_invitation(w.circle, actor_id=w.outsider)
    with refused(ledger, WrongCommunity):
        ledger.moderate(w.square, Action.HIDE_POST, ReasonCode.SPAM, "Probe.",
                        post_ids=[hidden], actor_id=w.outsider)


# --- slugs --------------------------------------------------------------------------------
def test_community_slugs_are_unique_within_their_organisation_only(
        ledger: DialogueLedger) -> None:
    w = build_world(ledger)
    south = ledger.found_organisation("Southwind", "southwind", actor_id=w.outsider).id
    theirs = ledger.create_community(south, "Their circle", "circle",
                                     access=Access.INVITATION_ONLY, actor_id=w.outsider).id
    assert theirs == Community.create_id(south, "circle") != w.circle
    with refused(ledger, SlugTaken):
        ledger.create_community(south, "Again", "circle", access=Access.OPEN,
                                actor_id=w.outsider)
    with refused(ledger, SlugTaken):
        ledger.create_community(w.org, "Again", "circle", access=Access.OPEN, actor_id=w.rep)
    assert ledger.community_id("northwind:circle") == w.circle
    assert ledger.community_id("southwind:circle") == theirs
    assert ledger.community_id("square") == w.square
    # a slug alone: the first created of the communities bearing it (the API counts only
    # those the caller may see)
    assert ledger.community_id("circle") == w.circle
    assert ledger.community_ids("circle") == [w.circle, theirs]
    with pytest.raises(NotFound):
        ledger.community_id("southwind:square")
    with pytest.raises(NotFound):
        ledger.community_id("nowhere:square")
    projector = Projector(ledger)  # the views (and the CLIs reading them) resolve alike
    projector.catch_up()
    reader = ViewReader(projector)
    assert reader.community("southwind:circle")["id"] == str(theirs)
    assert reader.community("northwind:circle")["id"] == str(w.circle)
    assert reader.community(str(theirs))["id"] == str(theirs)
    assert reader.community("square")["id"] == str(w.square)
    assert reader.community("circle")["id"] == str(w.circle)


def _old_hall(ledger: DialogueLedger, w: World) -> Community:
    """A community as the code before scoped slugs wrote it: its id from the slug alone, no
    slug index."""
    act = Act(actor_id=w.rep, occurred_at=ledger.clock())
    old: Community = Community._create(Community.Created,  # type: ignore[attr-defined]
                                       id=Community.legacy_id("old-hall"),
                                       organisation_id=w.org, name="Old hall",
                                       slug="old-hall", access=Access.OPEN,
                                       rule=AdmissionRule(), act=act)
    ledger.save(old)
    return old


def test_a_community_stored_before_slugs_were_scoped_keeps_its_id_and_its_slug(
        ledger: DialogueLedger) -> None:
    w = build_world(ledger)
    old = _old_hall(ledger, w)
    assert ledger.community_id("old-hall") == old.id == Community.legacy_id("old-hall")
    assert ledger.community_id("northwind:old-hall") == old.id
    assert ledger.get(Community, old.id).slug == "old-hall"
    with refused(ledger, SlugTaken):  # still taken within its organisation
        ledger.create_community(w.org, "New hall", "old-hall", access=Access.OPEN,
                                actor_id=w.rep)
    south = ledger.found_organisation("Southwind", "southwind", actor_id=w.outsider).id
    theirs = ledger.create_community(south, "Their hall", "old-hall", access=Access.OPEN,
                                     actor_id=w.outsider).id
    assert ledger.community_id("southwind:old-hall") == theirs
    assert ledger.community_id("northwind:old-hall") == old.id
    assert ledger.community_ids("old-hall") == [old.id, theirs]
    assert ledger.community_id("old-hall") == old.id


def test_a_community_stored_before_slugs_were_scoped_is_reached_by_its_slug_over_http(
        store_env: dict[str, str], make_ledger: Callable[[], DialogueLedger]) -> None:
    ledger = make_ledger()
    w = build_world(ledger)
    old = _old_hall(ledger, w)
    token, _ = issue_token(ledger, "alice", "member", "legacy")
    head = ledger.position
    with serve(store_env) as client:
        for ref in ("old-hall", "northwind:old-hall", str(old.id)):
            found = client.get(f"/communities/{ref}", params={"min_position": head},
                               headers={"Authorization": f"Bearer {token}"})
            assert found.status_code == 200, found.text
            assert found.json()["id"] == str(old.id)
            assert found.json()["slug"] == "old-hall"
