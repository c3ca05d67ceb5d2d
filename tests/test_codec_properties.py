"""Round trips through the ledger's codec: every event of every aggregate, with random field
values, is stored as plain JSON and read back equal to what was recorded.

Each example builds a "story": one aggregate of every kind, taken through every event it
has, with random ids, aware datetimes, dates, enums, tuples of ids, optional values, and the
Act and AdmissionRule dataclasses."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import Aggregate, CanMutateAggregate
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger.domain as domain
from ledger.codec import OrjsonTranscoder, TypedMapper
from ledger.domain import (
    Access,
    Act,
    AdmissionRule,
    AppealOutcome,
    Choice,
    CommandRecord,
    Commitment,
    Community,
    CommunitySlug,
    HandleClaim,
    JoinedVia,
    Membership,
    ModerationDecision,
    Nomination,
    Organisation,
    Person,
    Post,
    PostKind,
    ReasonCode,
    Role,
    Side,
    Thread,
)
from ledger.domain.moderation import APPEALABLE, MEMBER_ACTIONS, POST_ACTIONS, THREAD_ACTIONS

MAPPER = TypedMapper(transcoder=OrjsonTranscoder())
PROPERTY = settings(max_examples=100, deadline=None)

#: Whole-minute offsets: what orjson writes and the application stores (it converts to UTC).
zones = st.one_of(
    st.just(UTC),
    st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m))),
)
#: Aware datetimes from year 2 to 9990, to the microsecond (drawn as one integer: cheap).
EARLIEST, LATEST = datetime(2, 1, 1, tzinfo=UTC), datetime(9990, 1, 1, tzinfo=UTC)
moments = st.builds(
    lambda us, zone: (EARLIEST + timedelta(microseconds=us)).astimezone(zone),
    st.integers(0, (LATEST - EARLIEST) // timedelta(microseconds=1)), zones)
texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1,
                max_size=16).filter(str.strip)  # free text refuses NUL
slugs = st.from_regex(r"\A[a-z0-9]{1,10}(-[a-z0-9]{1,10}){0,3}\Z").filter(
    lambda s: 2 <= len(s) <= 64)
handles = st.from_regex(r"\A[^\s/]{1,30}\Z")
ids = st.uuids()


acts = st.builds(Act, actor_id=ids, occurred_at=moments,
                 command_id=st.none() | st.text(max_size=30))


@st.composite
def rules(draw: st.DrawFn) -> AdmissionRule:
    quorum = draw(st.integers(1, 10_000))
    return AdmissionRule(quorum=quorum,
                         threshold=draw(st.floats(0, 1, exclude_min=True)),
                         min_community_votes=draw(st.integers(1, quorum)),
                         deadline_days=draw(st.integers(1, 365)),
                         direct_invitations=draw(st.booleans()))


@st.composite
def stories(draw: st.DrawFn) -> list[CanMutateAggregate[UUID]]:
    """Every event of every aggregate, once at least, with random values."""

    def act(actor: UUID | None = None) -> Act:
        """A fresh random act for each event (by ``actor`` if given)."""
        drawn = draw(acts)
        return drawn if actor is None else replace(drawn, actor_id=actor)

    person = Person(handle=draw(handles), display_name=draw(texts), is_bot=draw(st.booleans()),
                    act=act())
    claim = HandleClaim(key=draw(texts), person_id=person.id, act=act())

    founder = draw(ids)
    organisation = Organisation(name=draw(texts), slug=draw(slugs), founder_id=founder,
                                act=act())
    appointed = draw(ids.filter(lambda i: i != founder))
    organisation.appoint_representative(person_id=appointed, act=act(founder))
    organisation.withdraw_representative(person_id=appointed,
                                         act=act(founder))

    community = Community(organisation_id=organisation.id, name=draw(texts), slug=draw(slugs),
                          access=draw(st.sampled_from(Access)), rule=draw(rules()), act=act())
    community.change_rule(rule=draw(rules()), act=act())
    slug = CommunitySlug(slug=community.slug, community_id=community.id, act=act())
    slug.claim(community_id=draw(ids), act=act())

    person_id = draw(ids)
    membership = Membership(community_id=community.id, person_id=person_id, act=act())
    membership.join(via=draw(st.sampled_from(JoinedVia)),
                    roles=tuple(draw(st.lists(st.sampled_from(Role), max_size=4))), act=act())
    membership.leave(act=act(person_id))
    membership.nominated(nomination_id=draw(ids), act=act())
    membership.nomination_closed(nomination_id=draw(ids), outcome=draw(texts), act=act())
    membership.invite(via=draw(st.sampled_from(JoinedVia)),
                      nomination_id=draw(st.none() | ids), act=act())
    membership.decline_invitation(act=act(person_id))
    membership.invite(via=draw(st.sampled_from(JoinedVia)), nomination_id=draw(ids), act=act())
    membership.accept_invitation(act=act(person_id))
    membership.grant_role(role=Role.MODERATOR, moderator_side=draw(st.sampled_from(Side)),
                          act=act())
    membership.grant_role(role=Role.REPRESENTATIVE, moderator_side=draw(st.none()), act=act())
    membership.revoke_role(role=Role.MODERATOR, act=act())
    membership.suspend(decision_id=draw(ids), act=act())
    membership.reinstate(decision_id=draw(ids), act=act())

    made = act()
    made = replace(made, occurred_at=min(made.occurred_at, datetime(9989, 1, 1, tzinfo=UTC)))
    nomination = Nomination(community_id=community.id, nominee_id=person_id,
                            nominator_id=made.actor_id, statement=draw(texts),
                            rule=draw(rules()), act=made)
    window = timedelta(days=nomination.rule.deadline_days) - timedelta(microseconds=1)
    voters = draw(st.lists(ids, min_size=1, max_size=5, unique=True))
    for voter in voters:
        at = made.occurred_at + draw(st.timedeltas(timedelta(0), window))
        nomination.cast_vote(choice=draw(st.sampled_from(Choice)), reason=draw(texts),
                             for_organisation=draw(st.booleans()),
                             act=Act(actor_id=voter, occurred_at=at))
    nomination.change_vote(choice=draw(st.sampled_from(Choice)), reason=draw(texts),
                           for_organisation=draw(st.booleans()),
                           act=Act(actor_id=voters[0], occurred_at=made.occurred_at))
    nomination.decide(act=Act(actor_id=draw(ids), occurred_at=nomination.deadline,
                              command_id=draw(st.none() | texts)))

    thread = Thread(community_id=community.id, kind=draw(st.sampled_from(PostKind)),
                    title=draw(texts), nomination_id=draw(st.none() | ids), act=act())
    thread.lock(decision_id=draw(ids), act=act())
    thread.unlock(decision_id=draw(ids), act=act())

    written = act()
    post = Post(community_id=community.id, thread_id=thread.id,
                parent_id=draw(st.none() | ids), kind=draw(st.sampled_from(PostKind)),
                body=draw(texts), for_organisation=draw(st.booleans()), act=written)
    post.edit(body=draw(texts), act=act(written.actor_id))
    post.acknowledge(act=act())
    post.hide(decision_id=draw(ids), reason_code=draw(st.sampled_from(ReasonCode)), act=act())
    post.restore(decision_id=draw(ids), act=act())
    removal = draw(ids)
    post.remove(decision_id=removal, reason_code=draw(texts), act=act())
    post.reverse_moderation(decision_id=removal, act=act())
    post.retract(act=act(written.actor_id))

    commitments = []
    for close in ("fulfil", "abandon"):
        commitment = Commitment(community_id=community.id,
                                post_ids=tuple(draw(st.lists(ids, min_size=1, max_size=4))),
                                text=draw(texts), due_on=draw(st.none() | st.dates()),
                                act=act())
        commitment.record_progress(note=draw(texts), act=act())
        getattr(commitment, close)(statement=draw(texts), act=act())
        commitments.append(commitment)

    action = draw(st.sampled_from(sorted(APPEALABLE)))
    affected = tuple(draw(st.lists(ids, min_size=1, max_size=3, unique=True)))
    moderated = act()
    decision = ModerationDecision(
        community_id=community.id, moderator_side=draw(st.sampled_from(Side)), action=action,
        reason_code=draw(st.sampled_from(ReasonCode)), statement=draw(texts),
        post_ids=tuple(draw(st.lists(ids, min_size=1, max_size=3)))
        if action in POST_ACTIONS else (),
        thread_id=draw(ids) if action in THREAD_ACTIONS else None,
        member_id=draw(ids) if action in MEMBER_ACTIONS else None,
        affected_person_ids=affected, automated_detection=draw(st.booleans()),
        author_notified=draw(st.booleans()), act=moderated)
    decision.notify_author(notice=draw(texts), act=act())
    decision.lodge_appeal(statement=draw(texts),
                          act=act(draw(st.sampled_from(affected))))
    reviewer = UUID(int=(moderated.actor_id.int + 1) % 2**128)
    decision.decide_appeal(outcome=draw(st.sampled_from(AppealOutcome)), reasons=draw(texts),
                           act=act(reviewer))

    record = CommandRecord(command_id=draw(texts), command=draw(texts), result_id=draw(ids),
                           act=act())

    aggregates = [person, claim, organisation, community, slug, membership, nomination, thread,
                  post, *commitments, decision, record]
    return [event for aggregate in aggregates for event in aggregate.collect_events()]


def declared_events() -> set[type[Any]]:
    """Every event class the domain's aggregates declare (but the library's unused
    default ``Created`` classes)."""
    declared = set()
    for name in domain.__all__:
        cls = getattr(domain, name)
        if isinstance(cls, type) and issubclass(cls, Aggregate):
            for event_name, value in vars(cls).items():
                if (isinstance(value, type) and issubclass(value, CanMutateAggregate)
                        and event_name not in ("Event", "Created")):
                    declared.add(value)
    return declared


DECLARED = declared_events()


@PROPERTY
@given(stories())
def test_every_event_survives_the_codec_with_equal_fields(
        events: list[CanMutateAggregate[UUID]]) -> None:
    assert {type(e) for e in events} >= DECLARED, "a story must use every declared event"
    for event in events:
        stored = MAPPER.to_stored_event(event)
        state = orjson.loads(stored.state)  # plain JSON: ids and times as strings
        assert state["act"]["actor_id"] == str(event.act.actor_id)  # type: ignore[attr-defined]
        assert datetime.fromisoformat(state["act"]["occurred_at"]) \
            == event.act.occurred_at  # type: ignore[attr-defined]
        restored = MAPPER.to_domain_event(stored)
        assert type(restored) is type(event)
        assert restored.__dict__ == event.__dict__, type(event).__qualname__


@PROPERTY
@given(acts, rules(), st.none() | st.dates(), st.lists(ids, max_size=5))
def test_a_restored_event_has_the_rich_types_back(act: Act, rule: AdmissionRule,
                                                  due_on: date | None,
                                                  post_ids: list[UUID]) -> None:
    community = Community(organisation_id=act.actor_id, name="Voices", slug="voices",
                          access=Access.OPEN, rule=rule, act=act)
    commitment = Commitment(community_id=community.id, post_ids=(*post_ids, act.actor_id),
                            text="We will", due_on=due_on, act=act)
    for event in (*community.collect_events(), *commitment.collect_events()):
        restored: Any = MAPPER.to_domain_event(MAPPER.to_stored_event(event))
        assert type(restored.act) is Act
        assert type(restored.act.actor_id) is UUID
        assert type(restored.act.occurred_at) is datetime
        assert restored.act.occurred_at.utcoffset() == act.occurred_at.utcoffset()
        if hasattr(restored, "rule"):
            assert type(restored.rule) is AdmissionRule
            assert type(restored.access) is Access
        if hasattr(restored, "post_ids"):
            assert type(restored.post_ids) is tuple
            assert all(type(i) is UUID for i in restored.post_ids)
            assert restored.due_on is None or type(restored.due_on) is date


def test_every_declared_event_is_known() -> None:
    names = {e.__qualname__ for e in DECLARED}
    assert {"Membership.Joined", "Nomination.Decided", "ModerationDecision.AppealDecided",
            "Post.Restored", "Commitment.Abandoned", "Thread.Unlocked"} <= names
    assert len(DECLARED) >= 35
