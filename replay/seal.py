"""Tamper evidence: the ledger sealed as an RFC 6962 / RFC 9162 Merkle tree, signed checkpoints,
verification, proofs, and the event log's export to and import from JSON Lines.

**Leaves.** Leaf ``k`` of the tree is the ``k``-th stored event in ledger-position order. Its
leaf data is :func:`encode_leaf` of the event's originator id, originator version, topic and
stored state bytes (length-prefixed, so no two events share an encoding), hashed with
:func:`replay.merkle.leaf_hash`. Positions are notification ids, which can have gaps, so leaf
indexes do not match them: ``seal_leaves(leaf_index, position, leaf_hash)`` keeps the mapping.

**Sealing** (:func:`seal`) appends the leaves of events recorded since the last seal, in
batches, one transaction each, and persists the :class:`~replay.merkle.MerkleAccumulator`'s
state in ``seal_state``, so old leaves are never read again.

**Checkpoints** (:func:`checkpoint`) are signed tree heads: tree size, root hash, time and key
id, signed with Ed25519 (a PEM key file, :func:`load_signing_key`). They are kept in
``seal_checkpoints`` and written as JSON (:meth:`Checkpoint.to_json`) to be kept elsewhere.

**Verification** (:func:`verify`) recomputes every leaf from the stored events, streaming, and
reports exactly which entries differ from the leaf table, which recorded or external checkpoint
roots the events no longer reproduce, and which signatures fail.

**Proofs** (:func:`inclusion_proof_document`, :func:`consistency_proof_document`) are computed
from the events as stored now and written in the JSON the standalone verifier
``python -m replay.proofcheck`` reads.

**Export / import** (:func:`export_events`, :func:`import_events`): one stored event per JSON
Line, byte-exact, positions kept (gaps included), so the round trip gives the same roots.

All tables live in the ledger's own database (SQLite, or the store's PostgreSQL schema).
See ``docs/tamper-evidence.md``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
import re
import stat
import struct
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple, overload
from uuid import UUID

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from ledger.application import DialogueLedger
from ledger.errors import InvalidInput, LedgerError
from replay.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MerkleAccumulator,
    MerkleError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
)
from replay.proofcheck import verify_consistency, verify_inclusion

__all__ = [
    "CHECKPOINT_FORMAT",
    "DEFAULT_KEY_FILE",
    "LEAF_VERSION",
    "Checkpoint",
    "CheckpointError",
    "Failure",
    "ImportResult",
    "SealError",
    "SealResult",
    "StoreNotEmpty",
    "VerificationFailed",
    "VerifyReport",
    "checkpoint",
    "checkpoints",
    "consistency_proof_document",
    "encode_leaf",
    "ensure_empty",
    "event_leaf_hash",
    "export_events",
    "import_events",
    "inclusion_proof_document",
    "key_id_of",
    "latest_checkpoint",
    "load_public_key",
    "load_signing_key",
    "public_key_pem",
    "seal",
    "signing_key_path",
    "verify",
]

Progress = Callable[[int], None]

#: First byte of every leaf's data: the version of the encoding.
LEAF_VERSION = 1
#: ``format`` of a checkpoint's JSON.
CHECKPOINT_FORMAT = "dialogue-ledger/checkpoint/v1"
#: First line of the message a checkpoint signs.
SIGNED_HEADER = "dialogue-ledger checkpoint v1"
#: The signing key file, unless ``LEDGER_SIGNING_KEY`` names another.
DEFAULT_KEY_FILE = "ledger-signing-key.pem"
KEY_ENV = "LEDGER_SIGNING_KEY"
#: Events read per query, and leaves written per transaction.
BATCH_SIZE = 5_000


# ===================================================================================
# Errors
# ===================================================================================
class SealError(LedgerError):
    """The seal cannot do what was asked (bad input, nothing sealed yet, ...)."""

    code = "seal-error"
    status = 422


class CheckpointError(InvalidInput):
    """A checkpoint file cannot be read or does not have the expected shape."""

    code = "bad-checkpoint"


class StoreNotEmpty(LedgerError):
    """An import was asked into a store that already holds events."""

    code = "store-not-empty"
    status = 409


class VerificationFailed(LedgerError):
    """The store does not match what was sealed or signed (tamper evidence)."""

    code = "verification-failed"
    status = 409


# ===================================================================================
# Leaves
# ===================================================================================
_HEX32 = re.compile(r"[0-9a-f]{32}")
_U32 = struct.Struct(">I")
_I64 = struct.Struct(">q")
_U64 = struct.Struct(">Q")


def canonical_id(value: object) -> str:
    """The originator id as sealed: a UUID's canonical text (``8-4-4-4-12``, lowercase).

    SQLite stores UUIDs as 32 lowercase hex digits and PostgreSQL as ``uuid``; both give the
    same text, so a ledger moved between stores keeps its roots. Any other stored value is
    sealed as its text, as it is.
    """
    if isinstance(value, UUID):
        return str(value)
    return _canonical_text(value if isinstance(value, str) else str(value))


@functools.lru_cache(maxsize=65_536)  # an aggregate's events share its id
def _canonical_text(text: str) -> str:
    if _HEX32.fullmatch(text):
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
    return text


def _as_bytes(value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):  # SQLite lets any column hold text
        return value.encode()
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


def encode_leaf(originator_id: str, originator_version: int, topic: str, state: bytes) -> bytes:
    """The leaf data of a stored event (big-endian integers)::

        0x01                                 encoding version
        u32 len(id)     id                   canonical originator id, UTF-8
        i64 version                          originator version
        u32 len(topic)  topic                UTF-8
        u64 len(state)  state                the stored state bytes, as stored

    Every variable field is length-prefixed, so the encoding is unambiguous.
    """
    oid = originator_id.encode()
    top = topic.encode()
    return b"".join((
        b"\x01", _U32.pack(len(oid)), oid, _I64.pack(originator_version),
        _U32.pack(len(top)), top, _U64.pack(len(state)), state,
    ))


def event_leaf_hash(originator_id: str, originator_version: int, topic: str,
                    state: bytes) -> bytes:
    """The RFC 6962 leaf hash of a stored event: ``SHA-256(0x00 || encode_leaf(...))``."""
    return leaf_hash(encode_leaf(originator_id, originator_version, topic, state))


class EventRow(NamedTuple):
    """A stored event as read from the events table."""

    position: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes

    def leaf_hash(self) -> bytes:
        return event_leaf_hash(self.originator_id, self.originator_version, self.topic,
                               self.state)


# ===================================================================================
# The tables, on SQLite or PostgreSQL
# ===================================================================================
@dataclass(frozen=True)
class SealState:
    tree_size: int
    last_position: int
    subtree_roots: tuple[bytes, ...]

    def accumulator(self) -> MerkleAccumulator:
        return MerkleAccumulator.from_state(self.tree_size, self.subtree_roots)


def _split_hashes(blob: bytes) -> tuple[bytes, ...]:
    return tuple(blob[i:i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE))


class SealStore:
    """SQL over the events table and the seal tables of one application's store.

    Statements are written with ``?`` placeholders; PostgreSQL gets ``%s`` and names qualified
    by the datastore's schema. Each batch of work is one transaction of the recorder's
    datastore.
    """

    def __init__(self, app: DialogueLedger) -> None:
        recorder = app.recorder
        self.recorder = recorder
        if isinstance(recorder, SQLiteApplicationRecorder):
            self.postgres = False
            self.datastore: Any = recorder.datastore
            qualify = ""
            self.position_column = "rowid"
        elif isinstance(recorder, PostgresApplicationRecorder):
            self.postgres = True
            self.datastore = recorder.datastore
            qualify = '"' + recorder.datastore.schema.replace('"', '""') + '".'
            self.position_column = "notification_id"
        else:  # pragma: no cover - the ledger only runs on these two
            raise SealError(f"sealing needs SQLite or PostgreSQL, not {type(recorder).__name__}")
        self.events = qualify + recorder.events_table_name
        self.leaves = qualify + "seal_leaves"
        self.state = qualify + "seal_state"
        self.checkpoints = qualify + "seal_checkpoints"
        self._created = False

    # --- plumbing --------------------------------------------------------------------
    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.postgres else statement

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[Any]:
        with self.datastore.transaction(commit=commit) as cursor:
            if self.postgres:
                from psycopg.rows import tuple_row

                cursor.row_factory = tuple_row
            yield cursor

    def create_tables(self) -> None:
        if self._created:
            return
        blob = "BYTEA" if self.postgres else "BLOB"
        serial = "BIGSERIAL PRIMARY KEY" if self.postgres else "INTEGER PRIMARY KEY"
        index = "BIGINT PRIMARY KEY" if self.postgres else "INTEGER PRIMARY KEY"
        statements = [
            f"CREATE TABLE IF NOT EXISTS {self.leaves} (leaf_index {index}, "
            f"position BIGINT NOT NULL UNIQUE, leaf_hash {blob} NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.state} (id INTEGER PRIMARY KEY CHECK (id = 1), "
            f"tree_size BIGINT NOT NULL, last_position BIGINT NOT NULL, "
            f"subtree_roots {blob} NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.checkpoints} (id {serial}, "
            f"tree_size BIGINT NOT NULL, root_hash {blob} NOT NULL, signed_at TEXT NOT NULL, "
            f"key_id TEXT NOT NULL, public_key {blob} NOT NULL, signature {blob} NOT NULL, "
            f"last_position BIGINT NOT NULL, subtree_roots {blob} NOT NULL)",
        ]
        try:
            with self.transaction(commit=True) as c:
                for statement in statements:
                    c.execute(statement)
                c.execute(self.sql(
                    f"INSERT INTO {self.state} (id, tree_size, last_position, subtree_roots) "
                    "VALUES (1, 0, 0, ?) ON CONFLICT (id) DO NOTHING"), (b"",))
        except Exception:
            # Two processes creating the tables at once on PostgreSQL: one wins.
            if not self.tables_exist():
                raise
        self._created = True

    def tables_exist(self) -> bool:
        """Whether all three seal tables exist (without creating them)."""
        with self.transaction(commit=False) as c:
            if self.postgres:
                c.execute("SELECT (to_regclass(%s) IS NOT NULL)::int + "
                          "(to_regclass(%s) IS NOT NULL)::int + "
                          "(to_regclass(%s) IS NOT NULL)::int",
                          (self.leaves, self.state, self.checkpoints))
            else:
                c.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                          "AND name IN ('seal_leaves', 'seal_state', 'seal_checkpoints')")
            row = c.fetchone()
        return int(row[0]) == 3

    # --- events ----------------------------------------------------------------------
    def _event_rows(self, c: Any, after: int, limit: int, stop: int | None) -> list[EventRow]:
        p = self.position_column
        statement = (f"SELECT {p}, originator_id, originator_version, topic, state "
                     f"FROM {self.events} WHERE {p} > ?")
        params: list[int] = [after]
        if stop is not None:
            statement += f" AND {p} <= ?"
            params.append(stop)
        statement += f" ORDER BY {p} LIMIT ?"
        params.append(limit)
        self._execute_binary(c, statement, params)
        return [EventRow(r[0], canonical_id(r[1]), r[2],
                         r[3] if type(r[3]) is str else str(r[3] or ""),
                         r[4] if type(r[4]) is bytes else _as_bytes(r[4]))
                for r in c.fetchall()]

    def _execute_binary(self, c: Any, statement: str, params: Sequence[Any]) -> None:
        """Run a read; on PostgreSQL in binary format (``bytea`` as is, not as hex text)."""
        if self.postgres:
            c.execute(self.sql(statement), params, binary=True)
        else:
            c.execute(statement, params)

    def insert_leaves(self, c: Any, leaves: Sequence[tuple[int, int, bytes]]) -> None:
        """Write leaf rows; on PostgreSQL with a binary COPY (several times executemany's
        speed)."""
        if self.postgres:
            with c.copy(f"COPY {self.leaves} (leaf_index, position, leaf_hash) "
                        "FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "int8", "bytea"])
                for row in leaves:
                    copy.write_row(row)
        else:
            c.executemany(f"INSERT INTO {self.leaves} (leaf_index, position, leaf_hash) "
                          "VALUES (?, ?, ?)", leaves)

    def iter_events(self, after: int = 0, stop: int | None = None,
                    batch_size: int = BATCH_SIZE) -> Iterator[list[EventRow]]:
        """Batches of stored events with ``after < position <= stop``, in position order."""
        while True:
            with self.transaction(commit=False) as c:
                rows = self._event_rows(c, after, batch_size, stop)
            if not rows:
                return
            yield rows
            if len(rows) < batch_size:
                return
            after = rows[-1].position

    def event_at(self, position: int) -> EventRow | None:
        with self.transaction(commit=False) as c:
            rows = self._event_rows(c, position - 1, 1, position)
        return rows[0] if rows else None

    def head(self) -> int:
        """The last event's position (0 when the store is empty)."""
        with self.transaction(commit=False) as c:
            c.execute(f"SELECT MAX({self.position_column}) FROM {self.events}")
            row = c.fetchone()
        return int(row[0] or 0)

    # --- state -----------------------------------------------------------------------
    def _state_in(self, c: Any, *, lock: bool) -> SealState:
        if lock and not self.postgres:
            # Take SQLite's write lock before reading, so two sealers cannot interleave.
            c.execute(f"UPDATE {self.state} SET tree_size = tree_size WHERE id = 1")
        c.execute(f"SELECT tree_size, last_position, subtree_roots FROM {self.state} "
                  "WHERE id = 1" + (" FOR UPDATE" if lock and self.postgres else ""))
        row = c.fetchone()
        if row is None:
            return SealState(0, 0, ())
        return SealState(int(row[0]), int(row[1]), _split_hashes(_as_bytes(row[2])))

    def read_state(self) -> SealState:
        with self.transaction(commit=False) as c:
            return self._state_in(c, lock=False)

    def leaf_count(self) -> int:
        with self.transaction(commit=False) as c:
            c.execute(f"SELECT count(*) FROM {self.leaves}")
            return int(c.fetchone()[0])

    def iter_leaves(self, stop: int,
                    batch_size: int = BATCH_SIZE) -> Iterator[list[tuple[int, int, bytes]]]:
        """Batches of ``(leaf_index, position, leaf_hash)`` with ``leaf_index < stop``."""
        if stop <= 0:
            return
        after = -1
        while True:
            with self.transaction(commit=False) as c:
                self._execute_binary(
                    c, f"SELECT leaf_index, position, leaf_hash FROM {self.leaves} "
                    "WHERE leaf_index > ? AND leaf_index < ? ORDER BY leaf_index LIMIT ?",
                    (after, stop, batch_size))
                rows = [(int(r[0]), int(r[1]), _as_bytes(r[2])) for r in c.fetchall()]
            if not rows:
                return
            yield rows
            if len(rows) < batch_size:
                return
            after = rows[-1][0]

    # --- checkpoints -----------------------------------------------------------------
    _CHECKPOINT_COLUMNS = ("id, tree_size, root_hash, signed_at, key_id, public_key, "
                           "signature, last_position, subtree_roots")

    def insert_checkpoint(self, c: Any, cp: Checkpoint) -> int:
        values = (cp.tree_size, cp.root_hash, cp.timestamp, cp.key_id, cp.public_key,
                  cp.signature, cp.last_position, b"".join(cp.subtree_roots))
        statement = (f"INSERT INTO {self.checkpoints} (tree_size, root_hash, signed_at, key_id, "
                     "public_key, signature, last_position, subtree_roots) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        if self.postgres:
            c.execute(self.sql(statement + " RETURNING id"), values)
            return int(c.fetchone()[0])
        c.execute(statement, values)
        return int(c.lastrowid)

    def read_checkpoints(self, latest_only: bool = False) -> list[Checkpoint]:
        statement = f"SELECT {self._CHECKPOINT_COLUMNS} FROM {self.checkpoints} ORDER BY id"
        if latest_only:
            statement += " DESC LIMIT 1"
        with self.transaction(commit=False) as c:
            c.execute(statement)
            rows = c.fetchall()
        return [Checkpoint(
            tree_size=int(r[1]), root_hash=_as_bytes(r[2]), timestamp=str(r[3]),
            key_id=str(r[4]), public_key=_as_bytes(r[5]), signature=_as_bytes(r[6]),
            last_position=int(r[7]), subtree_roots=_split_hashes(_as_bytes(r[8])),
            id=int(r[0])) for r in rows]


# ===================================================================================
# Sealing
# ===================================================================================
@dataclass(frozen=True)
class SealResult:
    """The sealed tree after :func:`seal`: its size and root, the position of its last leaf,
    and how many leaves this call added."""

    tree_size: int
    root_hash: bytes
    last_position: int
    added: int


def seal(app: DialogueLedger, *, batch_size: int = BATCH_SIZE,
         progress: Progress | None = None) -> SealResult:
    """Append the leaves of every event recorded since the last seal; return the tree.

    Each batch is one transaction that locks ``seal_state``, reads up to ``batch_size`` new
    events, writes their leaves and the accumulator's new state, so concurrent sealers take
    turns and a failure loses at most the batch in hand.
    """
    store = SealStore(app)
    store.create_tables()
    added = 0
    while True:
        with store.transaction(commit=True) as c:
            state = store._state_in(c, lock=True)
            rows = store._event_rows(c, state.last_position, batch_size, None)
            acc = state.accumulator()
            if not rows:
                return SealResult(acc.size, acc.root(), state.last_position, added)
            start = acc.size
            leaves = []
            for offset, row in enumerate(rows):
                h = row.leaf_hash()
                acc.append(h)
                leaves.append((start + offset, row.position, h))
            store.insert_leaves(c, leaves)
            c.execute(store.sql(
                f"UPDATE {store.state} SET tree_size = ?, last_position = ?, "
                "subtree_roots = ? WHERE id = 1"),
                (acc.size, rows[-1].position, b"".join(acc.to_state())))
        added += len(rows)
        if progress is not None:
            progress(len(rows))
        if len(rows) < batch_size:
            return SealResult(acc.size, acc.root(), rows[-1].position, added)


# ===================================================================================
# Keys
# ===================================================================================
def signing_key_path() -> Path:
    """The signing key file: ``$LEDGER_SIGNING_KEY``, else ``ledger-signing-key.pem`` in the
    working folder."""
    return Path(os.environ.get(KEY_ENV) or DEFAULT_KEY_FILE)


def check_private(path: Path) -> None:
    """Refuse a signing key that others than its owner may read or write: anyone who can
    read it can sign checkpoints in the ledger's name."""
    mode = path.stat().st_mode
    if os.name == "posix" and mode & 0o077:
        raise SealError(f"the signing key {path} may be read or changed by others than its "
                        f"owner (mode {stat.S_IMODE(mode):04o}); make it private with: "
                        f"chmod 600 {path}", path=str(path))


def load_signing_key(path: Path | str | None = None, *,
                     create: bool = True) -> tuple[Ed25519PrivateKey, bool]:
    """The Ed25519 signing key from ``path`` (default :func:`signing_key_path`), and whether it
    was created now. A missing key is generated and written as unencrypted PKCS#8 PEM, readable
    by its owner only (0600), unless ``create`` is false."""
    path = Path(path) if path is not None else signing_key_path()
    try:
        check_private(path)
        data = path.read_bytes()
    except FileNotFoundError:
        if not create:
            raise SealError(f"there is no signing key at {path}", path=str(path)) from None
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # created meanwhile by another process: use theirs
            return load_signing_key(path, create=False)
        except OSError as error:
            raise SealError(f"cannot create the signing key {path}: {error.strerror}",
                            path=str(path)) from None
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(pem)
        return key, True
    except OSError as error:
        raise SealError(f"cannot read the signing key {path}: {error.strerror}",
                        path=str(path)) from None
    try:
        loaded = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise SealError(f"{path} is not an unencrypted PEM private key: {error}",
                        path=str(path)) from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise SealError(f"{path} holds a {type(loaded).__name__}; checkpoints need Ed25519",
                        path=str(path))
    return loaded, False


def _raw_public(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(public_key: bytes) -> str:
    """A key's id: the first 16 bytes of SHA-256 of its raw 32-byte public key, in hex."""
    return hashlib.sha256(public_key).hexdigest()[:32]


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey | bytes) -> str:
    """The public key as SubjectPublicKeyInfo PEM (what ``openssl pkey -pubin`` reads)."""
    public = (Ed25519PublicKey.from_public_bytes(key) if isinstance(key, bytes)
              else key.public_key() if isinstance(key, Ed25519PrivateKey) else key)
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_key(path: Path | str) -> bytes:
    """The raw public key from a PEM file holding an Ed25519 public or private key."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None
    try:
        if b"PRIVATE KEY" in data:
            private = serialization.load_pem_private_key(data, password=None)
            if isinstance(private, Ed25519PrivateKey):
                return _raw_public(private)
        else:
            public = serialization.load_pem_public_key(data)
            if isinstance(public, Ed25519PublicKey):
                return _raw_public(public)
    except (ValueError, TypeError) as error:
        raise InvalidInput(f"{path} is not a PEM key: {error}") from None
    raise InvalidInput(f"{path} is not an Ed25519 key")


def _pem_to_raw(text: str) -> bytes:
    public = serialization.load_pem_public_key(text.encode())
    if not isinstance(public, Ed25519PublicKey):
        raise CheckpointError("public_key is not an Ed25519 key")
    return _raw_public(public)


# ===================================================================================
# Checkpoints
# ===================================================================================
def _now() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head. ``subtree_roots`` (the roots of the tree's perfect subtrees, left
    to right) fold to ``root_hash``; ``last_position`` is the position of leaf
    ``tree_size - 1``. Neither is signed: the first is bound by the root, the second only
    informs."""

    tree_size: int
    root_hash: bytes
    timestamp: str
    key_id: str
    public_key: bytes
    signature: bytes
    last_position: int = 0
    subtree_roots: tuple[bytes, ...] = ()
    id: int | None = None

    def label(self) -> str:
        where = f"#{self.id} " if self.id is not None else ""
        return f"checkpoint {where}(size {self.tree_size}, signed {self.timestamp})"

    def signed_message(self) -> bytes:
        return signed_message(self.tree_size, self.root_hash, self.timestamp, self.key_id)

    def problem(self, trusted_keys: Collection[str] | None = None) -> str | None:
        """Why this checkpoint cannot be trusted, or None: the key id must match the public key,
        the Ed25519 signature must verify, the subtree roots must fold to the root, and, given
        ``trusted_keys``, the key must be one of them."""
        if len(self.public_key) != 32:
            return "the public key is not a 32-byte Ed25519 key"
        if key_id_of(self.public_key) != self.key_id:
            return "the key id does not match the public key"
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                self.signature, self.signed_message())
        except InvalidSignature:
            return "the signature does not verify"
        if self.subtree_roots:
            try:
                folded = MerkleAccumulator.from_state(self.tree_size, self.subtree_roots).root()
            except MerkleError:
                folded = None
            if folded != self.root_hash:
                return "the subtree roots do not fold to the signed root hash"
        if trusted_keys is not None and self.key_id not in trusted_keys:
            return f"it is signed by key {self.key_id}, which is not a trusted key"
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": self.timestamp,
            "key_id": self.key_id,
            "public_key": public_key_pem(self.public_key),
            "signature": base64.b64encode(self.signature).decode(),
            "signed_message": self.signed_message().decode(),
            "last_position": self.last_position,
            "subtree_roots": [h.hex() for h in self.subtree_roots],
            "checkpoint_id": self.id,
        }

    def dumps(self) -> bytes:
        return orjson.dumps(self.to_json(), option=orjson.OPT_INDENT_2) + b"\n"

    @classmethod
    def from_json(cls, doc: object, source: str = "checkpoint") -> Checkpoint:
        if not isinstance(doc, dict):
            raise CheckpointError(f"{source}: a checkpoint is a JSON object")
        if doc.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{source}: format is not {CHECKPOINT_FORMAT!r}")

        def need(key: str, kind: type) -> Any:
            value = doc.get(key)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise CheckpointError(f"{source}: field {key!r} is missing or not a "
                                      f"{kind.__name__}")
            return value

        def hex_hash(value: object, what: str) -> bytes:
            try:
                raw = bytes.fromhex(value) if isinstance(value, str) else b""
            except ValueError:
                raw = b""
            if len(raw) != HASH_SIZE:
                raise CheckpointError(f"{source}: {what} is not a 32-byte hex hash")
            return raw

        size = need("tree_size", int)
        if size < 0:
            raise CheckpointError(f"{source}: tree_size is negative")
        roots = doc.get("subtree_roots", [])
        if not isinstance(roots, list):
            raise CheckpointError(f"{source}: subtree_roots is not a list")
        try:
            public_key = _pem_to_raw(need("public_key", str))
        except ValueError as error:
            raise CheckpointError(f"{source}: public_key is not a PEM public key: "
                                  f"{error}") from None
        try:
            signature = base64.b64decode(need("signature", str), validate=True)
        except binascii.Error:
            raise CheckpointError(f"{source}: signature is not base64") from None
        last = doc.get("last_position", 0)
        cp_id = doc.get("checkpoint_id")
        cp = cls(tree_size=size, root_hash=hex_hash(doc.get("root_hash"), "root_hash"),
                 timestamp=need("timestamp", str), key_id=need("key_id", str),
                 public_key=public_key, signature=signature,
                 last_position=last if isinstance(last, int) else 0,
                 subtree_roots=tuple(hex_hash(r, "a subtree root") for r in roots),
                 id=cp_id if isinstance(cp_id, int) else None)
        message = doc.get("signed_message")
        if message is not None and message != cp.signed_message().decode():
            raise CheckpointError(f"{source}: signed_message does not match the fields")
        return cp

    @classmethod
    def load(cls, path: Path | str) -> Checkpoint:
        try:
            doc = orjson.loads(Path(path).read_bytes())
        except OSError as error:
            raise CheckpointError(f"cannot read {path}: {error.strerror}") from None
        except orjson.JSONDecodeError as error:
            raise CheckpointError(f"{path} is not JSON: {error}") from None
        return cls.from_json(doc, str(path))


def signed_message(tree_size: int, root_hash: bytes, timestamp: str, key_id: str) -> bytes:
    """The exact bytes a checkpoint's Ed25519 signature covers (five lines)."""
    return (f"{SIGNED_HEADER}\ntree_size {tree_size}\nroot_hash {root_hash.hex()}\n"
            f"timestamp {timestamp}\nkey_id {key_id}\n").encode()


def checkpoint(app: DialogueLedger, key: Ed25519PrivateKey | None = None, *,
               now: Callable[[], str] = _now) -> Checkpoint:
    """Seal the ledger, then sign and record a checkpoint of the sealed tree.

    ``key`` defaults to the key file :func:`signing_key_path` names (created if missing).
    """
    if key is None:
        key, _ = load_signing_key()
    seal(app)
    store = SealStore(app)
    public = _raw_public(key)
    with store.transaction(commit=True) as c:
        state = store._state_in(c, lock=True)
        acc = state.accumulator()
        root = acc.root()
        timestamp = now()
        kid = key_id_of(public)
        signature = key.sign(signed_message(acc.size, root, timestamp, kid))
        cp = Checkpoint(tree_size=acc.size, root_hash=root, timestamp=timestamp, key_id=kid,
                        public_key=public, signature=signature,
                        last_position=state.last_position, subtree_roots=state.subtree_roots)
        cp_id = store.insert_checkpoint(c, cp)
    return replace(cp, id=cp_id)


def checkpoints(app: DialogueLedger) -> list[Checkpoint]:
    """Every recorded checkpoint, oldest first."""
    store = SealStore(app)
    return store.read_checkpoints() if store.tables_exist() else []


def latest_checkpoint(app: DialogueLedger) -> Checkpoint | None:
    store = SealStore(app)
    if not store.tables_exist():
        return None
    found = store.read_checkpoints(latest_only=True)
    return found[0] if found else None


# ===================================================================================
# Verification
# ===================================================================================
@dataclass(frozen=True)
class Failure:
    """One entry (or run of entries, up to ``last_leaf_index``) that fails verification.

    ``kind``: ``changed``, ``deleted``, ``inserted``, ``moved``, ``swapped``, ``truncated``
    (entries), ``leaf-table`` and ``seal-state`` (the seal's own tables), ``checkpoint``
    (a recorded checkpoint), ``external`` (a checkpoint kept elsewhere) and ``signature``.
    """

    kind: str
    detail: str
    leaf_index: int | None = None
    position: int | None = None
    last_leaf_index: int | None = None
    last_position: int | None = None
    #: For ``moved``: the position the event now here was sealed at.
    moved_from: int | None = None

    def where(self) -> str:
        parts = []
        if self.leaf_index is not None:
            parts.append(_span("leaf", self.leaf_index, self.last_leaf_index))
        if self.position is not None:
            parts.append(_span("position", self.position, self.last_position))
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{self.kind}: {where}: {self.detail}" if where else f"{self.kind}: {self.detail}"


def _span(name: str, first: int, last: int | None) -> str:
    if last is None or last == first:
        return f"{name} {first}"
    return f"{'leaves' if name == 'leaf' else name + 's'} {first}..{last}"


@dataclass
class VerifyReport:
    """What :func:`verify` found. ``ok`` when nothing failed."""

    events: int = 0
    tree_size: int = 0
    sealed_position: int = 0
    unsealed: int = 0
    checkpoints: int = 0
    external: int = 0
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def grouped(self) -> list[Failure]:
        """The failures, with runs of consecutive entries that failed alike merged: the same
        kind and detail, or events all moved by the same shift (for display)."""
        out: list[Failure] = []
        for f in self.failures:
            prev = out[-1] if out else None
            if prev is None or not _continues(prev, f):
                out.append(f)
                continue
            detail = prev.detail
            if f.kind == "moved" and prev.moved_from is not None and f.position is not None \
                    and prev.position is not None:
                shift = prev.position - prev.moved_from
                detail = (f"hold the events sealed at positions {prev.moved_from}.."
                          f"{f.position - shift}: shifted by {shift:+d}")
            last_leaf = f.leaf_index if f.leaf_index is not None else prev.last_leaf_index
            out[-1] = Failure(prev.kind, detail, prev.leaf_index, prev.position,
                              last_leaf if last_leaf != prev.leaf_index else None,
                              f.position, prev.moved_from)
        return out


_GROUPABLE = frozenset({"changed", "deleted", "inserted", "truncated"})


def _continues(prev: Failure, f: Failure) -> bool:
    """Whether ``f`` extends the run ``prev`` (which may already span several entries)."""
    if prev.kind != f.kind or prev.position is None or f.position is None:
        return False
    last_position = prev.last_position if prev.last_position is not None else prev.position
    last_leaf = prev.last_leaf_index if prev.last_leaf_index is not None else prev.leaf_index
    if f.kind == "moved":
        return (prev.moved_from is not None and f.moved_from is not None
                and f.position == last_position + 1
                and f.position - f.moved_from == prev.position - prev.moved_from)
    if f.kind not in _GROUPABLE or f.detail != prev.detail:
        return False
    if last_leaf is not None and f.leaf_index is not None:
        return f.leaf_index == last_leaf + 1
    return last_leaf is None and f.leaf_index is None and f.position == last_position + 1


class _Sizes:
    """Captures an accumulator's root (and compact range) as it passes given sizes."""

    def __init__(self, sizes: Iterable[int]) -> None:
        self.pending = sorted({s for s in sizes if s > 0}, reverse=True)
        self.roots: dict[int, bytes] = {0: EMPTY_ROOT}
        self.states: dict[int, tuple[bytes, ...]] = {0: ()}

    def passed(self, acc: MerkleAccumulator) -> None:
        while self.pending and self.pending[-1] == acc.size:
            self.pending.pop()
            self.roots[acc.size] = acc.root()
            self.states[acc.size] = tuple(acc.to_state())


def _subtree_ranges(size: int) -> list[tuple[int, int]]:
    """The leaf ranges ``[lo, hi)`` of a tree's perfect subtrees, left to right."""
    ranges, lo = [], 0
    for bit in reversed(range(size.bit_length())):
        if size >> bit & 1:
            ranges.append((lo, lo + (1 << bit)))
            lo += 1 << bit
    return ranges


def verify(app: DialogueLedger, external: Sequence[Checkpoint] = (), *,
           trusted_keys: Collection[str] | None = None, batch_size: int = BATCH_SIZE,
           progress: Progress | None = None) -> VerifyReport:
    """Recompute every leaf from the stored events and check the seal against them.

    (a) The leaf table against the events, entry by entry (by position); (b) the recomputed
    root at every recorded checkpoint's size and the checkpoints' signatures; (c) the same
    against each ``external`` checkpoint, which catches rewritten or truncated seal tables.
    Streams: memory grows with the failures found, not with the ledger.

    ``trusted_keys`` are key ids every signature must come from; by default the local
    signing key's, if its file exists.
    """
    store = SealStore(app)
    report = VerifyReport()
    if trusted_keys is None:
        path = signing_key_path()
        if path.exists():
            key, _ = load_signing_key(path, create=False)
            trusted_keys = {key_id_of(_raw_public(key))}
        else:
            report.notes.append(
                "no trusted public key given and no signing key file: signatures are checked "
                "against the keys recorded with the checkpoints only")
    if store.tables_exist():
        state = store.read_state()
        recorded = store.read_checkpoints()
    else:
        report.notes.append("the seal tables do not exist: nothing was sealed in this store")
        state, recorded = SealState(0, 0, ()), []
    report.tree_size, report.sealed_position = state.tree_size, state.last_position
    head = store.head()

    # Roots are captured at every checkpoint's size and at the ends of its perfect subtrees
    # (the compact range at such an end is a prefix of the checkpoint's subtree roots).
    boundaries = {b for cp in (*recorded, *external) for r in _subtree_ranges(cp.tree_size)
                  for b in r}
    first_and_last = {i for b in boundaries for i in (b, b - 1) if i >= 0}
    at_events = _Sizes([state.tree_size, *boundaries])
    at_leaves = _Sizes([state.tree_size, *(cp.tree_size for cp in (*recorded, *external))])
    boundary_positions: dict[int, int] = {}
    events_acc, leaves_acc = MerkleAccumulator(), MerkleAccumulator()

    changed: list[tuple[int, int, bytes, bytes]] = []
    changed_rows: dict[int, EventRow] = {}  # the first few changed events, to name swaps
    missing: list[tuple[int, int, bytes]] = []
    inserted: list[tuple[int, bytes]] = []
    displaced: list[tuple[int, bytes]] = []  # sealed events found after the sealed range
    recorded_bad: dict[bytes, tuple[int, int]] = {}
    event_bad: dict[bytes, int] = {}
    table_failures: list[Failure] = []

    def events() -> Iterator[tuple[int, bytes, EventRow]]:
        last = 0
        for batch in store.iter_events(0, head, batch_size):
            for row in batch:
                h = row.leaf_hash()
                index = events_acc.size
                if index in first_and_last:
                    boundary_positions[index] = row.position
                events_acc.append(h)
                at_events.passed(events_acc)
                yield row.position, h, row
            if progress is not None:
                progress(batch[-1].position - last)
                last = batch[-1].position

    def leaves() -> Iterator[tuple[int, int, bytes]]:
        expected, last_position = 0, 0
        for batch in store.iter_leaves(state.tree_size, batch_size):
            for index, position, h in batch:
                if index != expected:
                    table_failures.append(Failure(
                        "leaf-table", "entries are missing from the leaf table",
                        expected, None, index - 1))
                if position <= last_position:
                    table_failures.append(Failure(
                        "leaf-table", f"positions are out of order (after {last_position})",
                        index, position))
                expected, last_position = index + 1, position
                if len(h) != HASH_SIZE:
                    h = h[:HASH_SIZE].ljust(HASH_SIZE, b"\x00")
                leaves_acc.append(h)
                at_leaves.passed(leaves_acc)
                yield index, position, h
        if expected != state.tree_size:
            table_failures.append(Failure(
                "leaf-table", f"the seal state counts {state.tree_size} leaves, the leaf table "
                f"ends at {expected}", expected, None,
                state.tree_size - 1 if state.tree_size > expected else None))

    ev_iter, lf_iter = events(), leaves()
    ev = next(ev_iter, None)
    lf = next(lf_iter, None)
    while ev is not None or lf is not None:
        if lf is not None and (ev is None or lf[1] < ev[0]):
            index, position, r = lf
            missing.append((index, position, r))
            recorded_bad[r] = (index, position)
            lf = next(lf_iter, None)
        elif ev is not None and (lf is None or ev[0] < lf[1]):
            position, h, _ = ev
            report.events += 1
            if position <= state.last_position:
                inserted.append((position, h))
                event_bad[h] = position
            else:
                report.unsealed += 1
                if h in recorded_bad:
                    displaced.append((position, h))
                    event_bad[h] = position
            ev = next(ev_iter, None)
        else:
            assert ev is not None and lf is not None
            report.events += 1
            position, h, row = ev
            index, _, r = lf
            if h != r:
                changed.append((index, position, h, r))
                if len(changed_rows) < _SWAP_SEARCH_LIMIT:
                    changed_rows[position] = row
                recorded_bad[r] = (index, position)
                event_bad[h] = position
            ev, lf = next(ev_iter, None), next(lf_iter, None)

    failures = _classify(changed, missing, inserted, displaced, recorded_bad, event_bad,
                         _content_moves(changed, changed_rows), head)
    failures.extend(table_failures)

    # The seal's own state must be the compact range of the leaf table it describes.
    if (state.tree_size in at_leaves.states
            and at_leaves.states[state.tree_size] != state.subtree_roots):
        failures.append(Failure("seal-state", "the stored tree state does not match the leaf "
                                "table (the seal tables were changed)"))

    # (b) recorded checkpoints: every signature; the first whose root fails in full, and a
    # count of the later ones (each later root covers the same damage).
    report.checkpoints = len(recorded)
    failing: list[Checkpoint] = []
    for cp in recorded:
        found = _check_checkpoint(cp, "checkpoint", at_events, at_leaves, report.events,
                                  trusted_keys, boundary_positions)
        if found and found[0].kind != "signature":
            failing.append(cp)
            if len(failing) > 1:
                continue
        failures.extend(found)
    if len(failing) > 1:
        failures.append(Failure(
            "checkpoint", f"{len(failing) - 1} later recorded checkpoints (#{failing[1].id}.."
            f"#{failing[-1].id}) do not hold either"))
    # (c) checkpoints kept elsewhere.
    report.external = len(external)
    for cp in external:
        failures.extend(_check_checkpoint(cp, "external", at_events, at_leaves, report.events,
                                          trusted_keys, boundary_positions))
        if cp.tree_size > state.tree_size:
            failures.append(Failure(
                "external", f"the seal tables hold {state.tree_size} leaves, fewer than the "
                f"{cp.tree_size} of the {cp.label()} kept elsewhere: they were truncated or "
                "rewritten"))
        elif (cp.problem(None) is None and cp.tree_size in at_leaves.roots
              and at_leaves.roots[cp.tree_size] != cp.root_hash):
            failures.append(Failure(
                "external", f"the leaf table does not give the root of the {cp.label()} kept "
                "elsewhere: the seal tables were rewritten"))
    report.failures = failures
    return report


#: Changed entries up to this many are searched pairwise for topics and states moved
#: between events (a swap that keeps each row's id and version).
_SWAP_SEARCH_LIMIT = 64


def _content_moves(changed: list[tuple[int, int, bytes, bytes]],
                   rows: dict[int, EventRow]) -> dict[int, int]:
    """For changed entries: position p -> position q when the topic and state now at q are
    what was sealed at p (under p's id and version)."""
    sealed = {position: r for _, position, _, r in changed if position in rows}
    moves: dict[int, int] = {}
    for p, r in sealed.items():
        mine = rows[p]
        for q, other in rows.items():
            if q != p and event_leaf_hash(mine.originator_id, mine.originator_version,
                                          other.topic, other.state) == r:
                moves[p] = q
                break
    return moves


def _classify(changed: list[tuple[int, int, bytes, bytes]], missing: list[tuple[int, int, bytes]],
              inserted: list[tuple[int, bytes]], displaced: list[tuple[int, bytes]],
              recorded_bad: dict[bytes, tuple[int, int]], event_bad: dict[bytes, int],
              content_moves: dict[int, int], head: int) -> list[Failure]:
    """Name what happened to each entry whose event and leaf disagree."""
    out: list[Failure] = []
    for index, position, h, r in changed:
        q = content_moves.get(position)
        if q is not None:
            if content_moves.get(q) == position:
                out.append(Failure("swapped", f"its topic and state were swapped with those "
                                   f"of position {q}", index, position))
            else:
                out.append(Failure("moved", f"its sealed topic and state are now at position "
                                   f"{q}", index, position))
        elif h in recorded_bad:
            j, q = recorded_bad[h]
            if event_bad.get(r) == q:
                out.append(Failure("swapped", f"holds the event sealed at position {q} "
                                   f"(leaf {j}), which holds the event sealed here",
                                   index, position))
            else:
                out.append(Failure("moved", f"holds the event sealed at position {q} "
                                   f"(leaf {j})", index, position, moved_from=q))
        elif r in event_bad:
            out.append(Failure("inserted", f"holds an event that was never sealed; the event "
                               f"sealed here is now at position {event_bad[r]}",
                               index, position))
        else:
            out.append(Failure("changed", "the stored event (its state bytes, id, version or "
                               "topic) differs from the sealed leaf", index, position))
    for index, position, r in missing:
        if r in event_bad:
            out.append(Failure("moved", f"the event sealed here is now at position "
                               f"{event_bad[r]}", index, position))
        elif position > head:
            out.append(Failure("truncated", "the event sealed here is gone: the log's tail "
                               "was truncated", index, position))
        else:
            out.append(Failure("deleted", "no event at this position: the event sealed here "
                               "was deleted", index, position))
    for position, h in inserted:
        if h in recorded_bad:
            j, q = recorded_bad[h]
            out.append(Failure("moved", f"holds the event sealed at position {q} (leaf {j})",
                               None, position, moved_from=q))
        else:
            out.append(Failure("inserted", "an event that was never sealed, inside the sealed "
                               "range", None, position))
    for position, h in displaced:
        j, q = recorded_bad[h]
        out.append(Failure("moved", f"holds the event sealed at position {q} (leaf {j}), "
                           "after the sealed range", None, position, moved_from=q))
    out.sort(key=lambda f: (f.position if f.position is not None else -1,
                            f.leaf_index if f.leaf_index is not None else -1))
    return out


def _check_checkpoint(cp: Checkpoint, kind: str, at_events: _Sizes, at_leaves: _Sizes,
                      events: int, trusted_keys: Collection[str] | None,
                      boundary_positions: dict[int, int]) -> list[Failure]:
    """Check one checkpoint against the recomputed tree. Its perfect subtrees' roots tell a
    truncated tail (every complete subtree still matches) from events deleted or changed
    before it and, when the leaf table no longer gives the checkpoint's root either (the seal
    was rewritten, so the entry-by-entry comparison cannot be trusted), narrow the damage down
    to the subtrees that differ."""
    where = "kept elsewhere" if kind == "external" else "recorded in the store"
    problem = cp.problem(trusted_keys)
    if problem is not None:
        return [Failure("signature", f"the {cp.label()} {where} cannot be trusted: {problem}")]
    root = at_events.roots.get(cp.tree_size) if cp.tree_size <= events else None
    if root == cp.root_hash:
        return []
    ranges = _subtree_ranges(cp.tree_size)
    differing: list[tuple[int, int]] = []
    matching_end = 0
    known = len(cp.subtree_roots) == len(ranges)
    for k, (lo, hi) in enumerate(ranges):
        if not known or hi > events:
            break
        if at_events.states[hi][k] != cp.subtree_roots[k]:
            differing.append((lo, hi))
        elif not differing:
            matching_end = hi
    failures: list[Failure] = []
    if cp.tree_size > events:
        last = (f" (its last event was at position {cp.last_position})"
                if cp.last_position else "")
        if known and not differing:
            failures.append(Failure(
                "truncated", f"the {cp.label()} {where} covers {cp.tree_size} events, the store "
                f"holds {events}: the log's tail was truncated{last}"
                + (f"; leaves 0..{matching_end - 1} still match it" if matching_end else ""),
                events, None, cp.tree_size - 1))
        else:
            failures.append(Failure(
                kind, f"the {cp.label()} {where} covers {cp.tree_size} events, the store holds "
                f"{events}: sealed events were deleted, or the log's tail truncated{last}"))
    else:
        got = root.hex() if root is not None else "?"
        failures.append(Failure(
            kind, f"the events do not give the root of the {cp.label()} {where} "
            f"({got} instead of {cp.root_hash.hex()})"))
    if at_leaves.roots.get(cp.tree_size) == cp.root_hash:
        return failures  # the leaf table holds: the entries reported from it are exact
    for lo, hi in differing:
        failures.append(Failure(
            kind, f"these entries differ from the {cp.label()} {where}",
            lo, boundary_positions.get(lo), hi - 1, boundary_positions.get(hi - 1)))
    return failures


# ===================================================================================
# Proofs
# ===================================================================================
class PackedHashes(Sequence[bytes]):
    """32-byte hashes packed in one bytearray (32 bytes a leaf, no per-item overhead)."""

    def __init__(self) -> None:
        self._data = bytearray()

    def append(self, h: bytes) -> None:
        self._data += h

    def __len__(self) -> int:
        return len(self._data) // HASH_SIZE

    @overload
    def __getitem__(self, index: int) -> bytes: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[bytes]: ...

    def __getitem__(self, index: int | slice) -> bytes | Sequence[bytes]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        start = index * HASH_SIZE
        if start < 0:
            start += len(self._data)
        h = bytes(self._data[start:start + HASH_SIZE])
        if start < 0 or len(h) != HASH_SIZE:
            raise IndexError(index)
        return h


def _recomputed_leaves(store: SealStore, size: int,
                       position: int | None = None) -> tuple[PackedHashes, int | None]:
    """The leaf hashes of the first ``size`` stored events, and the leaf index of the event at
    ``position`` among them (None if it is not)."""
    hashes = PackedHashes()
    index = None
    for batch in store.iter_events():
        for row in batch:
            if len(hashes) == size:
                return hashes, index
            if row.position == position:
                index = len(hashes)
            hashes.append(row.leaf_hash())
    return hashes, index


def _trust(cp: Checkpoint, what: str, trusted_keys: Collection[str] | None) -> None:
    problem = cp.problem(trusted_keys)
    if problem is not None:
        raise VerificationFailed(f"the {what} {cp.label()} cannot be trusted: {problem}")


def inclusion_proof_document(app: DialogueLedger, position: int, cp: Checkpoint, *,
                             trusted_keys: Collection[str] | None = None,
                             redact_credentials: bool = False,
                             ) -> tuple[dict[str, Any], bool]:
    """An RFC 9162 inclusion proof that the event stored at ``position`` is in the tree of
    ``cp``, as the JSON ``python -m replay.proofcheck inclusion`` reads (plus the event and
    the checkpoint), and whether it verifies. Computed from the events as stored now. With
    ``redact_credentials`` (for auditors), an event holding credential material is given as
    in the auditors' export (:data:`CREDENTIAL_FIELDS`); the proof is of its leaf hash."""
    _trust(cp, "given", trusted_keys)
    store = SealStore(app)
    event = store.event_at(position)
    if event is None:
        raise SealError(f"no event is stored at position {position}", position=position)
    hashes, index = _recomputed_leaves(store, cp.tree_size, position)
    if len(hashes) < cp.tree_size:
        raise VerificationFailed(
            f"the store holds {len(hashes)} events, fewer than the {cp.tree_size} the "
            f"{cp.label()} covers: the log was truncated")
    if index is None:
        raise SealError(f"position {position} is not in the tree of the {cp.label()} (it "
                        "was recorded later): take a newer checkpoint", position=position)
    proof = inclusion_proof(hashes, index, cp.tree_size)
    leaf = event.leaf_hash()
    doc = {
        "leaf_hash": leaf.hex(), "index": index, "tree_size": cp.tree_size,
        "proof": [p.hex() for p in proof], "root_hash": cp.root_hash.hex(),
        "position": position,
        "event": (_redacted_json(event, CREDENTIAL_FIELDS[event.topic])
                  if redact_credentials and event.topic in CREDENTIAL_FIELDS
                  else _event_json(event, embed=False)),
        "checkpoint": cp.to_json(),
    }
    return doc, verify_inclusion(leaf, index, cp.tree_size, proof, cp.root_hash)


def consistency_proof_document(app: DialogueLedger, old: Checkpoint, new: Checkpoint, *,
                               trusted_keys: Collection[str] | None = None
                               ) -> tuple[dict[str, Any], bool]:
    """An RFC 9162 consistency proof from checkpoint ``old`` to checkpoint ``new``, as the JSON
    ``python -m replay.proofcheck consistency`` reads (plus both checkpoints), and whether it
    verifies. Computed from the events as stored now."""
    _trust(old, "--from", trusted_keys)
    _trust(new, "--to", trusted_keys)
    if old.tree_size > new.tree_size:
        if new.timestamp > old.timestamp:
            raise VerificationFailed(
                f"the log shrank: the --to {new.label()} was signed after the --from "
                f"{old.label()} but holds fewer events; history was truncated or rewritten")
        raise InvalidInput(f"the --from checkpoint (size {old.tree_size}) is newer than the "
                           f"--to checkpoint (size {new.tree_size}): swap them")
    store = SealStore(app)
    hashes, _ = _recomputed_leaves(store, new.tree_size)
    if len(hashes) < new.tree_size:
        raise VerificationFailed(
            f"the store holds {len(hashes)} events, fewer than the {new.tree_size} the "
            f"{new.label()} covers: the log was truncated")
    proof = consistency_proof(hashes, old.tree_size, new.tree_size)
    doc = {
        "old_size": old.tree_size, "new_size": new.tree_size,
        "old_root": old.root_hash.hex(), "new_root": new.root_hash.hex(),
        "proof": [p.hex() for p in proof],
        "from_checkpoint": old.to_json(), "to_checkpoint": new.to_json(),
    }
    return doc, verify_consistency(old.tree_size, new.tree_size, old.root_hash,
                                   new.root_hash, proof)


# ===================================================================================
# Event log export and import (JSON Lines)
# ===================================================================================
def _event_json(row: EventRow, embed: bool = True) -> dict[str, Any]:
    """One exported event. ``state`` embeds the stored JSON when re-encoding it gives the very
    same bytes (as orjson's own output does); otherwise, or unless ``embed``, ``state_b64``
    holds the bytes."""
    out: dict[str, Any] = {
        "position": row.position, "originator_id": row.originator_id,
        "originator_version": row.originator_version, "topic": row.topic,
    }
    try:
        exact = embed and orjson.dumps(orjson.loads(row.state)) == row.state
    except orjson.JSONDecodeError:
        exact = False
    if exact:
        out["state"] = orjson.Fragment(row.state)
    else:
        out["state_b64"] = base64.b64encode(row.state).decode()
    return out


#: Stored events that hold credential material, and the fields that are: API tokens issued
#: before credentials were kept beside the events recorded the token's SHA-256 digest and
#: label in their ``Issued`` event (``api/tokens.py``).
CREDENTIAL_FIELDS: dict[str, tuple[str, ...]] = {
    "api.tokens:ApiToken.Issued": ("digest", "label"),
}


def _redacted_json(row: EventRow, fields: tuple[str, ...]) -> dict[str, Any]:
    """An event that holds credential material, for an export that must not: its state
    without ``fields``, the names of the fields left out (``redacted``), and the event's
    Merkle leaf hash (``leaf_hash``, hex), which is what inclusion proofs and checkpoint
    roots are computed from, so the event still verifies without its bytes."""
    out = _event_json(row, embed=False)
    del out["state_b64"]
    try:
        state = orjson.loads(row.state)
    except orjson.JSONDecodeError:
        state = None
    out["state"] = ({k: v for k, v in state.items() if k not in fields}
                    if isinstance(state, dict) else None)
    out["redacted"] = list(fields) if isinstance(state, dict) else ["state"]
    out["leaf_hash"] = row.leaf_hash().hex()
    return out


def export_events(app: DialogueLedger, out: IO[bytes], *, batch_size: int = BATCH_SIZE,
                  progress: Progress | None = None, redact_credentials: bool = False) -> int:
    """Write every stored event, in position order, as JSON Lines; return how many.

    Streams in batches, so memory does not grow with the ledger. ``progress`` is called with
    the positions each batch advanced. With ``redact_credentials`` (the auditors' export),
    events holding credential material (:data:`CREDENTIAL_FIELDS`) are written without it
    (:func:`_redacted_json`); such an export verifies but cannot be imported.
    """
    store = SealStore(app)
    count = last = 0

    def line(row: EventRow) -> bytes:
        fields = CREDENTIAL_FIELDS.get(row.topic) if redact_credentials else None
        return orjson.dumps(_event_json(row) if fields is None
                            else _redacted_json(row, fields)) + b"\n"

    for batch in store.iter_events(0, store.head(), batch_size):
        out.write(b"".join(line(row) for row in batch))
        count += len(batch)
        if progress is not None:
            progress(batch[-1].position - last)
        last = batch[-1].position
    return count


@dataclass(frozen=True)
class ImportResult:
    events: int
    first_position: int
    last_position: int


def _parse_line(line: bytes, number: int) -> tuple[int, StoredEvent]:
    def bad(reason: str) -> InvalidInput:
        return InvalidInput(f"line {number}: {reason}", line=number)

    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise bad(f"not JSON ({error})") from None
    if not isinstance(doc, dict):
        raise bad("not a JSON object")
    position = doc.get("position")
    version = doc.get("originator_version")
    oid = doc.get("originator_id")
    topic = doc.get("topic")
    if not isinstance(position, int) or isinstance(position, bool) or position < 1:
        raise bad("position must be a positive integer")
    if not isinstance(version, int) or isinstance(version, bool):
        raise bad("originator_version must be an integer")
    if not isinstance(oid, str) or not oid:
        raise bad("originator_id must be a string")
    if not isinstance(topic, str):
        raise bad("topic must be a string")
    if "redacted" in doc:
        raise bad("this event was exported without its credential fields (an auditors' "
                  "export); only a full export ('export events') can be imported")
    if ("state" in doc) == ("state_b64" in doc):
        raise bad("exactly one of state and state_b64 is needed")
    if "state" in doc:
        state = orjson.dumps(doc["state"])
    else:
        encoded = doc["state_b64"]
        if not isinstance(encoded, str):
            raise bad("state_b64 must be a base64 string")
        try:
            state = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise bad("state_b64 must be a base64 string") from None
    originator: UUID | str
    try:
        originator = UUID(oid)
    except ValueError:
        originator = oid
    if str(originator) != oid:  # not the canonical text of a UUID: keep it as it was
        originator = oid
    return position, StoredEvent(originator_id=originator, originator_version=version,
                                 topic=topic, state=state)


def ensure_empty(app: DialogueLedger) -> SealStore:
    """Raise :class:`StoreNotEmpty` unless the store holds no events and no seal."""
    store = SealStore(app)
    head = store.head()
    if head:
        raise StoreNotEmpty(f"the store already holds events (up to position {head}); "
                            "events can only be imported into an empty store")
    if store.tables_exist() and store.leaf_count():
        raise StoreNotEmpty("the store has no events but its seal tables hold leaves; "
                            "import into a fresh store")
    return store


def import_events(app: DialogueLedger, lines: Iterable[bytes], *, batch_size: int = 1_000,
                  progress: Progress | None = None) -> ImportResult:
    """Insert the events of an export into ``app``'s store, which must be empty.

    Events go in through the application recorder's ``insert_events``, a batch per
    transaction, at the positions they had (gaps kept), so the seal of the imported store
    equals the original's. ``progress`` is called with the bytes read.
    """
    store = ensure_empty(app)
    inserter = _Inserter(store)
    batch: list[tuple[int, StoredEvent]] = []
    previous = 0
    for number, line in enumerate(lines, start=1):
        if progress is not None:
            progress(len(line))
        if not line.strip():
            continue
        position, event = _parse_line(line, number)
        if position <= previous:
            raise InvalidInput(f"line {number}: position {position} does not follow "
                               f"{previous}; positions must increase", line=number)
        if batch and (position != previous + 1 or len(batch) >= batch_size):
            inserter.insert(batch)
            batch = []
        batch.append((position, event))
        previous = position
    if batch:
        inserter.insert(batch)
    return ImportResult(inserter.count, inserter.first, previous)


class _Inserter:
    """Inserts runs of consecutive positions through the recorder, starting each run at its
    exported position: PostgreSQL by setting the notification id sequence, SQLite by storing
    the run's first event at its rowid."""

    def __init__(self, store: SealStore) -> None:
        self.store = store
        self.next: int | None = None if store.postgres else 1
        self.count = 0
        self.first = 0

    def insert(self, run: list[tuple[int, StoredEvent]]) -> None:
        store = self.store
        start = run[0][0]
        events = [e for _, e in run]
        expected = [p for p, _ in run]
        if self.next != start:
            if store.postgres:
                with store.transaction(commit=True) as c:
                    c.execute("SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), "
                              "%s, false)", (store.events, start))
            else:
                first = events[0]
                oid = first.originator_id
                with store.transaction(commit=True) as c:
                    c.execute(f"INSERT INTO {store.events} (rowid, originator_id, "
                              "originator_version, topic, state) VALUES (?, ?, ?, ?, ?)",
                              (start, oid.hex if isinstance(oid, UUID) else oid,
                               first.originator_version, first.topic, first.state))
                events, expected = events[1:], expected[1:]
        if events:
            ids = store.recorder.insert_events(events)
            if ids is not None and list(ids) != expected:
                raise SealError(f"the store gave positions {ids[0]}..{ids[-1]} to events "
                                f"exported at {expected[0]}..{expected[-1]}; is something "
                                "else writing to it?")
        if not self.count:
            self.first = start
        self.count += len(run)
        self.next = run[-1][0] + 1
