"""What every import shares: the community it goes into, the people it sets up, idempotent
command ids built from the source's own ids, and the summary of what it did.

An import runs in two passes over the archive. The *survey* reads it once, keeping only a
little about each author (first appearance, bot, representative) and counting the items; it
sizes the progress bar and dates the importer's own acts (registering people, joining them,
appointing representatives) at each person's first appearance, so that a report "as of" any
time of the archive sees the same organisation as the live ledger would have. The *feed*
reads it again and records each item through the ledger's ordinary commands.

Memory stays flat: sources read one file (a GitHub page, one e-mail) at a time, and what is
kept across items is per person, not per message. The ledger itself is the index of what was
imported: every item's command id derives from its source id, so a second import of the same
item is answered from the ledger (``Receipt.replayed``) and records nothing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple, Protocol
from uuid import UUID

from ledger.application import DialogueLedger
from ledger.domain import (
    Access,
    CommandRecord,
    Community,
    Membership,
    Organisation,
    Person,
    PostKind,
)
from ledger.domain import Status as MembershipStatus
from ledger.domain.base import check_slug, opening_post_id
from ledger.domain.post import MAX_BODY
from ledger.domain.text import acceptable_name, clean_free_text
from ledger.errors import (
    AlreadyMember,
    CommandIdReused,
    HandleTaken,
    InvalidInput,
    LedgerError,
    NotARepresentative,
    NotFound,
)

#: The system person who registers the archive's people, founds the organisation, creates
#: the community and appoints representatives. It is registered as a bot, so the report
#: never lists it among the organisation's responders.
IMPORTER_HANDLE = "ledger-importer"
IMPORTER_NAME = "Dialogue Ledger importer"
MAX_TITLE = 200
MAX_NAME = 200
MAX_COMMAND_ID = 200
#: How many example items a summary keeps for each reason it skipped something.
EXAMPLES_PER_REASON = 3

Progress = Callable[[int], None]

#: A thread's kind from words its source tags it with (GitHub labels, tags in an e-mail's
#: subject): the first kind, in this order, that any of the words names.
KIND_WORDS: tuple[tuple[PostKind, frozenset[str]], ...] = (
    (PostKind.CONCERN, frozenset({
        "bug", "defect", "regression", "crash", "security", "vulnerability", "concern",
        "complaint", "problem", "incident"})),
    (PostKind.PROPOSAL, frozenset({
        "enhancement", "feature", "feature request", "feature-request", "proposal", "rfc",
        "idea", "suggestion", "improvement"})),
    (PostKind.QUESTION, frozenset({"question", "support", "help", "how-to", "discussion"})),
)


def kind_for_words(words: Iterable[str]) -> PostKind | None:
    found = {word.strip().lower() for word in words}
    for kind, names in KIND_WORDS:
        if found & names:
            return kind
    return None


def fit(text: str | None, limit: int, empty: str) -> str:
    """``text`` as the ledger accepts it: without the characters free text may not hold
    (see :func:`ledger.domain.text.clean_free_text`), not blank (``empty`` stands in), and
    cut to ``limit`` characters with a note of how much the importer left out."""
    text = clean_free_text(text or "").strip()
    if not text:
        return empty
    if len(text) <= limit:
        return text
    note = f"\n\n[cut by the importer: {len(text) - limit} more characters]"
    if limit <= len(note) + 1:
        return text[: limit - 1] + "…"
    return text[: limit - len(note)] + note


def display_name(name: str | None, handle: str) -> str:
    """An archive's name for a person as the ledger accepts it (PRECIS Nickname), or their
    handle where the name is not acceptable (controls, bidi overrides, too long)."""
    name = fit(name, MAX_NAME, handle)
    return name if acceptable_name(name) else handle


def utc_or_assume(moment: datetime) -> datetime:
    """A source time in UTC; a time without a zone is taken as UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# ======================================================================================
# The survey: who appears in the archive, and when first
# ======================================================================================
@dataclass
class Author:
    handle: str
    display_name: str
    first_seen: datetime
    is_bot: bool = False
    is_representative: bool = False


@dataclass
class Survey:
    """What the first pass learnt: how many items there are (for the progress bar), when the
    archive starts, and each author's first appearance and role (a person is a
    representative if any of their items says so, and a bot if any says so)."""

    items: int = 0
    earliest: datetime | None = None
    people: dict[str, Author] = field(default_factory=dict)

    def saw(self, handle: str, display_name: str, when: datetime, *, is_bot: bool = False,
            is_representative: bool = False) -> None:
        if self.earliest is None or when < self.earliest:
            self.earliest = when
        key = handle.lower()
        known = self.people.get(key)
        if known is None:
            self.people[key] = Author(handle, display_name, when, is_bot, is_representative)
            return
        if when < known.first_seen:
            known.first_seen = when
        known.is_bot |= is_bot
        known.is_representative |= is_representative


# ======================================================================================
# The summary
# ======================================================================================
@dataclass
class Summary:
    source: str
    community: str
    dry_run: bool = False
    community_id: UUID | None = None
    community_created: bool = False
    organisation: str = ""
    organisation_created: bool = False
    threads: int = 0
    replies: int = 0
    people: int = 0
    bots: int = 0
    members_joined: int = 0
    representatives: int = 0
    already_imported: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    position: int = 0

    @property
    def imported(self) -> int:
        return self.threads + self.replies

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def skip(self, reason: str, ref: str, count: int = 1) -> None:
        """Count ``count`` items skipped for ``reason``; ``ref`` names the first of them."""
        if count <= 0:
            return
        self.skipped[reason] += count
        examples = self.examples.setdefault(reason, [])
        if len(examples) < EXAMPLES_PER_REASON:
            examples.append(ref)

    def lines(self) -> list[str]:
        """The summary as the command line prints it."""
        community = f"{self.community} (created)" if self.community_created else self.community
        organisation = self.organisation + (" (founded)" if self.organisation_created else "")
        out = [
            f"  community         {community}, of {organisation}",
            f"  threads           {self.threads}",
            f"  replies           {self.replies}",
            f"  people            {self.people} registered ({_count(self.bots, 'bot')}), "
            f"{self.members_joined} joined, {self.representatives} appointed representatives",
            f"  already imported  {self.already_imported} (found in the ledger, left as they "
            "were)",
            f"  skipped           {self.skipped_total}",
        ]
        for reason, count in sorted(self.skipped.items(), key=lambda kv: (-kv[1], kv[0])):
            examples = ", ".join(self.examples.get(reason, []))
            out.append(f"    {count:6d}  {reason}" + (f"  (e.g. {examples})" if examples else ""))
        return out


# ======================================================================================
# The target community, and the commands an import uses
# ======================================================================================
class Posted(NamedTuple):
    """What an item became: its post, whether it was already in the ledger, and whether
    it opened a thread (it may have been recorded differently by an earlier import)."""

    post_id: UUID
    replayed: bool
    opens_thread: bool


class Found(NamedTuple):
    """An item already in the ledger: the post it became, and whether it opened a thread."""

    post_id: UUID
    opens_thread: bool


def command_id(source: str, community_id: UUID, source_id: str) -> str:
    """The command id of an imported item: the source, the community and the source's own
    id (hashed when too long for a command id), so importing it again records nothing and
    importing it into another community records it there."""
    plain = f"{source}:{community_id}:{source_id}"
    if len(plain) <= MAX_COMMAND_ID:
        return plain
    digest = hashlib.sha256(source_id.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{source}:{community_id}:sha256:{digest}"


def imported_post(app: DialogueLedger, source: str, community_id: UUID,
                  source_id: str) -> Found | None:
    """The post an item of the source became, if it was imported into the community."""
    try:
        record = app.get(CommandRecord,
                         CommandRecord.create_id(command_id(source, community_id, source_id)))
    except NotFound:
        return None
    if record.command == "open-thread":
        return Found(opening_post_id(record.result_id), True)
    return Found(record.result_id, False)


class ImportTarget:
    """The community an archive goes into. It resolves or creates the community, sets up
    each author once per run (registered, joined, appointed when a representative), and
    records threads and replies under idempotent command ids."""

    def __init__(self, app: DialogueLedger, source: str, community: str, *,
                 organisation: str | None, survey: Survey, summary: Summary) -> None:
        self.app = app
        self.source = source
        self.community_ref = community
        self.organisation_ref = organisation
        self.survey = survey
        self.summary = summary
        self.importer_id = Person.create_id(IMPORTER_HANDLE)
        self.community_id: UUID | None = None
        self.organisation_id: UUID | None = None
        self._representatives: set[UUID] = set()
        self._ready: set[UUID] = set()

    # --- the community ---------------------------------------------------------------
    def prepare(self) -> None:
        """Find the community, or create it (open, with its organisation) at the archive's
        first item's time. Checks first, so that an import that cannot go ahead records
        nothing: the importer must represent an existing organisation to create a community
        for it or appoint the archive's representatives in it."""
        earliest = self.survey.earliest
        when = None if earliest is None else min(earliest, self.app.clock())
        community = self._existing_community()
        organisation_ref = self.organisation_ref or self.community_ref
        organisation: Organisation | None
        if community is not None:
            organisation = self.app.get(Organisation, community.organisation_id)
            if self.organisation_ref is not None and \
                    self.app.organisation_id(self.organisation_ref) != organisation.id:
                raise InvalidInput("the community belongs to another organisation",
                                   community=self.community_ref,
                                   organisation=organisation.slug)
        else:
            check_slug(self.community_ref)
            organisation = self._existing_organisation(organisation_ref)
        if organisation is not None:
            self._check_importer_may_act(organisation, creating=community is None)
        self._ensure_importer(when)
        if organisation is None:
            organisation = self._found_organisation(organisation_ref, when)
        self.organisation_id = organisation.id
        self._representatives = set(organisation.representatives)
        self.summary.organisation = organisation.slug
        if community is None:
            self.community_id = self.app.create_community(
                organisation.id, self.community_ref, self.community_ref, access=Access.OPEN,
                actor_id=self.importer_id,
                command_id=f"import:create:{organisation.id}:{self.community_ref}",
                occurred_at=when).id
            self.summary.community_created = True
        else:
            self.community_id = community.id
        self.summary.community_id = self.community_id

    def _check_importer_may_act(self, organisation: Organisation, *, creating: bool) -> None:
        if organisation.is_representative(self.importer_id):
            return
        wanted = [a.handle for a in self.survey.people.values()
                  if a.is_representative and not a.is_bot
                  and not organisation.is_representative(_person_id(a.handle))]
        if creating or wanted:
            raise NotARepresentative(
                f"the importer ({IMPORTER_HANDLE}) is not one of the representatives of "
                f"{organisation.slug}, so it cannot "
                + ("create the community" if creating else
                   "appoint the archive's representatives")
                + f"; register {IMPORTER_HANDLE} (a bot) and have a representative appoint "
                  "it first", organisation=organisation.slug)

    def _existing_community(self) -> Community | None:
        ref = self.community_ref  # a slug is unique within its organisation only
        if self.organisation_ref is not None and not _looks_like_id(ref):
            ref = f"{self.organisation_ref}:{ref}"
        try:
            community_id = self.app.community_id(ref)
        except NotFound:
            if _looks_like_id(self.community_ref):
                raise
            return None
        community = self.app.get(Community, community_id)
        if community.is_invitation_only:
            raise InvalidInput("archives are imported into open communities; this one is "
                               "invitation-only", community=self.community_ref)
        return community

    def _ensure_importer(self, when: datetime | None) -> None:
        if self.importer_id not in self.app.repository:
            with suppress(HandleTaken):  # registered meanwhile by a concurrent import
                self.app.register_person(IMPORTER_HANDLE, IMPORTER_NAME, is_bot=True,
                                         command_id=f"import:register:{IMPORTER_HANDLE}",
                                         occurred_at=when)

    def _existing_organisation(self, ref: str) -> Organisation | None:
        try:
            return self.app.get(Organisation, self.app.organisation_id(ref))
        except NotFound:
            if _looks_like_id(ref):
                raise
        check_slug(ref)
        return None

    def _found_organisation(self, slug: str, when: datetime | None) -> Organisation:
        receipt = self.app.found_organisation(slug, slug, actor_id=self.importer_id,
                                              command_id=f"import:found:{slug}",
                                              occurred_at=when)
        self.summary.organisation_created = not receipt.replayed
        return self.app.get(Organisation, receipt.id)

    # --- people ----------------------------------------------------------------------
    def author(self, handle: str, fallback_time: datetime) -> UUID:
        """The person behind ``handle``, registered, joined and (if the survey found them a
        representative) appointed, each at their first appearance in the archive."""
        if fallback_time > self.app.clock() + self.app.max_clock_skew:
            raise InvalidInput("occurred_at lies in the future", field="occurred_at",
                               value=fallback_time.isoformat())
        person_id = _person_id(handle)
        if person_id in self._ready:
            return person_id
        assert self.community_id is not None and self.organisation_id is not None
        info = self.survey.people.get(handle.lower()) or Author(handle, handle, fallback_time)
        when = min(info.first_seen, fallback_time)
        if not self._is_person(person_id):
            try:
                self.app.register_person(
                    handle, display_name(info.display_name, handle), is_bot=info.is_bot,
                    actor_id=self.importer_id, command_id=f"import:register:{handle.lower()}",
                    occurred_at=when)
                self.summary.people += 1
                self.summary.bots += info.is_bot
            except HandleTaken:
                pass
        if not self._is_member(person_id):
            try:
                receipt = self.app.join_community(
                    self.community_id, actor_id=person_id,
                    command_id=f"import:join:{self.community_id}:{person_id}",
                    occurred_at=when)
                self.summary.members_joined += not receipt.replayed
            except AlreadyMember:
                pass
        if info.is_representative and not info.is_bot \
                and person_id not in self._representatives:
            receipt = self.app.appoint_representative(
                self.organisation_id, person_id, actor_id=self.importer_id,
                command_id=f"import:appoint:{self.organisation_id}:{person_id}",
                occurred_at=when)
            self._representatives.add(person_id)
            self.summary.representatives += not receipt.replayed
        self._ready.add(person_id)
        return person_id

    def _is_person(self, person_id: UUID) -> bool:
        """Whether a person holds the id (a look-alike's claim may hold it instead: the
        registration is then refused as ``handle-confusable`` and the item skipped)."""
        try:
            self.app.get(Person, person_id)
        except NotFound:
            return False
        return True

    def _is_member(self, person_id: UUID) -> bool:
        assert self.community_id is not None
        try:
            membership = self.app.get(Membership,
                                      Membership.create_id(self.community_id, person_id))
        except NotFound:
            return False
        return membership.status in (MembershipStatus.ACTIVE, MembershipStatus.SUSPENDED)

    # --- posts -----------------------------------------------------------------------
    def command_id(self, source_id: str) -> str:
        assert self.community_id is not None
        return command_id(self.source, self.community_id, source_id)

    def lookup(self, source_id: str) -> Found | None:
        """The post an item became, if it is already in the ledger."""
        assert self.community_id is not None
        return imported_post(self.app, self.source, self.community_id, source_id)

    def open_thread(self, source_id: str, author_id: UUID, kind: PostKind, title: str,
                    body: str, occurred_at: datetime) -> Posted:
        """Record an item as a thread; its opening post's id."""
        assert self.community_id is not None
        try:
            receipt = self.app.open_thread(
                self.community_id, kind, fit(title, MAX_TITLE, "(untitled)"),
                fit(body, MAX_BODY, "(empty)"), actor_id=author_id,
                command_id=self.command_id(source_id), occurred_at=occurred_at)
        except CommandIdReused:
            return self._recorded_otherwise(source_id)
        if receipt.replayed:
            self.summary.already_imported += 1
        else:
            self.summary.threads += 1
        return Posted(opening_post_id(receipt.id), receipt.replayed, True)

    def reply(self, source_id: str, author_id: UUID, parent_post_id: UUID, body: str,
              occurred_at: datetime) -> Posted:
        """Record an item as a reply to ``parent_post_id``; the reply's id."""
        try:
            receipt = self.app.reply(parent_post_id, fit(body, MAX_BODY, "(empty)"),
                                     actor_id=author_id, kind=PostKind.COMMENT,
                                     command_id=self.command_id(source_id),
                                     occurred_at=occurred_at)
        except CommandIdReused:
            return self._recorded_otherwise(source_id)
        if receipt.replayed:
            self.summary.already_imported += 1
        else:
            self.summary.replies += 1
        return Posted(receipt.id, receipt.replayed, False)

    def _recorded_otherwise(self, source_id: str) -> Posted:
        """The item was imported before, but placed differently (a thread then, a reply now,
        or by another author): it stays as it was recorded."""
        found = self.lookup(source_id)
        if found is None:  # pragma: no cover - CommandIdReused means the record exists
            raise NotFound("the imported item's record vanished", source_id=source_id)
        self.summary.already_imported += 1
        return Posted(found.post_id, True, found.opens_thread)

    def refused(self, error: LedgerError, ref: str) -> None:
        """The ledger refused an item: skip it, with the rule it broke as the reason."""
        self.summary.skip(f"refused by the ledger: {error.code} ({error.message})", ref)


def _person_id(handle: str) -> UUID:
    return Person.create_id(handle)


def _looks_like_id(ref: str) -> bool:
    try:
        UUID(ref)
    except ValueError:
        return False
    return True


# ======================================================================================
# Running an import
# ======================================================================================
class ArchiveSource(Protocol):
    """A readable archive: surveyed once, then fed into a target item by item."""

    @property
    def name(self) -> str: ...

    def survey(self) -> Survey: ...

    def feed(self, target: ImportTarget, progress: Progress) -> None: ...


def import_archive(app: DialogueLedger, source: ArchiveSource, community: str, *,
                   organisation: str | None = None, survey: Survey | None = None,
                   progress: Progress | None = None, dry_run: bool = False) -> Summary:
    """Import ``source`` into ``community`` (a slug or id; created as an open community of
    ``organisation``, by default one of the same slug, if it does not exist)."""
    survey = survey if survey is not None else source.survey()
    summary = Summary(source=source.name, community=community, dry_run=dry_run)
    target = ImportTarget(app, source.name, community, organisation=organisation,
                          survey=survey, summary=summary)
    target.prepare()
    source.feed(target, progress or _no_progress)
    summary.position = app.position
    return summary


def _no_progress(count: int) -> None:
    return None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
