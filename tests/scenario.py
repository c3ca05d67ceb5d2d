"""A standard world for tests that need an organisation, its communities and their people.

``build_world(ledger)`` records:

* ``rep``: founder and representative of the organisation ``org``;
* ``circle``: an invitation-only community (its rule allows direct invitations, so members
  are brought in quickly; pass ``rule=`` to change the rule once they are in), with
  ``alice``, ``bob`` and ``carol`` as members, ``community_moderator`` (a member who
  moderates for the community side), ``org_moderator`` (a second representative of the
  organisation, representative and moderator in the community: the organisation side) and
  ``auditor`` (appointed auditor);
* ``square``: an open community created by ``rep``, nobody else in it;
* ``outsider``: a registered person with no standing anywhere.

By default it saves, in one transaction, the very aggregates and events that the ledger's
commands would record (a test proves the two logs equal): many times faster on PostgreSQL
than 26 commands. ``by_commands=True`` records the world through the commands instead.

The helpers below find what commands do not return (opening posts, debate threads), read
the raw event log, and check that a refused command changed nothing (``refused``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
import pytest

from ledger.application import DialogueLedger
from ledger.domain import (
    Access,
    Act,
    AdmissionRule,
    Community,
    CommunitySlug,
    HandleClaim,
    JoinedVia,
    Membership,
    Organisation,
    Person,
    PostKind,
    Role,
    Side,
)
from ledger.errors import LedgerError

#: The rule ``circle`` is created with: decided by 3 votes, 2 of them from the community.
SETUP_RULE = AdmissionRule(quorum=3, threshold=0.6, min_community_votes=2, deadline_days=7,
                           direct_invitations=True)


@dataclass(frozen=True)
class World:
    org: UUID
    circle: UUID
    square: UUID
    rep: UUID
    org_moderator: UUID
    community_moderator: UUID
    alice: UUID
    bob: UUID
    carol: UUID
    auditor: UUID
    outsider: UUID

    @property
    def community_voters(self) -> tuple[UUID, ...]:
        """Members of ``circle`` who do not speak for the organisation."""
        return (self.alice, self.bob, self.carol, self.community_moderator)

    @property
    def representatives(self) -> tuple[UUID, ...]:
        """Members of ``circle`` who speak for the organisation."""
        return (self.rep, self.org_moderator)


def person(ledger: DialogueLedger, handle: str) -> UUID:
    return ledger.register_person(handle, handle.capitalize()).id


def bring_in(ledger: DialogueLedger, community: UUID, person_id: UUID, *, by: UUID) -> UUID:
    """Invite ``person_id`` directly into ``community`` and accept; the membership id."""
    ledger.invite_directly(community, person_id, actor_id=by)
    return ledger.accept_invitation(community, actor_id=person_id).id


def build_world(ledger: DialogueLedger, *, rule: AdmissionRule | None = None,
                by_commands: bool = False) -> World:
    if by_commands:
        return _build_by_commands(ledger, rule)
    now = ledger.clock()

    def by(actor: UUID) -> Act:
        return Act(actor_id=actor, occurred_at=now)

    handles = ("rep", "alice", "bob", "carol", "cmod", "omod", "auditor", "outsider")
    people = [Person(handle=h, display_name=h.capitalize(), is_bot=False,
                     act=by(Person.create_id(h))) for h in handles]
    claims = [HandleClaim(key=key, person_id=p.id, act=by(p.id)) for p in people
              if (key := HandleClaim.needed_for(p.handle)) is not None]  # as the command does
    rep, alice, bob, carol, community_moderator, org_moderator, auditor, outsider = (
        p.id for p in people)
    org = Organisation(name="Northwind", slug="northwind", founder_id=rep, act=by(rep))
    circle = Community(organisation_id=org.id, name="Inner circle", slug="circle",
                       access=Access.INVITATION_ONLY, rule=SETUP_RULE, act=by(rep))
    square = Community(organisation_id=org.id, name="Town square", slug="square",
                       access=Access.OPEN, rule=AdmissionRule(), act=by(rep))
    slugs = [CommunitySlug(slug=c.slug, community_id=c.id, act=by(rep))
             for c in (circle, square)]
    founders = []
    for community in (circle, square):
        founder = Membership(community_id=community.id, person_id=rep, act=by(rep))
        founder.join(via=JoinedVia.FOUNDING, roles=(Role.MEMBER, Role.REPRESENTATIVE),
                     act=by(rep))
        founders.append(founder)
    org.appoint_representative(person_id=org_moderator, act=by(rep))
    members = {}
    for member in (alice, bob, carol, community_moderator, org_moderator):
        members[member] = Membership(community_id=circle.id, person_id=member, act=by(rep))
        members[member].invite(via=JoinedVia.DIRECT_INVITATION, nomination_id=None,
                               act=by(rep))
        members[member].accept_invitation(act=by(member))
    members[org_moderator].grant_role(role=Role.REPRESENTATIVE, moderator_side=None,
                                      act=by(rep))
    members[org_moderator].grant_role(role=Role.MODERATOR, moderator_side=Side.ORGANISATION,
                                      act=by(rep))
    members[community_moderator].grant_role(role=Role.MODERATOR,
                                            moderator_side=Side.COMMUNITY, act=by(rep))
    audit = Membership(community_id=circle.id, person_id=auditor, act=by(rep))
    audit.join(via=JoinedVia.APPOINTMENT, roles=(Role.AUDITOR,), act=by(rep))
    if rule is not None:
        circle.change_rule(rule=rule, act=by(rep))
    ledger.save(*people, *claims, org, circle, square, *slugs, *founders, *members.values(), audit)
    return World(org=org.id, circle=circle.id, square=square.id, rep=rep,
                 org_moderator=org_moderator, community_moderator=community_moderator,
                 alice=alice, bob=bob, carol=carol, auditor=auditor, outsider=outsider)


def _build_by_commands(ledger: DialogueLedger, rule: AdmissionRule | None) -> World:
    rep = person(ledger, "rep")
    org = ledger.found_organisation("Northwind", "northwind", actor_id=rep).id
    circle = ledger.create_community(org, "Inner circle", "circle",
                                     access=Access.INVITATION_ONLY, rule=SETUP_RULE,
                                     actor_id=rep).id
    square = ledger.create_community(org, "Town square", "square", access=Access.OPEN,
                                     actor_id=rep).id
    alice, bob, carol = (person(ledger, h) for h in ("alice", "bob", "carol"))
    community_moderator = person(ledger, "cmod")
    org_moderator = person(ledger, "omod")
    auditor = person(ledger, "auditor")
    outsider = person(ledger, "outsider")
    ledger.appoint_representative(org, org_moderator, actor_id=rep)
    for member in (alice, bob, carol, community_moderator, org_moderator):
        bring_in(ledger, circle, member, by=rep)
    ledger.grant_role(circle, org_moderator, Role.REPRESENTATIVE, actor_id=rep)
    ledger.grant_role(circle, org_moderator, Role.MODERATOR, actor_id=rep)
    ledger.grant_role(circle, community_moderator, Role.MODERATOR, actor_id=rep)
    ledger.grant_role(circle, auditor, Role.AUDITOR, actor_id=rep)
    if rule is not None:
        ledger.change_admission_rule(circle, rule, actor_id=rep)
    return World(org=org, circle=circle, square=square, rep=rep, org_moderator=org_moderator,
                 community_moderator=community_moderator, alice=alice, bob=bob, carol=carol,
                 auditor=auditor, outsider=outsider)


# --- reading the log -------------------------------------------------------------------
def raw_events(ledger: DialogueLedger, start: int = 1) -> list[tuple[str, dict[str, Any]]]:
    """``(topic, state)`` of every recorded event from ``start``, state as plain JSON."""
    return [(n.topic, orjson.loads(n.state))
            for n in ledger.recorder.select_notifications(start=start, limit=10_000)]


def opening_post(ledger: DialogueLedger, thread_id: UUID) -> UUID:
    """The id of the thread's opening post (the one post in it without a parent)."""
    for notification in ledger.recorder.select_notifications(start=1, limit=10_000):
        if notification.topic.endswith(":Post.Published"):
            state = orjson.loads(notification.state)
            if state["thread_id"] == str(thread_id) and state["parent_id"] is None:
                return notification.originator_id
    raise LookupError(f"no opening post in thread {thread_id}")


def debate_thread(ledger: DialogueLedger, nomination_id: UUID) -> UUID:
    """The id of the nomination's debate thread."""
    for notification in ledger.recorder.select_notifications(start=1, limit=10_000):
        if notification.topic.endswith(":Thread.Opened"):
            state = orjson.loads(notification.state)
            if state["nomination_id"] == str(nomination_id):
                return notification.originator_id
    raise LookupError(f"no debate thread for nomination {nomination_id}")


def start_thread(ledger: DialogueLedger, community: UUID, author: UUID,
                 title: str = "Opening hours") -> tuple[UUID, UUID]:
    """Open a question thread; ``(thread id, opening post id)``."""
    thread_id = ledger.open_thread(community, PostKind.QUESTION, title,
                                   "Why does the library close at five?", actor_id=author).id
    return thread_id, opening_post(ledger, thread_id)


def membership(ledger: DialogueLedger, community: UUID, person_id: UUID) -> Membership:
    return ledger.get(Membership, Membership.create_id(community, person_id))


@contextmanager
def refused(ledger: DialogueLedger, error: type[LedgerError], what: str = "") -> Iterator[None]:
    """Assert the block fails with exactly ``error`` and records nothing (``what`` names the
    case in failure messages)."""
    before = ledger.position
    try:
        yield
    except LedgerError as raised:
        assert type(raised) is error, f"{what}: {type(raised).__name__} is not {error.__name__}"
    else:
        pytest.fail(f"{what}: {error.__name__} was not raised")
    assert ledger.position == before, f"{what}: a refused command recorded events"
