"""Tampering directly with the database is detected: ``dialogue-ledger verify`` names every
failing entry (leaf index and position, and why) and exits 1; a checkpoint kept outside the
store catches rewritten or truncated seal tables; proofs stop verifying offline.

Every test runs on SQLite and on PostgreSQL. The store is filled with the demo dialogue's
stored events (recorded once per module), sealed and checkpointed through the CLI, then changed
with plain SQL: ``sqlite3`` on the file, ``psycopg`` on the test schema.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from ledger.application import DialogueLedger
from replay import seal as sealing
from replay.seal import Failure
from tests.conftest import Cli, pg_connect

REPO = Path(__file__).resolve().parents[1]
ENTRY_KINDS = {"changed", "deleted", "inserted", "moved", "swapped", "truncated"}


# ===================================================================================
# Fixtures
# ===================================================================================


class Tamper:
    """Plain SQL on the test's store, as someone with write access to the database would."""

    def __init__(self, env: dict[str, str]) -> None:
        self.sqlite = env["PERSISTENCE_MODULE"].endswith("sqlite")
        if self.sqlite:
            self.path = env["SQLITE_DBNAME"]
            self.names = {"events": "stored_events", "pos": "rowid", "leaves": "seal_leaves",
                          "state": "seal_state", "checkpoints": "seal_checkpoints"}
        else:
            schema = f'"{env["POSTGRES_SCHEMA"]}"'
            self.names = {"events": f"{schema}.dialogueledger_events", "pos": "notification_id",
                          "leaves": f"{schema}.seal_leaves", "state": f"{schema}.seal_state",
                          "checkpoints": f"{schema}.seal_checkpoints"}

    def sql(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        statement = statement.format(**self.names)
        if self.sqlite:
            con = sqlite3.connect(self.path)
            try:
                with con:
                    cursor = con.execute(statement, tuple(params))
                    return cursor.fetchall()
            finally:
                con.close()
        with pg_connect() as conn:
            pg_cursor = conn.execute(statement.replace("?", "%s"),
                                     tuple(params))
            return pg_cursor.fetchall() if pg_cursor.description else []

    def state(self, position: int) -> bytes:
        return bytes(self.sql("SELECT state FROM {events} WHERE {pos} = ?", [position])[0][0])

    def flip_byte(self, position: int, offset: int = 40) -> None:
        state = bytearray(self.state(position))
        state[offset] ^= 0x01
        self.sql("UPDATE {events} SET state = ? WHERE {pos} = ?", [bytes(state), position])

    def delete(self, *positions: int) -> None:
        for position in positions:
            self.sql("DELETE FROM {events} WHERE {pos} = ?", [position])

    def truncate_after(self, position: int) -> None:
        self.sql("DELETE FROM {events} WHERE {pos} > ?", [position])

    def swap(self, p: int, q: int) -> None:
        """Swap the topic and state of two events (each row keeps its id and version)."""
        (tp, sp), = self.sql("SELECT topic, state FROM {events} WHERE {pos} = ?", [p])
        (tq, sq), = self.sql("SELECT topic, state FROM {events} WHERE {pos} = ?", [q])
        self.sql("UPDATE {events} SET topic = ?, state = ? WHERE {pos} = ?", [tq, sq, p])
        self.sql("UPDATE {events} SET topic = ?, state = ? WHERE {pos} = ?", [tp, sp, q])

    def shift_up_from(self, position: int) -> None:
        """Renumber every event at ``position`` or later one up, freeing ``position``."""
        self.sql("UPDATE {events} SET {pos} = -{pos} WHERE {pos} >= ?", [position])
        self.sql("UPDATE {events} SET {pos} = 1 - {pos} WHERE {pos} < 0")

    def insert(self, position: int, event: StoredEvent) -> None:
        oid = event.originator_id
        self.sql("INSERT INTO {events} ({pos}, originator_id, originator_version, topic, state) "
                 "VALUES (?, ?, ?, ?, ?)",
                 [position, oid.hex if self.sqlite and isinstance(oid, UUID) else oid,
                  event.originator_version, event.topic, event.state])

    def wipe_seal(self) -> None:
        """Empty the seal's own tables, as someone covering their tracks would."""
        for table in ("{leaves}", "{state}", "{checkpoints}"):
            self.sql(f"DELETE FROM {table}")


@pytest.fixture
def tamper(store_env: dict[str, str]) -> Tamper:
    return Tamper(store_env)


@pytest.fixture
def sealed(ledger: DialogueLedger, demo_events: list[StoredEvent], cli: Cli) -> DialogueLedger:
    """The demo's events in the store, sealed, with a checkpoint in ``cp.json``."""
    ledger.recorder.insert_events(demo_events)
    code, _, err = cli("checkpoint", "--out", "cp.json")
    assert code == 0, err
    return ledger


def forged_event(demo_events: list[StoredEvent]) -> StoredEvent:
    """A plausible post that was never recorded."""
    post = next(e for e in demo_events if e.topic.endswith("Post.Published"))
    state = post.state.replace(b'"body":"', b'"body":"The organisation was right. ', 1)
    return StoredEvent(originator_id=uuid4(), originator_version=1, topic=post.topic,
                       state=state)


def entries(report: sealing.VerifyReport) -> list[tuple[str, int | None, int | None]]:
    """The entry-level failures: (kind, leaf index, position)."""
    return [(f.kind, f.leaf_index, f.position) for f in report.failures
            if f.kind in ENTRY_KINDS and "checkpoint" not in f.detail]


def kinds(report: sealing.VerifyReport) -> set[str]:
    return {f.kind for f in report.failures}


def auditors_leaf_hash(event: dict[str, Any]) -> str:
    """The leaf hash from a proof's event, with the standard library only, as
    docs/tamper-evidence.md shows an auditor."""
    oid, topic = event["originator_id"].encode(), event["topic"].encode()
    state = base64.b64decode(event["state_b64"])
    data = (b"\x01" + struct.pack(">I", len(oid)) + oid
            + struct.pack(">q", event["originator_version"])
            + struct.pack(">I", len(topic)) + topic + struct.pack(">Q", len(state)) + state)
    return hashlib.sha256(b"\x00" + data).hexdigest()


def proofcheck(kind: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "replay.proofcheck", kind, str(path)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


N = 379  # events in the demo dialogue (five handles hold a look-alike claim; one slug record)


# ===================================================================================
# An untouched ledger
# ===================================================================================
def test_an_untouched_ledger_verifies_against_its_seal_and_an_external_checkpoint(
        sealed: DialogueLedger, demo_events: list[StoredEvent], cli: Cli) -> None:
    assert len(demo_events) == N
    code, out, _ = cli("verify", "--checkpoint", "cp.json", "--quiet")
    assert code == 0, out
    assert out.startswith(f"OK: {N} events, {N} sealed leaves (up to position {N}), "
                          "1 recorded checkpoints, 1 kept elsewhere")


# ===================================================================================
# Tampering with the events
# ===================================================================================
def test_one_changed_byte_of_an_event_is_reported_at_its_leaf_and_position(
        sealed: DialogueLedger, tamper: Tamper, cli: Cli) -> None:
    tamper.flip_byte(120)
    report = sealing.verify(sealed)
    assert entries(report) == [("changed", 119, 120)]
    assert "checkpoint" in kinds(report)  # the recorded checkpoint's root no longer holds
    code, out, _ = cli("verify", "--quiet")
    assert code == 1
    assert "changed: leaf 119, position 120: the stored event" in out


def test_a_deleted_event_is_reported_as_deleted(
        sealed: DialogueLedger, tamper: Tamper, cli: Cli) -> None:
    tamper.delete(200)
    assert entries(sealing.verify(sealed)) == [("deleted", 199, 200)]
    code, out, _ = cli("verify", "--quiet")
    assert code == 1
    assert "deleted: leaf 199, position 200: no event at this position" in out


def test_an_event_inserted_into_a_gap_is_reported_as_inserted(
        ledger: DialogueLedger, demo_events: list[StoredEvent], tamper: Tamper,
        cli: Cli) -> None:
    ledger.recorder.insert_events(demo_events)
    tamper.delete(150)  # a gap in the positions, as a rolled-back transaction leaves
    assert cli("checkpoint", "--out", "cp.json")[0] == 0
    assert cli("verify", "--quiet")[0] == 0
    tamper.insert(150, forged_event(demo_events))
    report = sealing.verify(ledger)
    assert entries(report) == [("inserted", None, 150)]
    code, out, _ = cli("verify", "--quiet")
    assert code == 1
    assert "inserted: position 150: an event that was never sealed, inside the sealed range" \
        in out


def test_an_event_inserted_by_renumbering_the_later_ones_is_reported_with_the_shift(
        sealed: DialogueLedger, demo_events: list[StoredEvent], tamper: Tamper,
        cli: Cli) -> None:
    tamper.shift_up_from(300)
    tamper.insert(300, forged_event(demo_events))
    report = sealing.verify(sealed)
    found = entries(report)
    assert found[0] == ("inserted", 299, 300)
    assert found[1:-1] == [("moved", leaf, leaf + 1) for leaf in range(300, N)]
    assert found[-1] == ("moved", None, N + 1)  # the last sealed event, now past the seal
    assert all(f.position is not None and f.moved_from == f.position - 1
               for f in report.failures if f.kind == "moved")
    code, out, _ = cli("verify", "--quiet")
    assert code == 1
    assert "inserted: leaf 299, position 300: holds an event that was never sealed" in out
    assert (f"moved: leaves 300..{N - 1}, positions 301..{N + 1}: hold the events sealed at "
            f"positions 300..{N}: shifted by +1") in out


def test_two_swapped_events_are_reported_as_swapped(
        sealed: DialogueLedger, tamper: Tamper, cli: Cli) -> None:
    tamper.swap(100, 250)
    assert entries(sealing.verify(sealed)) == [("swapped", 99, 100), ("swapped", 249, 250)]
    code, out, _ = cli("verify", "--quiet")
    assert code == 1
    assert "swapped: leaf 99, position 100: its topic and state were swapped with those of " \
           "position 250" in out


def test_a_tail_truncated_after_a_checkpoint_is_reported_entry_by_entry(
        sealed: DialogueLedger, tamper: Tamper, cli: Cli) -> None:
    tamper.truncate_after(N - 10)
    report = sealing.verify(sealed)
    assert entries(report) == [("truncated", leaf, leaf + 1) for leaf in range(N - 10, N)]
    assert any(f.kind == "truncated" and "checkpoint #1" in f.detail for f in report.failures)
    code, out, _ = cli("verify", "--quiet")
    assert code == 1
    assert (f"truncated: leaves {N - 10}..{N - 1}, positions {N - 9}..{N}: the event sealed "
            "here is gone") in out


# ===================================================================================
# Rewriting the seal too: only a checkpoint kept elsewhere catches it
# ===================================================================================
def test_a_truncated_tail_with_the_seal_tables_truncated_to_match_is_caught_by_the_external_checkpoint(  # noqa: E501
        sealed: DialogueLedger, tamper: Tamper, cli: Cli) -> None:
    tamper.truncate_after(N - 10)
    tamper.wipe_seal()
    assert cli("checkpoint", "--out", "forged.json")[0] == 0  # resealed and signed again
    code, out, _ = cli("verify", "--quiet")
    assert code == 0, "with its own tables rewritten, the store alone cannot tell"
    code, out, _ = cli("verify", "--checkpoint", "cp.json", "--quiet")
    assert code == 1
    assert f"truncated: leaves {N - 10}..{N - 1}: the checkpoint #1 (size {N}, signed" in out
    assert f"covers {N} events, the store holds {N - 10}" in out
    assert f"the seal tables hold {N - 10} leaves, fewer than the {N}" in out
    # A consistency proof from the kept checkpoint to the new one cannot be made either.
    code, _, err = cli("proof", "consistency", "--from", "cp.json", "--to", "forged.json")
    assert code == 1
    assert "verification-failed: the log shrank" in err


def test_a_changed_event_with_the_seal_rewritten_is_caught_and_narrowed_by_the_external_checkpoint(
        sealed: DialogueLedger, tamper: Tamper, cli: Cli) -> None:
    tamper.flip_byte(120)
    tamper.wipe_seal()
    assert cli("checkpoint", "--out", "forged.json")[0] == 0
    assert cli("verify", "--quiet")[0] == 0
    external = sealing.Checkpoint.load(cli.folder / "cp.json")
    report = sealing.verify(sealed, [external])
    failed = [f for f in report.failures if f.kind == "external"]
    assert any("the events do not give the root" in f.detail for f in failed)
    # 379 leaves = subtrees of 256, 64, 32, 16, 8, 2 and 1: leaf 119 lies in the first.
    ranges = [(f.leaf_index, f.last_leaf_index) for f in failed if f.leaf_index is not None]
    assert ranges == [(0, 255)]
    assert any("the seal tables were rewritten" in f.detail for f in failed)
    assert cli("verify", "--checkpoint", "cp.json", "--quiet")[0] == 1


# ===================================================================================
# Checkpoints and their signatures
# ===================================================================================
def test_a_forged_signature_on_a_recorded_checkpoint_is_reported(
        sealed: DialogueLedger, tamper: Tamper, cli: Cli) -> None:
    (signature,), = tamper.sql("SELECT signature FROM {checkpoints}")
    forged = bytearray(bytes(signature))
    forged[0] ^= 0x01
    tamper.sql("UPDATE {checkpoints} SET signature = ?", [bytes(forged)])
    report = sealing.verify(sealed)
    assert [(f.kind, f.detail) for f in report.failures] == [
        ("signature", f"the {report_label(sealed)} recorded in the store cannot be trusted: "
                      "the signature does not verify")]
    code, out, _ = cli("verify", "--quiet")
    assert code == 1
    assert "signature: the checkpoint #1" in out


def report_label(app: DialogueLedger) -> str:
    latest = sealing.latest_checkpoint(app)
    assert latest is not None
    return latest.label()


def test_an_external_checkpoint_with_a_forged_root_fails_its_signature(
        sealed: DialogueLedger, cli: Cli) -> None:
    doc = json.loads((cli.folder / "cp.json").read_text())
    doc["root_hash"] = "00" * 32
    del doc["signed_message"]
    del doc["subtree_roots"]
    (cli.folder / "forged.json").write_text(json.dumps(doc))
    code, out, _ = cli("verify", "--checkpoint", "forged.json", "--quiet")
    assert code == 1
    assert "signature: the checkpoint #1" in out and "kept elsewhere" in out
    assert "the signature does not verify" in out


def test_checkpoints_signed_by_another_key_are_not_trusted(
        sealed: DialogueLedger, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("public-key", "--out", "published.pem")[0] == 0
    monkeypatch.setenv("LEDGER_SIGNING_KEY", str(cli.folder / "intruder.pem"))
    assert cli("checkpoint", "--out", "intruder.json")[0] == 0
    code, out, _ = cli("verify", "--public-key", "published.pem", "--quiet")
    assert code == 1
    assert "signature: the checkpoint #2" in out and "which is not a trusted key" in out


def test_a_malformed_checkpoint_file_is_a_clear_error_with_exit_2(cli: Cli,
                                                                  sealed: DialogueLedger) -> None:
    (cli.folder / "broken.json").write_text('{"format": "something else"}')
    code, _, err = cli("verify", "--checkpoint", "broken.json")
    assert code == 2
    assert "bad-checkpoint" in err and "format" in err


# ===================================================================================
# Proofs checked offline
# ===================================================================================
def test_an_inclusion_proof_verifies_offline_and_fails_after_tampering(
        sealed: DialogueLedger, tamper: Tamper, cli: Cli) -> None:
    code, out, _ = cli("proof", "inclusion", "--position", "42", "--out", "inclusion.json")
    assert code == 0, out
    doc = json.loads((cli.folder / "inclusion.json").read_text())
    assert (doc["index"], doc["tree_size"], doc["position"]) == (41, N, 42)
    assert doc["root_hash"] == doc["checkpoint"]["root_hash"]
    checked = proofcheck("inclusion", cli.folder / "inclusion.json")
    assert (checked.returncode, checked.stdout.strip()) == (0, "OK")
    assert auditors_leaf_hash(doc["event"]) == doc["leaf_hash"]

    tamper.flip_byte(42)
    code, _, err = cli("proof", "inclusion", "--position", "42", "--checkpoint", "cp.json",
                       "--out", "tampered.json")
    assert code == 1
    assert "does not verify" in err
    checked = proofcheck("inclusion", cli.folder / "tampered.json")
    assert checked.returncode == 1 and checked.stdout.startswith("FAILED")


def test_a_consistency_proof_verifies_offline_and_fails_after_tampering(
        sealed: DialogueLedger, tamper: Tamper, cli: Cli) -> None:
    sealed.register_person("newcoder", "A Newcoder")  # handles without a look-alike claim
    sealed.register_person("latecoder", "A Latecoder")
    assert cli("checkpoint", "--out", "later.json")[0] == 0
    code, _, _ = cli("proof", "consistency", "--from", "cp.json", "--to", "later.json",
                     "--out", "consistency.json")
    assert code == 0
    doc = json.loads((cli.folder / "consistency.json").read_text())
    assert (doc["old_size"], doc["new_size"]) == (N, N + 2)
    checked = proofcheck("consistency", cli.folder / "consistency.json")
    assert (checked.returncode, checked.stdout.strip()) == (0, "OK")

    tamper.flip_byte(7)
    code, _, _ = cli("proof", "consistency", "--from", "cp.json", "--out", "tampered.json")
    assert code == 1
    checked = proofcheck("consistency", cli.folder / "tampered.json")
    assert checked.returncode == 1 and checked.stdout.startswith("FAILED")


def test_failures_are_listed_in_ledger_order(sealed: DialogueLedger, tamper: Tamper) -> None:
    tamper.flip_byte(300)
    tamper.delete(20)
    tamper.flip_byte(5)
    found = [f for f in sealing.verify(sealed).failures if f.kind in ENTRY_KINDS]
    assert [(f.kind, f.position) for f in found] == [
        ("changed", 5), ("deleted", 20), ("changed", 300)]
    assert all(isinstance(f, Failure) and f.where() for f in found)
