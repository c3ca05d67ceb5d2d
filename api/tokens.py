"""API tokens: one per person and role, kept hashed, with an optional expiry.

A token is ``dl_`` followed by 32 random bytes (URL-safe base64); it is shown once, when
issued, and never stored.

**The record and the credential are apart.** A token issued now is a :class:`TokenGrant`
aggregate with a random id: its ``Granted`` event records who was granted which role, by
whom (the issuer, :data:`OPERATOR_ID` for the command line, with the operator's OS user
name), when, and until when. Its SHA-256 digest and its label (a note such as "ruth's
laptop") are credential material, not part of the dialogue record: they live in the
``api_token_credentials`` table beside the events (digest → token id, label), which is
neither sealed nor exported. The token id cannot be derived from the token without that
table, so an export of the record (which shows token ids) gives nothing to test a guessed
or leaked token against.

Tokens issued before (:class:`ApiToken`, ``Issued`` events) recorded the digest and label
in the event, and their id derives from the digest. Those events are sealed and cannot
change; they still load and their tokens still work, and the auditors' export redacts them
(``replay.seal.export_events(redact_credentials=True)``).

**Revocation and expiry are checked on every request** (:meth:`TokenStore.changed_since`,
one primary-key read of the events table), so a revocation recorded by any process on any
host takes effect on the next request everywhere.
"""

from __future__ import annotations

import getpass
import hashlib
import re
import secrets
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from ledger.application import DialogueLedger
from ledger.domain.base import Act, deterministic_id, utc
from ledger.domain.text import check_free_text
from ledger.errors import InvalidInput, NotFound
from ledger.store import separate_reads

PREFIX = "dl_"
#: The actor of what an operator does at the console (``dialogue-ledger token ...``): no
#: person of the ledger, one well-known id; the event names the OS user as ``operator``.
OPERATOR_ID = deterministic_id("operator", "console")
#: The longest label.
MAX_LABEL = 200


class TokenRole(StrEnum):
    MEMBER = "member"
    REPRESENTATIVE = "representative"
    MODERATOR = "moderator"
    AUDITOR = "auditor"


class ApiToken(Aggregate):
    """A token issued by an older version: its ``Issued`` event carries the digest and the
    label, and the id derives from the digest. Still honoured; no longer issued."""

    expires_at: datetime | None = None
    operator: str | None = None

    @staticmethod
    def create_id(digest: str) -> UUID:
        return deterministic_id("api-token", digest)

    @event("Issued")
    def __init__(self, digest: str, person_id: UUID, role: TokenRole, label: str,
                 act: Act) -> None:
        self.person_id = person_id
        self.role = role
        self.label = label
        self.issued_at = act.occurred_at
        self.issued_by = act.actor_id
        self.revoked = False

    @event("Revoked")
    def revoke(self, act: Act) -> None:
        self.revoked = True


class TokenGrant(Aggregate):
    """A token: who holds it, the role it carries, who issued it, when, and until when.
    The id is random; the digest and label are in ``api_token_credentials``."""

    label = ""

    @event("Granted")
    def __init__(self, person_id: UUID, role: TokenRole, expires_at: datetime | None,
                 operator: str | None, act: Act) -> None:
        self.person_id = person_id
        self.role = role
        self.expires_at = expires_at
        self.operator = operator
        self.issued_at = act.occurred_at
        self.issued_by = act.actor_id
        self.revoked = False

    @event("Revoked")
    def revoke(self, operator: str | None, act: Act) -> None:
        self.revoked = True


Token = ApiToken | TokenGrant


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def operator_name() -> str:
    """The OS user running the command line (recorded with what an operator does)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


# --- the table beside the events ----------------------------------------------------------
class TokenStore:
    """SQL beside the event store: new tokens' credentials (digest → token id, label), and
    the one read a request makes to learn whether its token changed."""

    def __init__(self, app: DialogueLedger) -> None:
        recorder = app.recorder
        self.datastore: Any
        if isinstance(recorder, SQLiteApplicationRecorder):
            self.postgres = False
            self.datastore = recorder.datastore
            # A pool of its own: reads never queue behind a commit (ledger.store).
            self.reads: Any = separate_reads(recorder) or recorder.datastore
            #: Whether a request may make its read on the event loop: only on a pool of its own.
            self.inline = self.reads is not recorder.datastore
            if self.inline:
                weakref.finalize(app, self.reads.close)
            qualify = ""
        elif isinstance(recorder, PostgresApplicationRecorder):
            self.postgres = True
            self.datastore = self.reads = recorder.datastore
            self.inline = False
            qualify = '"' + recorder.datastore.schema.replace('"', '""') + '".'
        else:  # pragma: no cover - the ledger only runs on these two
            raise TypeError(f"unsupported recorder {type(recorder).__name__}")
        self.events = qualify + recorder.events_table_name
        self.credentials = qualify + "api_token_credentials"
        self._created = False
        #: A SQLite file's name, for the per-request read (None: through the datastore).
        self.db_name: str | None = None
        if isinstance(recorder, SQLiteApplicationRecorder) and self.inline:
            self.db_name = recorder.datastore.pool.db_name
        self._local = threading.local()
        self._changed = (f"SELECT 1 FROM {self.events} WHERE originator_id = ? "
                         "AND originator_version > ? LIMIT 1")

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.postgres else statement

    def key(self, token_id: UUID) -> Any:
        return token_id if self.postgres else token_id.hex

    @contextmanager
    def transaction(self, *, commit: bool, reads: bool = False) -> Iterator[Any]:
        with (self.reads if reads else self.datastore).transaction(commit=commit) as cursor:
            if self.postgres:
                from psycopg.rows import tuple_row

                cursor.row_factory = tuple_row
            yield cursor

    def create_table(self) -> None:
        if self._created:
            return
        try:
            with self.transaction(commit=True) as c:
                c.execute(f"CREATE TABLE IF NOT EXISTS {self.credentials} ("
                          "digest TEXT PRIMARY KEY, token_id TEXT NOT NULL UNIQUE, "
                          "label TEXT NOT NULL)")
        except Exception:
            if not self.table_exists():  # two processes creating it at once: one wins
                raise
        self._created = True

    def table_exists(self) -> bool:
        with self.transaction(commit=False, reads=True) as c:
            if self.postgres:
                c.execute("SELECT to_regclass(%s) IS NOT NULL", (self.credentials,))
            else:
                c.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                          "AND name = 'api_token_credentials'")
            row = c.fetchone()
        return bool(row[0])

    def add(self, digest: str, token_id: UUID, label: str) -> None:
        self.create_table()
        with self.transaction(commit=True) as c:
            c.execute(self.sql(f"INSERT INTO {self.credentials} (digest, token_id, label) "
                               "VALUES (?, ?, ?)"), (digest, str(token_id), label))

    def find(self, digest: str) -> UUID | None:
        """The id of the new token with this digest (None if there is none)."""
        if not self._created and not self.table_exists():
            return None
        self._created = True
        with self.transaction(commit=False, reads=True) as c:
            c.execute(self.sql(f"SELECT token_id FROM {self.credentials} WHERE digest = ?"),
                      (digest,))
            row = c.fetchone()
        return None if row is None else UUID(row[0])

    def labels(self) -> dict[UUID, str]:
        if not self._created and not self.table_exists():
            return {}
        with self.transaction(commit=False, reads=True) as c:
            c.execute(f"SELECT token_id, label FROM {self.credentials}")
            return {UUID(token_id): label for token_id, label in c.fetchall()}

    def changed_since(self, token_id: UUID, version: int) -> bool:
        """Whether the token has an event after ``version`` (a revocation): one
        primary-key read of the events table (on a SQLite file, on a plain read-only
        connection of the calling thread's: a few µs, no pool)."""
        if self.db_name is not None:
            connection = getattr(self._local, "connection", None)
            if connection is None:
                connection = sqlite3.connect(self.db_name, isolation_level=None,
                                             check_same_thread=False)
                connection.execute("PRAGMA query_only = 1")
                self._local.connection = connection
            return connection.execute(self._changed, (token_id.hex, version)).fetchone() \
                is not None
        with self.transaction(commit=False, reads=True) as c:
            params = (self.key(token_id), version)
            if self.postgres:
                c.execute(self.sql(self._changed), params, prepare=True)
            else:  # an in-memory SQLite database (tests)
                c.execute(self._changed, params)
            return c.fetchone() is not None


_stores: weakref.WeakKeyDictionary[DialogueLedger, TokenStore] = weakref.WeakKeyDictionary()


_stores_lock = threading.Lock()


def token_store(app: DialogueLedger) -> TokenStore:
    """The application's :class:`TokenStore` (one per application, made once)."""
    store = _stores.get(app)
    if store is None:
        with _stores_lock:
            store = _stores.get(app)
            if store is None:
                store = _stores[app] = TokenStore(app)
    return store


# --- issuing, finding, revoking, listing ----------------------------------------------------
_DURATION = re.compile(r"(\d{1,6})([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_expiry(text: str, now: datetime) -> datetime:
    """``--expires``: a duration from now (``90m``, ``12h``, ``30d``, ``8w``) or an ISO 8601
    time with a time zone (``2027-01-31T18:00:00+00:00``)."""
    text = text.strip()
    matched = _DURATION.fullmatch(text)
    if matched is not None:
        amount, unit = int(matched[1]), matched[2]
        if amount == 0:
            raise InvalidInput("an expiry must be in the future", field="expires", value=text)
        try:
            return now + timedelta(**{_UNITS[unit]: amount})
        except OverflowError:
            raise InvalidInput("an expiry must be before the year 10000", field="expires",
                               value=text) from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput("an expiry is a duration (90m, 12h, 30d, 8w) or an ISO 8601 time "
                           "with a time zone", field="expires", value=text) from None
    return utc(moment)


def check_expiry(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is not None and utc(expires_at) <= now:
        raise InvalidInput("an expiry must be in the future", field="expires",
                           value=expires_at.isoformat())


def check_label(label: str) -> str:
    """A label is optional free text (the ledger's rules for free text,
    ``ledger.domain.text``); returns it as it is kept."""
    return check_free_text("label", label, MAX_LABEL) if label else label


def issue_token(app: DialogueLedger, person_ref: str, role: TokenRole | str,
                label: str = "", *, expires_at: datetime | None = None,
                issuer_id: UUID = OPERATOR_ID, operator: str | None = None,
                ) -> tuple[str, UUID]:
    """Issue a new token for a person; returns the token (shown once) and its id.

    ``issuer_id`` is who issues it: the console's operator (the default; ``operator`` is
    then their OS user name, looked up if not given), or the person calling an API route."""
    person_id = app.person_id(person_ref)
    try:
        role = TokenRole(role)
    except ValueError:
        raise InvalidInput(f"unknown role {role!r}", field="role",
                           allowed=", ".join(TokenRole)) from None
    now = app.clock()
    check_expiry(expires_at, now)
    label = check_label(label)
    if issuer_id == OPERATOR_ID and operator is None:
        operator = operator_name()
    token = PREFIX + secrets.token_urlsafe(32)
    record = TokenGrant(person_id=person_id, role=role,
                        expires_at=None if expires_at is None else utc(expires_at),
                        operator=operator, act=Act(actor_id=issuer_id, occurred_at=now))
    # The credential first: without its record it opens nothing (a lookup finds no token).
    token_store(app).add(digest_of(token), record.id, label)
    app.save(record)
    return token, record.id


def find_token(app: DialogueLedger, token: str) -> Token | None:
    """The live (not revoked, not expired) token record for a presented token, or None."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    digest = digest_of(token)
    token_id = token_store(app).find(digest)
    expected: type[Token] = TokenGrant
    if token_id is None:  # issued by an older version?
        token_id, expected = ApiToken.create_id(digest), ApiToken
    try:
        record: object = app.repository.get(token_id)
    except AggregateNotFoundError:
        return None
    if not isinstance(record, expected) or not is_live(record, app.clock()):
        return None
    return record


def is_live(record: Token, now: datetime) -> bool:
    return not record.revoked and (record.expires_at is None or now < record.expires_at)


def revoke_token(app: DialogueLedger, token_id: UUID, *, issuer_id: UUID = OPERATOR_ID,
                 operator: str | None = None) -> None:
    try:
        record: object = app.repository.get(token_id)
    except AggregateNotFoundError:
        raise NotFound("no such token", id=token_id) from None
    if not isinstance(record, ApiToken | TokenGrant):
        raise NotFound("no such token", id=token_id)
    check_revocable(record)
    act = Act(actor_id=issuer_id, occurred_at=app.clock())
    if isinstance(record, TokenGrant):
        if issuer_id == OPERATOR_ID and operator is None:
            operator = operator_name()
        record.revoke(operator=operator, act=act)
    else:
        record.revoke(act=act)
    app.save(record)


def check_revocable(record: Token) -> None:
    """A token is revoked once: a second revocation records nothing."""
    if record.revoked:
        raise InvalidInput("that token is already revoked", id=record.id)


@dataclass(frozen=True)
class TokenListing:
    """What ``token list`` shows of a token: no secret."""

    id: UUID
    person_id: UUID
    handle: str
    role: TokenRole
    label: str
    issued_at: datetime
    issued_by: str
    expires_at: datetime | None
    revoked: bool


def list_tokens(app: DialogueLedger, person_ref: str | None = None) -> list[TokenListing]:
    """Every token (optionally of one person), oldest first."""
    person = None if person_ref is None else app.person_id(person_ref)
    topics = [f"{cls.__module__}:{cls.__qualname__}.{name}"
              for cls, name in ((TokenGrant, "Granted"), (ApiToken, "Issued"))]
    ids: list[UUID] = []
    start = 1
    while True:
        batch = app.recorder.select_notifications(start, 1000, topics=topics)
        ids.extend(n.originator_id for n in batch)  # type: ignore[misc]
        if len(batch) < 1000:
            break
        start = batch[-1].id + 1
    labels = token_store(app).labels()
    handles: dict[UUID, str] = {}

    def handle_of(person_id: UUID) -> str:
        if person_id not in handles:
            try:
                handles[person_id] = str(app.repository.get(person_id).handle)
            except (AggregateNotFoundError, AttributeError):
                handles[person_id] = str(person_id)
        return handles[person_id]

    listing = []
    for token_id in ids:
        record: object = app.repository.get(token_id)
        if not isinstance(record, ApiToken | TokenGrant):
            continue
        if person is not None and record.person_id != person:
            continue
        if record.issued_by == OPERATOR_ID:
            by = f"operator {record.operator}" if record.operator else "operator"
        else:
            by = handle_of(record.issued_by)
        listing.append(TokenListing(
            id=record.id, person_id=record.person_id, handle=handle_of(record.person_id),
            role=record.role, label=labels.get(record.id, record.label),
            issued_at=record.issued_at, issued_by=by, expires_at=record.expires_at,
            revoked=record.revoked))
    return listing
