"""The ledger's commands: each loads the few small aggregates its rules need, checks them,
and saves the new events of every aggregate it changed in one atomic transaction.

A command returns a :class:`Receipt` with the id of the thing it created or changed and
the ledger position of its last event, for read-your-writes. Given a ``command_id``, a
retried command is recorded once and answered with the first result. Every command takes
the acting person (``actor_id``) and may take ``occurred_at``, the time of the act when it
differs from now (an imported archive).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import MethodType
from typing import TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, CanMutateProtocol, DomainEventProtocol
from eventsourcing.persistence import (
    IntegrityError,
    InternalError,
    Mapper,
    PersistenceError,
    ProgrammingError,
    Recording,
    Transcoder,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import get_topic

from ledger.codec import OrjsonTranscoder, TypedMapper
from ledger.config import create_private_sqlite_file, store_env
from ledger.domain import (
    Access,
    Act,
    Action,
    AdmissionRule,
    AppealOutcome,
    Choice,
    CommandId,
    CommandRecord,
    Commitment,
    Community,
    CommunitySlug,
    HandleClaim,
    JoinedVia,
    Membership,
    ModerationDecision,
    Nomination,
    NominationStatus,
    Organisation,
    Person,
    Post,
    PostKind,
    ReasonCode,
    Role,
    Side,
    Status,
    Thread,
    can_see_community,
)
from ledger.domain.base import check_slug, now_utc, utc
from ledger.domain.moderation import MEMBER_ACTIONS, POST_ACTIONS, THREAD_ACTIONS
from ledger.domain.post import MAX_BODY
from ledger.domain.text import (
    check_free_text,
    check_handle,
    check_name,
    check_token_text,
    claim_key,
    clean_free_text,
)
from ledger.errors import (
    CommandIdReused,
    CommandIdReusedForAnotherRequest,
    ConcurrencyConflict,
    DirectInvitationsNotAllowed,
    HandleConfusable,
    HandleTaken,
    InvalidInput,
    InvitationRequired,
    NominationsNotUsed,
    NotARepresentative,
    NotFound,
    SlugTaken,
    WrongCommunity,
)
from ledger.group_commit import GroupCommit
from ledger.store import (
    NothingRecorded,
    failed_before_writing,
    position_of,
    separate_reads,
    stored_events_of,
)

A = TypeVar("A", bound=Aggregate)
Outcome = tuple[UUID, Sequence[Aggregate]]


def created_tables_race(create: Callable[[], None], attempts: int = 5) -> None:
    """Run ``create`` (which creates tables IF NOT EXISTS) again if another process created
    the same tables at the same moment: PostgreSQL's IF NOT EXISTS does not cover that race
    (it fails on the catalogue's unique index, or with "tuple concurrently updated")."""
    for attempt in range(attempts):
        try:
            create()
            return
        except (IntegrityError, InternalError, ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


@dataclass(frozen=True)
class Receipt:
    """What a command answers: the id it created or changed, and the ledger position of its
    last event (``replayed`` when a retried command id was answered from the first run)."""

    id: UUID
    position: int
    replayed: bool = False


@dataclass
class HandleClaims:
    """What :meth:`DialogueLedger.claim_registered_handles` did: how many claims it
    recorded, and the registered handles that look like another person's (handle, the id of
    the person who holds the claim)."""

    claimed: int = 0
    look_alikes: list[tuple[str, UUID]] = field(default_factory=list)


class DialogueLedger(Application[UUID]):
    name = "DialogueLedger"
    #: How often a command is decided again after a concurrent change to its aggregates.
    max_attempts = 5
    #: How far in the future a given ``occurred_at`` may lie (clocks differ a little).
    max_clock_skew = timedelta(minutes=5)

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        settings = store_env(env)
        create_private_sqlite_file(settings)
        created_tables_race(lambda: super(DialogueLedger, self).__init__(settings))
        if isinstance(self.recorder, PostgresApplicationRecorder):
            # eventsourcing retries a failed insert 10 times (0.2 s apart), so a lock timeout of
            # T seconds would keep a command waiting about 10 x (T + 0.2) s. Fail after T.
            unretried = getattr(type(self.recorder).insert_events, "__wrapped__", None)
            if unretried is not None:
                self.recorder.insert_events = MethodType(  # type: ignore[method-assign]
                    unretried, self.recorder)
        if type(self.recorder) is SQLiteApplicationRecorder:
            GroupCommit(self.recorder).install()  # saves made at once share one commit
        self.clock = clock
        #: Called with the new ledger position after each save in this process, so that
        #: in-process views can follow at once (SQLite has no subscription to follow).
        self.listeners: list[Callable[[int], None]] = []
        self._organisations: dict[UUID, UUID] = {}  # community → its organisation
        #: post → (its thread, its community): neither ever changes.
        self._posts: dict[UUID, tuple[UUID, UUID]] = {}
        #: The aggregates a command attempt has loaded ahead, in one read transaction
        #: (per thread: commands run concurrently in a server's worker threads).
        self._loaded = threading.local()
        #: Where commands read ahead on SQLite: see ``ledger.store.separate_reads``.
        self._reads = separate_reads(self.recorder)

    def close(self) -> None:
        if self._reads is not None:
            self._reads.close()
        super().close()

    def construct_transcoder(self) -> Transcoder:
        return OrjsonTranscoder()

    def construct_mapper(self) -> Mapper[UUID]:
        return self.factory.mapper(transcoder=self.construct_transcoder(),
                                   mapper_class=TypedMapper)

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        if recordings and self.listeners:
            self.announce(recordings[-1].notification.id)

    def announce(self, position: int) -> None:
        """Call the listeners with a new ledger position: after each save here, and when
        another process that runs this process's commands (the API's command process) has
        recorded one."""
        for listener in list(self.listeners):
            listener(position)

    @property
    def position(self) -> int:
        """The ledger's head: the position of the last recorded event (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    # ================================================================================
    # People and organisations
    # ================================================================================
    def register_person(self, handle: str, display_name: str, *, is_bot: bool = False,
                        actor_id: UUID | None = None, command_id: str | None = None,
                        occurred_at: datetime | None = None) -> Receipt:
        """Register a person by a unique handle. The person is their own actor unless
        someone else (an importer, an administrator) is named. The handle is stored in its
        PRECIS form, and refused if it looks like a registered one (see
        :mod:`ledger.domain.text`)."""
        handle = check_handle(handle)
        display_name = check_name("display_name", display_name)
        person_id = Person.create_id(handle)
        claim = HandleClaim.needed_for(handle)

        def decide(act: Act) -> Outcome:
            self._check_handle_free(handle, person_id, claim)
            person = Person(handle=handle, display_name=display_name, is_bot=is_bot, act=act)
            if claim is None:
                return person_id, [person]
            return person_id, [person, HandleClaim(key=claim, person_id=person_id, act=act)]

        return self._execute("register-person", actor_id or person_id, decide,
                             command_id, occurred_at)

    def _check_handle_free(self, handle: str, person_id: UUID, claim: str | None) -> None:
        """No person has the handle, and none has one that looks like it: the place the
        person's own id holds, and the claim of its look-alike class, are both free."""
        if self._exists(person_id):
            try:
                self._get(Person, person_id)
            except NotFound:  # a look-alike's claim holds the place
                raise HandleConfusable("that handle looks like one already registered",
                                       handle=handle) from None
            raise HandleTaken("that handle is taken", handle=handle)
        if claim is not None and self._exists(HandleClaim.create_id(claim)):
            raise HandleConfusable("that handle looks like one already registered",
                                   handle=handle)

    def claim_registered_handles(self, batch_size: int = 500) -> HandleClaims:
        """Give every registered person who holds no look-alike claim one (people registered
        before claims existed): afterwards a look-alike of any of them is refused. Two people
        already registered under look-alike handles cannot both hold the claim: the first
        keeps it, and each such pair is reported. Safe to run again: it records nothing
        then."""
        topic = get_topic(Person.Registered)  # type: ignore[attr-defined]
        found = HandleClaims()
        start: int | None = 1
        while start is not None:
            page = self.recorder.select_notifications(start, batch_size, topics=[topic])
            for notification in page:
                registered = self.mapper.to_domain_event(notification)
                handle = str(vars(registered)["handle"])
                key = claim_key(handle)
                claim_id = HandleClaim.create_id(key)
                if claim_id == registered.originator_id:
                    continue  # the person holds their own place
                holder: Aggregate | None
                try:
                    holder = self.repository.get(claim_id)
                except AggregateNotFoundError:
                    holder = None
                if holder is None:
                    claim = HandleClaim(key=key, person_id=registered.originator_id,
                                        act=Act(actor_id=registered.originator_id,
                                                occurred_at=self.clock()))
                    try:
                        self.save(claim)
                        found.claimed += 1
                        continue
                    except IntegrityError:  # claimed meanwhile
                        holder = self.repository.get(claim_id)
                holder_id: UUID = holder.person_id if isinstance(holder, HandleClaim) \
                    else holder.id
                if holder_id != registered.originator_id:
                    found.look_alikes.append((handle, holder_id))
            start = page[-1].id + 1 if len(page) == batch_size else None
        return found

    def found_organisation(self, name: str, slug: str, *, actor_id: UUID,
                           command_id: str | None = None,
                           occurred_at: datetime | None = None) -> Receipt:
        """Found an organisation; its founder is its first representative."""
        name = check_name("name", name)
        check_slug(slug)
        organisation_id = Organisation.create_id(slug)

        def decide(act: Act) -> Outcome:
            self._get(Person, act.actor_id)
            if self._exists(organisation_id):
                raise SlugTaken("that organisation slug is taken", slug=slug)
            return organisation_id, [Organisation(name=name, slug=slug,
                                                  founder_id=act.actor_id, act=act)]

        return self._execute("found-organisation", actor_id, decide, command_id, occurred_at)

    def appoint_representative(self, organisation_id: UUID, person_id: UUID, *,
                               actor_id: UUID, command_id: str | None = None,
                               occurred_at: datetime | None = None) -> Receipt:
        def decide(act: Act) -> Outcome:
            organisation = self._get(Organisation, organisation_id)
            self._get(Person, person_id)
            organisation.appoint_representative(person_id=person_id, act=act)
            return organisation.id, [organisation]

        return self._execute("appoint-representative", actor_id, decide, command_id,
                             occurred_at)

    # ================================================================================
    # Communities and memberships
    # ================================================================================
    def create_community(self, organisation_id: UUID, name: str, slug: str, *,
                         access: Access, rule: AdmissionRule | None = None,
                         actor_id: UUID, command_id: str | None = None,
                         occurred_at: datetime | None = None) -> Receipt:
        """A representative creates a community for the organisation and joins it as the
        organisation's representative. Its slug is unique within the organisation; other
        organisations' communities may bear the same slug (and nothing here depends on
        them, so creating one reveals nothing about them)."""
        name = check_name("name", name)
        check_slug(slug)

        def decide(act: Act) -> Outcome:
            organisation = self._get(Organisation, organisation_id)
            organisation.check_is_representative(act.actor_id)
            self._check_community_slug_free(organisation.id, slug)
            community = Community(organisation_id=organisation.id, name=name, slug=slug,
                                  access=Access(access), rule=rule or AdmissionRule(), act=act)
            founder = Membership(community_id=community.id, person_id=act.actor_id, act=act)
            founder.join(via=JoinedVia.FOUNDING, roles=(Role.MEMBER, Role.REPRESENTATIVE),
                         act=act)
            index_id = CommunitySlug.create_id(slug)
            if self._exists(index_id):
                index = self._get(CommunitySlug, index_id)
                index.claim(community_id=community.id, act=act)
            else:
                index = CommunitySlug(slug=slug, community_id=community.id, act=act)
            return community.id, [community, founder, index]

        return self._execute("create-community", actor_id, decide, command_id, occurred_at)

    def _check_community_slug_free(self, organisation_id: UUID, slug: str) -> None:
        """No community of the organisation bears the slug: neither one created since slugs
        are scoped, nor one from before (whose id derives from the slug alone; if another
        organisation's, the slug is free here)."""
        if self._exists(Community.create_id(organisation_id, slug)):
            raise SlugTaken("that community slug is taken", slug=slug)
        legacy_id = Community.legacy_id(slug)
        if self._exists(legacy_id) and \
                self._get(Community, legacy_id).organisation_id == organisation_id:
            raise SlugTaken("that community slug is taken", slug=slug)

    def change_admission_rule(self, community_id: UUID, rule: AdmissionRule, *,
                              actor_id: UUID, command_id: str | None = None,
                              occurred_at: datetime | None = None) -> Receipt:
        def decide(act: Act) -> Outcome:
            community = self._get(Community, community_id)
            self._check_representative(community.id, act)
            community.change_rule(rule=rule, act=act)
            return community.id, [community]

        return self._execute("change-admission-rule", actor_id, decide, command_id,
                             occurred_at)

    def join_community(self, community_id: UUID, *, actor_id: UUID,
                       command_id: str | None = None,
                       occurred_at: datetime | None = None) -> Receipt:
        """Anyone may join an open community; an invitation-only one needs an invitation."""

        def decide(act: Act) -> Outcome:
            community = self._get(Community, community_id)
            self._get(Person, act.actor_id)
            if community.is_invitation_only:
                raise InvitationRequired("this community is invitation-only",
                                         community_id=community.id)
            membership = self._membership(community.id, act)
            membership.join(via=JoinedVia.OPEN, roles=(Role.MEMBER,), act=act)
            return membership.id, [membership]

        return self._execute("join-community", actor_id, decide, command_id, occurred_at)

    def leave_community(self, community_id: UUID, *, actor_id: UUID,
                        command_id: str | None = None,
                        occurred_at: datetime | None = None) -> Receipt:
        def decide(act: Act) -> Outcome:
            membership = self._membership(self._get(Community, community_id).id, act)
            membership.check_can_leave()
            membership.leave(act=act)
            return membership.id, [membership]

        return self._execute("leave-community", actor_id, decide, command_id, occurred_at)

    def grant_role(self, community_id: UUID, person_id: UUID, role: Role, *,
                   actor_id: UUID, command_id: str | None = None,
                   occurred_at: datetime | None = None) -> Receipt:
        """A representative grants a member a role. Only the organisation's representatives
        can be made its representatives here; a moderator's side (organisation or
        community) is recorded from whether they speak for the organisation."""
        role = Role(role)

        def decide(act: Act) -> Outcome:
            community = self._get(Community, community_id)
            organisation = self._get(Organisation, community.organisation_id)
            self._check_representative(community.id, act)
            self._get(Person, person_id)
            membership = self._membership(community.id, act, person_id)
            if role is Role.AUDITOR:
                membership.join(via=JoinedVia.APPOINTMENT, roles=(Role.AUDITOR,), act=act)
                return membership.id, [membership]
            if role is Role.REPRESENTATIVE:
                organisation.check_is_representative(person_id)
            side = Side.ORGANISATION if organisation.is_representative(person_id) \
                else Side.COMMUNITY
            membership.grant_role(role=role,
                                  moderator_side=side if role is Role.MODERATOR else None,
                                  act=act)
            return membership.id, [membership]

        return self._execute("grant-role", actor_id, decide, command_id, occurred_at)

    def revoke_role(self, community_id: UUID, person_id: UUID, role: Role, *,
                    actor_id: UUID, command_id: str | None = None,
                    occurred_at: datetime | None = None) -> Receipt:
        def decide(act: Act) -> Outcome:
            community = self._get(Community, community_id)
            self._check_representative(community.id, act)
            membership = self._membership(community.id, act, person_id)
            membership.revoke_role(role=Role(role), act=act)
            return membership.id, [membership]

        return self._execute("revoke-role", actor_id, decide, command_id, occurred_at)

    def invite_directly(self, community_id: UUID, person_id: UUID, *, actor_id: UUID,
                        command_id: str | None = None,
                        occurred_at: datetime | None = None) -> Receipt:
        """The organisation invites someone without a nomination, where the rules allow."""

        def decide(act: Act) -> Outcome:
            community = self._get(Community, community_id)
            self._check_representative(community.id, act)
            if not community.rule.direct_invitations:
                raise DirectInvitationsNotAllowed(
                    "this community's rules do not allow direct invitations",
                    community_id=community.id)
            self._get(Person, person_id)
            membership = self._membership(community.id, act, person_id)
            membership.invite(via=JoinedVia.DIRECT_INVITATION, nomination_id=None, act=act)
            return membership.id, [membership]

        return self._execute("invite-directly", actor_id, decide, command_id, occurred_at)

    def accept_invitation(self, community_id: UUID, *, actor_id: UUID,
                          command_id: str | None = None,
                          occurred_at: datetime | None = None) -> Receipt:
        def decide(act: Act) -> Outcome:
            membership = self._membership(self._get(Community, community_id).id, act)
            membership.accept_invitation(act=act)
            return membership.id, [membership]

        return self._execute("accept-invitation", actor_id, decide, command_id, occurred_at)

    def decline_invitation(self, community_id: UUID, *, actor_id: UUID,
                           command_id: str | None = None,
                           occurred_at: datetime | None = None) -> Receipt:
        def decide(act: Act) -> Outcome:
            membership = self._membership(self._get(Community, community_id).id, act)
            membership.decline_invitation(act=act)
            return membership.id, [membership]

        return self._execute("decline-invitation", actor_id, decide, command_id, occurred_at)

    # ================================================================================
    # Admission by dialogue
    # ================================================================================
    def nominate(self, community_id: UUID, nominee_id: UUID, statement: str, *,
                 actor_id: UUID, command_id: str | None = None,
                 occurred_at: datetime | None = None) -> Receipt:
        """A member nominates a person; the nomination opens its own debate thread, whose
        opening post is the nominator's statement."""
        statement = check_free_text("statement", statement, 5_000)

        def decide(act: Act) -> Outcome:
            community = self._get(Community, community_id)
            if not community.is_invitation_only:
                raise NominationsNotUsed("open communities need no nominations; join instead",
                                         community_id=community.id)
            nominator = self._membership(community.id, act)
            nominator.check_can_write()
            for_organisation = self._speaks_for_organisation(community, act.actor_id)
            nominee = self._get(Person, nominee_id)
            candidacy = self._membership(community.id, act, nominee_id)
            nomination = Nomination(community_id=community.id, nominee_id=nominee_id,
                                    nominator_id=act.actor_id, statement=statement,
                                    rule=community.rule, act=act)
            thread = Thread(community_id=community.id, kind=PostKind.PROPOSAL,
                            title=clean_free_text(f"Nomination: {nominee.display_name}")[:200],
                            nomination_id=nomination.id, act=act)
            post = Post(community_id=community.id, thread_id=thread.id, parent_id=None,
                        kind=PostKind.PROPOSAL, body=statement,
                        for_organisation=for_organisation, act=act)
            candidacy.nominated(nomination_id=nomination.id, act=act)
            return nomination.id, [nomination, thread, post, candidacy]

        return self._execute("nominate", actor_id, decide, command_id, occurred_at)

    def cast_vote(self, nomination_id: UUID, choice: Choice, reason: str, *,
                  actor_id: UUID, command_id: str | None = None,
                  occurred_at: datetime | None = None) -> Receipt:
        return self._vote("cast-vote", nomination_id, choice, reason, actor_id, command_id,
                          occurred_at, change=False)

    def change_vote(self, nomination_id: UUID, choice: Choice, reason: str, *,
                    actor_id: UUID, command_id: str | None = None,
                    occurred_at: datetime | None = None) -> Receipt:
        return self._vote("change-vote", nomination_id, choice, reason, actor_id, command_id,
                          occurred_at, change=True)

    def _vote(self, name: str, nomination_id: UUID, choice: Choice, reason: str,
              actor_id: UUID, command_id: str | None, occurred_at: datetime | None, *,
              change: bool) -> Receipt:
        reason = check_free_text("reason", reason, 2_000)

        def decide(act: Act) -> Outcome:
            nomination = self._get(Nomination, nomination_id)
            voter = self._membership(nomination.community_id, act)
            voter.check_can_write()
            vote = nomination.change_vote if change else nomination.cast_vote
            vote(choice=Choice(choice), reason=reason,
                 for_organisation=self._speaks_for_organisation(nomination.community_id,
                                                                act.actor_id), act=act)
            return nomination.id, [nomination]

        return self._execute(name, actor_id, decide, command_id, occurred_at)

    def decide_nomination(self, nomination_id: UUID, *, actor_id: UUID,
                          command_id: str | None = None,
                          occurred_at: datetime | None = None) -> Receipt:
        """Close a nomination by the admission rule: admitted (an invitation follows),
        declined, or expired at its deadline. Any member may call for the decision."""

        def decide(act: Act) -> Outcome:
            nomination = self._get(Nomination, nomination_id)
            self._membership(nomination.community_id, act).check_can_write()
            outcome = nomination.decide(act=act)
            candidacy = self._membership(nomination.community_id, act, nomination.nominee_id)
            if outcome is NominationStatus.ADMITTED and candidacy.status in (
                    Status.OUTSIDE, Status.LEFT) and candidacy.invitation is None:
                candidacy.invite(via=JoinedVia.NOMINATION, nomination_id=nomination.id, act=act)
            else:
                candidacy.nomination_closed(nomination_id=nomination.id, outcome=outcome.value,
                                            act=act)
            return nomination.id, [nomination, candidacy]

        return self._execute("decide-nomination", actor_id, decide, command_id, occurred_at)

    # ================================================================================
    # Threads and posts
    # ================================================================================
    def open_thread(self, community_id: UUID, kind: PostKind, title: str, body: str, *,
                    actor_id: UUID, command_id: str | None = None,
                    occurred_at: datetime | None = None) -> Receipt:
        """Open a thread with its opening post; the receipt's id is the thread's."""
        kind = PostKind(kind)
        title = check_free_text("title", title, 200)
        body = check_free_text("body", body, MAX_BODY)

        def decide(act: Act) -> Outcome:
            community = self._get(Community, community_id)
            author = self._membership(community.id, act)
            author.check_can_write()
            thread = Thread(community_id=community.id, kind=kind, title=title,
                            nomination_id=None, act=act)
            post = Post(community_id=community.id, thread_id=thread.id, parent_id=None,
                        kind=kind, body=body,
                        for_organisation=self._speaks_for_organisation(community, act.actor_id),
                        act=act)
            return thread.id, [thread, post]

        return self._execute("open-thread", actor_id, decide, command_id, occurred_at)

    def reply(self, parent_id: UUID, body: str, *, actor_id: UUID,
              kind: PostKind = PostKind.COMMENT, command_id: str | None = None,
              occurred_at: datetime | None = None) -> Receipt:
        """Reply to any post of a thread. Costs the same however long the thread is: it
        loads the parent post, the thread and the author's membership, nothing else."""
        kind = PostKind(kind)
        body = check_free_text("body", body, MAX_BODY)

        def decide(act: Act) -> Outcome:
            parent = self._get(Post, parent_id)
            self._remember_post(parent)
            thread = self._get(Thread, parent.thread_id)
            author = self._membership(parent.community_id, act)
            author.check_can_write()
            thread.check_not_locked()
            parent.check_can_be_replied_to()
            post = Post(community_id=parent.community_id, thread_id=thread.id,
                        parent_id=parent.id, kind=kind, body=body,
                        for_organisation=self._speaks_for_organisation(parent.community_id,
                                                                       act.actor_id), act=act)
            return post.id, [post]

        return self._execute("reply", actor_id, decide, command_id, occurred_at,
                             reads=lambda: self._post_reads(parent_id, actor_id))

    def edit_post(self, post_id: UUID, body: str, *, actor_id: UUID,
                  command_id: str | None = None,
                  occurred_at: datetime | None = None) -> Receipt:
        body = check_free_text("body", body, MAX_BODY)

        def decide(act: Act) -> Outcome:
            post = self._get(Post, post_id)
            self._membership(post.community_id, act).check_can_write()
            self._get(Thread, post.thread_id).check_not_locked()
            post.edit(body=body, act=act)
            return post.id, [post]

        return self._execute("edit-post", actor_id, decide, command_id, occurred_at)

    def retract_post(self, post_id: UUID, *, actor_id: UUID, command_id: str | None = None,
                     occurred_at: datetime | None = None) -> Receipt:
        """The author withdraws a post: hidden from public views, kept for auditors."""

        def decide(act: Act) -> Outcome:
            post = self._get(Post, post_id)
            post.retract(act=act)
            return post.id, [post]

        return self._execute("retract-post", actor_id, decide, command_id, occurred_at)

    # ================================================================================
    # The organisation's listening
    # ================================================================================
    def acknowledge_post(self, post_id: UUID, *, actor_id: UUID,
                         command_id: str | None = None,
                         occurred_at: datetime | None = None) -> Receipt:
        def decide(act: Act) -> Outcome:
            post = self._get(Post, post_id)
            self._remember_post(post)
            self._check_representative(post.community_id, act)
            post.acknowledge(act=act)
            return post.id, [post]

        return self._execute("acknowledge-post", actor_id, decide, command_id, occurred_at)

    def make_commitment(self, community_id: UUID, post_ids: Sequence[UUID], text: str, *,
                        due_on: date | None = None, actor_id: UUID,
                        command_id: str | None = None,
                        occurred_at: datetime | None = None) -> Receipt:
        text = check_free_text("text", text, 5_000)

        def decide(act: Act) -> Outcome:
            community = self._get(Community, community_id)
            self._check_representative(community.id, act)
            for post_id in post_ids:
                self._check_in_community(self._get(Post, post_id), community.id, act)
            commitment = Commitment(community_id=community.id,
                                    post_ids=tuple(dict.fromkeys(post_ids)), text=text,
                                    due_on=due_on, act=act)
            return commitment.id, [commitment]

        return self._execute("make-commitment", actor_id, decide, command_id, occurred_at)

    def record_progress(self, commitment_id: UUID, note: str, *, actor_id: UUID,
                        command_id: str | None = None,
                        occurred_at: datetime | None = None) -> Receipt:
        note = check_free_text("note", note, 5_000)
        return self._commitment_step("record-progress", commitment_id, actor_id, command_id,
                                     occurred_at, lambda c, act: c.record_progress(note, act))

    def fulfil_commitment(self, commitment_id: UUID, statement: str, *, actor_id: UUID,
                          command_id: str | None = None,
                          occurred_at: datetime | None = None) -> Receipt:
        statement = check_free_text("statement", statement, 5_000)
        return self._commitment_step("fulfil-commitment", commitment_id, actor_id, command_id,
                                     occurred_at, lambda c, act: c.fulfil(statement, act))

    def abandon_commitment(self, commitment_id: UUID, statement: str, *, actor_id: UUID,
                           command_id: str | None = None,
                           occurred_at: datetime | None = None) -> Receipt:
        statement = check_free_text("statement", statement, 5_000)
        return self._commitment_step("abandon-commitment", commitment_id, actor_id, command_id,
                                     occurred_at, lambda c, act: c.abandon(statement, act))

    def _commitment_step(self, name: str, commitment_id: UUID, actor_id: UUID,
                         command_id: str | None, occurred_at: datetime | None,
                         step: Callable[[Commitment, Act], None]) -> Receipt:
        """A representative takes a commitment one step further."""

        def decide(act: Act) -> Outcome:
            commitment = self._get(Commitment, commitment_id)
            self._check_representative(commitment.community_id, act)
            step(commitment, act)
            return commitment.id, [commitment]

        return self._execute(name, actor_id, decide, command_id, occurred_at)

    # ================================================================================
    # Moderation and appeals
    # ================================================================================
    def moderate(self, community_id: UUID, action: Action, reason_code: ReasonCode,
                 statement: str, *, actor_id: UUID, post_ids: Sequence[UUID] = (),
                 thread_id: UUID | None = None, member_id: UUID | None = None,
                 automated_detection: bool = False, author_notified: bool = False,
                 command_id: str | None = None,
                 occurred_at: datetime | None = None) -> Receipt:
        """A moderator takes a decision; its effect on the posts, thread or member is
        recorded in the same transaction."""
        action, reason_code = Action(action), ReasonCode(reason_code)
        statement = check_free_text("statement", statement, 5_000)

        def decide(act: Act) -> Outcome:
            community = self._get(Community, community_id)
            moderator = self._membership(community.id, act)
            moderator.check_is_moderator()
            assert moderator.moderator_side is not None
            targets: list[Aggregate] = []
            affected: list[UUID] = []
            if action in POST_ACTIONS:
                for post_id in dict.fromkeys(post_ids):
                    post = self._get(Post, post_id)
                    self._check_in_community(post, community.id, act)
                    targets.append(post)
                    affected.append(post.author_id)
            if action in THREAD_ACTIONS and thread_id is not None:
                thread = self._get(Thread, thread_id)
                self._check_in_community(thread, community.id, act)
                targets.append(thread)
                affected.append(thread.opener_id)
            if action in MEMBER_ACTIONS and member_id is not None:
                targets.append(self._membership(community.id, act, member_id))
                affected.append(member_id)
            decision = ModerationDecision(
                community_id=community.id, moderator_side=moderator.moderator_side,
                action=action, reason_code=reason_code, statement=statement,
                post_ids=tuple(dict.fromkeys(post_ids)), thread_id=thread_id,
                member_id=member_id, affected_person_ids=tuple(dict.fromkeys(affected)),
                automated_detection=automated_detection, author_notified=author_notified,
                act=act)
            for target in targets:
                _apply(action, target, decision, act)
            return decision.id, [decision, *targets]

        return self._execute("moderate", actor_id, decide, command_id, occurred_at)

    def notify_author(self, decision_id: UUID, notice: str, *, actor_id: UUID,
                      command_id: str | None = None,
                      occurred_at: datetime | None = None) -> Receipt:
        notice = check_free_text("notice", notice, 5_000)

        def decide(act: Act) -> Outcome:
            decision = self._get(ModerationDecision, decision_id)
            self._membership(decision.community_id, act).check_is_moderator()
            decision.notify_author(notice=notice, act=act)
            return decision.id, [decision]

        return self._execute("notify-author", actor_id, decide, command_id, occurred_at)

    def lodge_appeal(self, decision_id: UUID, statement: str, *, actor_id: UUID,
                     command_id: str | None = None,
                     occurred_at: datetime | None = None) -> Receipt:
        statement = check_free_text("statement", statement, 5_000)

        def decide(act: Act) -> Outcome:
            decision = self._get(ModerationDecision, decision_id)
            decision.lodge_appeal(statement=statement, act=act)
            return decision.id, [decision]

        return self._execute("lodge-appeal", actor_id, decide, command_id, occurred_at)

    def decide_appeal(self, decision_id: UUID, outcome: AppealOutcome, reasons: str, *,
                      actor_id: UUID, command_id: str | None = None,
                      occurred_at: datetime | None = None) -> Receipt:
        """Another moderator upholds or reverses a decision; a reversal undoes its effect
        (restores the posts, unlocks the thread, reinstates the member) atomically."""
        outcome = AppealOutcome(outcome)
        reasons = check_free_text("reasons", reasons, 5_000)

        def decide(act: Act) -> Outcome:
            decision = self._get(ModerationDecision, decision_id)
            self._membership(decision.community_id, act).check_is_moderator()
            decision.decide_appeal(outcome=outcome, reasons=reasons, act=act)
            changed: list[Aggregate] = [decision]
            if outcome is AppealOutcome.REVERSED:
                changed.extend(self._reverse(decision, act))
            return decision.id, changed

        return self._execute("decide-appeal", actor_id, decide, command_id, occurred_at)

    def _reverse(self, decision: ModerationDecision, act: Act) -> list[Aggregate]:
        """Undo what the decision still holds; a later, separate decision on the same post,
        thread or member stands."""
        undone: list[Aggregate] = []
        for post_id in decision.post_ids:
            post = self._get(Post, post_id)
            if any(s.decision_id == decision.id for s in post.standing):
                post.reverse_moderation(decision_id=decision.id, act=act)
                undone.append(post)
        if decision.thread_id is not None:
            thread = self._get(Thread, decision.thread_id)
            if thread.lock_decision_id == decision.id:
                thread.unlock(decision_id=decision.id, act=act)
                undone.append(thread)
        if decision.member_id is not None:
            membership = self._get(Membership,
                                   Membership.create_id(decision.community_id,
                                                        decision.member_id))
            if membership.suspension_decision_id == decision.id:
                membership.reinstate(decision_id=decision.id, act=act)
                undone.append(membership)
        return undone

    # ================================================================================
    # Lookups
    # ================================================================================
    def community_id(self, ref: str | UUID) -> UUID:
        """A community's id from its id, ``organisation-slug:community-slug``, or its slug
        alone (the first created of the communities that bear it)."""
        found = self.community_ids(ref)
        if not found:
            raise NotFound("no such community")
        return found[0]

    def community_ids(self, ref: str | UUID) -> list[UUID]:
        """Every community a reference may name, in the order they were created: an id,
        that community; an ``organisation-slug:community-slug``, that organisation's
        community of that slug; a slug alone, every community of that slug, whatever its
        organisation (the caller decides which of them may be named to whom)."""
        if isinstance(ref, UUID):
            return self._existing(Community, [ref])
        try:
            return self._existing(Community, [UUID(ref)])
        except ValueError:
            pass
        organisation_ref, qualified, slug = ref.rpartition(":")
        legacy_id = Community.legacy_id(slug)
        if qualified:
            try:
                organisation_id = self.organisation_id(organisation_ref)
            except NotFound:
                return []
            return [c.id for c in self._found(Community, [
                Community.create_id(organisation_id, slug), legacy_id])
                if c.organisation_id == organisation_id]
        candidates = [legacy_id]  # older than any community of a scoped slug
        index_id = CommunitySlug.create_id(slug)
        if self._exists(index_id):
            candidates.extend(self._get(CommunitySlug, index_id).community_ids)
        return self._existing(Community, candidates)

    def _found(self, cls: type[A], aggregate_ids: Iterable[UUID]) -> list[A]:
        found = []
        for aggregate_id in aggregate_ids:
            try:
                found.append(self._get(cls, aggregate_id))
            except NotFound:
                continue
        return found

    def _existing(self, cls: type[A], aggregate_ids: Iterable[UUID]) -> list[UUID]:
        return [a.id for a in self._found(cls, aggregate_ids)]

    def person_id(self, ref: str | UUID) -> UUID:
        """A person's id from their id or their handle (compared by its PRECIS key; a person
        registered before handles were keyed so is also found by the id they got then)."""
        try:
            return self._ref(Person, ref)
        except NotFound:
            if isinstance(ref, UUID) or Person.legacy_id(ref) == Person.create_id(ref):
                raise
            return self._ref(Person, Person.legacy_id(ref))

    def organisation_id(self, ref: str | UUID) -> UUID:
        return self._ref(Organisation, ref)

    def get(self, cls: type[A], aggregate_id: UUID) -> A:
        """Load an aggregate of the given class, or raise :class:`NotFound`."""
        return self._get(cls, aggregate_id)

    def _ref(self, cls: type[Aggregate], ref: str | UUID) -> UUID:
        if isinstance(ref, UUID):
            candidate = ref
        else:
            try:
                candidate = UUID(ref)
            except ValueError:
                candidate = cls.create_id(ref)
        self._get(cls, candidate)
        return candidate

    def _get(self, cls: type[A], aggregate_id: UUID) -> A:
        loaded: dict[UUID, Aggregate | None] | None = getattr(self._loaded, "found", None)
        if loaded is not None and aggregate_id in loaded:
            aggregate: Aggregate | None = loaded.pop(aggregate_id)  # a command changes it
        else:
            try:
                aggregate = self.repository.get(aggregate_id, projector_func=_replay)
            except AggregateNotFoundError:
                aggregate = None
        if not isinstance(aggregate, cls):
            raise NotFound(f"no such {cls.__name__.lower()}", id=aggregate_id)
        return aggregate

    def _exists(self, aggregate_id: UUID) -> bool:
        loaded: dict[UUID, Aggregate | None] | None = getattr(self._loaded, "found", None)
        if loaded is not None and aggregate_id in loaded:
            return loaded[aggregate_id] is not None
        return aggregate_id in self.repository

    def _load_ahead(self, aggregate_ids: Iterable[UUID]) -> None:
        """Load the aggregates a command attempt is about to read, in one read transaction
        (one query) instead of one transaction each; ``_get`` and ``_exists`` then answer
        from them (each at most once: a loaded aggregate may be changed by the command).
        They are as fresh as any load: nothing is kept from one attempt to the next, so
        another process's writes are seen exactly as before."""
        ids = list(dict.fromkeys(aggregate_ids))
        found: dict[UUID, Aggregate | None] = dict.fromkeys(ids)
        for aggregate_id, stored in stored_events_of(self.recorder, ids, self._reads).items():
            found[aggregate_id] = _replay(None, [self.mapper.to_domain_event(s)
                                                 for s in stored])
        self._loaded.found = found

    def thread_of(self, post_id: UUID) -> UUID:
        """The thread a post belongs to (NotFound for no post): looked up once, since a
        post never moves."""
        known = self._posts.get(post_id)
        if known is None:
            self._remember_post(self._get(Post, post_id))
            known = self._posts[post_id]
        return known[0]

    def _post_reads(self, post_id: UUID, actor_id: UUID) -> list[UUID]:
        """What a command on a post reads: the post, and, once the post has been seen, its
        thread, the actor's membership and the community's organisation."""
        known = self._posts.get(post_id)
        if known is None:
            return [post_id]
        thread_id, community_id = known
        reads = [post_id, thread_id, Membership.create_id(community_id, actor_id)]
        organisation_id = self._organisations.get(community_id)
        if organisation_id is not None:
            reads.append(organisation_id)
        return reads

    def _remember_post(self, post: Post) -> None:
        if post.id not in self._posts:
            if len(self._posts) > 100_000:
                self._posts.clear()
            self._posts[post.id] = (post.thread_id, post.community_id)

    def _membership(self, community_id: UUID, act: Act,
                    person_id: UUID | None = None) -> Membership:
        """The person's membership (the actor's by default); a new, unsaved one if the
        person never had any standing in the community."""
        person_id = person_id or act.actor_id
        membership_id = Membership.create_id(community_id, person_id)
        try:
            return self._get(Membership, membership_id)
        except NotFound:
            return Membership(community_id=community_id, person_id=person_id, act=act)

    def _speaks_for_organisation(self, community: Community | UUID, person_id: UUID) -> bool:
        """Whether the person is, now, one of the community's organisation's
        representatives: their posts and votes are then the organisation's."""
        if isinstance(community, Community):
            organisation_id = community.organisation_id
        else:  # a community never changes organisation: look it up once
            organisation_id = self._organisations.get(community)  # type: ignore[assignment]
            if organisation_id is None:
                organisation_id = self._get(Community, community).organisation_id
                if len(self._organisations) > 100_000:
                    self._organisations.clear()
                self._organisations[community] = organisation_id
        return self._get(Organisation, organisation_id).is_representative(person_id)

    def _check_representative(self, community_id: UUID, act: Act) -> None:
        """The actor holds the representative role here and still speaks for the
        organisation."""
        self._membership(community_id, act).check_is_representative()
        if not self._speaks_for_organisation(community_id, act.actor_id):
            raise NotARepresentative("no longer one of the organisation's representatives",
                                     person_id=act.actor_id)

    def _check_in_community(self, aggregate: Post | Thread, community_id: UUID,
                            act: Act) -> None:
        """The post or thread belongs to the community. If not, the actor is told so only
        if they may see where it belongs; otherwise they get exactly the answer an id that
        names nothing gets (no such post or thread)."""
        if aggregate.community_id == community_id:
            return
        if not self._sees_community(aggregate.community_id, act.actor_id):
            raise NotFound(f"no such {type(aggregate).__name__.lower()}", id=aggregate.id)
        raise WrongCommunity("that belongs to another community", id=aggregate.id)

    def _sees_community(self, community_id: UUID, person_id: UUID) -> bool:
        """Whether the person may see the community (:func:`can_see_community`)."""
        community = self._get(Community, community_id)
        membership_id = Membership.create_id(community_id, person_id)
        membership = self._get(Membership, membership_id) \
            if self._exists(membership_id) else None
        return can_see_community(community.is_invitation_only, membership)

    # ================================================================================
    # Running a command
    # ================================================================================
    def _execute(self, name: str, actor_id: UUID, decide: Callable[[Act], Outcome],
                 command_id: str | None, occurred_at: datetime | None,
                 reads: Callable[[], Iterable[UUID]] | None = None) -> Receipt:
        """Decide and save, atomically; decide again if a concurrent command changed one of
        the same aggregates first; answer a retried command id from its first run.
        ``reads`` names aggregates ``decide`` will load: they are loaded together, with the
        command id's record, in one read transaction per attempt."""
        if command_id is not None:
            check_token_text("command_id", command_id, 200)
        if not isinstance(actor_id, UUID):
            raise InvalidInput("actor_id must be a person's id", field="actor_id")
        now = self.clock()
        if occurred_at is not None and utc(occurred_at) > now + self.max_clock_skew:
            raise InvalidInput("occurred_at lies in the future", field="occurred_at",
                               value=occurred_at.isoformat())
        act = Act(actor_id=actor_id, occurred_at=utc(occurred_at) if occurred_at else now,
                  command_id=None if command_id is None else str(command_id))
        request = command_id.request if isinstance(command_id, CommandId) else None
        for _ in range(self.max_attempts):
            try:
                if reads is not None:
                    record_ids = [] if command_id is None else [
                        CommandRecord.create_id(command_id)]
                    self._load_ahead([*reads(), *record_ids])
                if command_id is not None:
                    replayed = self._replayed(command_id, name, actor_id, request)
                    if replayed is not None:
                        return replayed
                result_id, aggregates = decide(act)
            except PersistenceError as error:  # nothing has been written yet
                if isinstance(error, NothingRecorded):
                    raise
                raise NothingRecorded(str(error)) from error
            finally:
                self._loaded.found = None
            if command_id is not None:
                record = CommandRecord(command_id=str(command_id), command=name,
                                       result_id=result_id, act=act, request=request)
                aggregates = [*aggregates, record]
            try:
                recordings = self.save(*aggregates)
            except IntegrityError:
                continue
            except PersistenceError as error:
                if failed_before_writing(self.recorder, error) and not isinstance(
                        error, NothingRecorded):
                    raise NothingRecorded(str(error)) from error
                raise  # it may have been committed: the answer must not say otherwise
            return Receipt(result_id, recordings[-1].notification.id)
        raise ConcurrencyConflict(f"{name} kept conflicting with concurrent commands",
                                  attempts=self.max_attempts)

    def _replayed(self, command_id: str, name: str, actor_id: UUID,
                  request: str | None) -> Receipt | None:
        record_id = CommandRecord.create_id(command_id)
        if not self._exists(record_id):
            return None
        record = self._get(CommandRecord, record_id)
        if record.command != name or record.actor_id != actor_id:
            raise CommandIdReused("that command id was used for another command or actor",
                                  command_id=command_id, command=record.command)
        if request is not None and record.request is not None and request != record.request:
            raise CommandIdReusedForAnotherRequest(
                "that command id was used for another request: a retry must repeat the "
                "request exactly", command_id=command_id, command=record.command)
        position = position_of(self.recorder, record_id, 1) or self.position
        return Receipt(record.result_id, position, replayed=True)


def _replay(aggregate: Aggregate | None, events: Iterable[DomainEventProtocol[UUID]],
            ) -> Aggregate | None:
    """An aggregate from its events: eventsourcing's ``project_aggregate`` without its
    per-event ``isinstance`` check against a runtime protocol, which cost about a fifth of a
    command's time (every stored event decodes to one of the domain's event classes)."""
    for event in events:
        aggregate = cast(CanMutateProtocol[Aggregate], event).mutate(aggregate)
    return aggregate


def _apply(action: Action, target: Aggregate, decision: ModerationDecision, act: Act) -> None:
    reason = decision.reason_code.value
    if isinstance(target, Post):
        if action is Action.HIDE_POST:
            target.hide(decision_id=decision.id, reason_code=reason, act=act)
        elif action is Action.REMOVE_POST:
            target.remove(decision_id=decision.id, reason_code=reason, act=act)
        else:
            target.restore(decision_id=decision.id, act=act)
    elif isinstance(target, Thread):
        if action is Action.LOCK_THREAD:
            target.lock(decision_id=decision.id, act=act)
        else:
            target.unlock(decision_id=decision.id, act=act)
    elif isinstance(target, Membership):
        if action is Action.SUSPEND_MEMBER:
            target.suspend(decision_id=decision.id, act=act)
        else:
            target.reinstate(decision_id=decision.id, act=act)
