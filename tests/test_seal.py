"""Sealing the ledger as an RFC 6962 Merkle tree, and signed checkpoints.

The tree is the one :mod:`replay.merkle` computes over every stored event's leaf; sealing is
incremental and maps leaf indexes to positions across gaps; checkpoints are Ed25519-signed
tree heads that an auditor can check with the public key alone. Store tests run on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
import threading
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.application import DialogueLedger
from replay import seal as sealing
from replay.merkle import EMPTY_ROOT, MerkleAccumulator, leaf_hash, root_from_leaf_hashes
from replay.seal import Checkpoint, SealStore, canonical_id, encode_leaf, event_leaf_hash
from tests.conftest import Cli, pg_connect


# ===================================================================================
# Fixtures
# ===================================================================================
def record_people(app: DialogueLedger, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        # letters for digits: a 0 or 1 (look-alikes of o and l) would add a claim's event
        app.register_person("person" + "".join("abcdefghij"[int(d)] for d in str(i)),
                            f"Person {i}")


def recomputed_leaves(app: DialogueLedger) -> list[tuple[int, bytes]]:
    """(position, leaf hash) of every stored event, straight from the recorder."""
    return [(n.id, event_leaf_hash(str(n.originator_id), n.originator_version, n.topic,
                                   n.state))
            for n in app.recorder.select_notifications(1, 1_000_000)]


def leaf_table(app: DialogueLedger) -> list[tuple[int, int, bytes]]:
    store = SealStore(app)
    return [row for batch in store.iter_leaves(10**9) for row in batch]


def delete_event(env: dict[str, str], position: int) -> None:
    """Leave a gap in the positions, as a rolled-back transaction does on PostgreSQL."""
    if env["PERSISTENCE_MODULE"].endswith("sqlite"):
        con = sqlite3.connect(env["SQLITE_DBNAME"])
        with con:
            con.execute("DELETE FROM stored_events WHERE rowid = ?", (position,))
        con.close()
    else:
        with pg_connect() as conn:
            conn.execute(f'DELETE FROM "{env["POSTGRES_SCHEMA"]}".dialogueledger_events '
                         "WHERE notification_id = %s", (position,))


# ===================================================================================
# Leaves
# ===================================================================================
def test_the_leaf_encoding_is_length_prefixed_so_fields_cannot_run_into_each_other() -> None:
    a = encode_leaf("id", 1, "topic", b"state")
    b = encode_leaf("id", 1, "topi", b"cstate")
    c = encode_leaf("idt", 1, "opic", b"state")
    assert len({a, b, c}) == 3
    assert a == (b"\x01" + (2).to_bytes(4, "big") + b"id" + (1).to_bytes(8, "big")
                 + (5).to_bytes(4, "big") + b"topic" + (5).to_bytes(8, "big") + b"state")
    assert event_leaf_hash("id", 1, "topic", b"state") == leaf_hash(a)


def test_an_id_stored_as_hex_on_sqlite_or_as_uuid_on_postgresql_seals_alike() -> None:
    uid = uuid4()
    assert canonical_id(uid.hex) == canonical_id(uid) == str(uid)
    assert canonical_id(uid.hex.upper()) != str(uid)  # not how SQLite stores it: kept as is


# ===================================================================================
# Sealing
# ===================================================================================
def test_sealing_appends_only_new_events_and_gives_the_root_of_all_of_them(
        ledger: DialogueLedger) -> None:
    assert sealing.seal(ledger).root_hash == EMPTY_ROOT
    record_people(ledger, 5)
    first = sealing.seal(ledger)
    assert (first.tree_size, first.added, first.last_position) == (5, 5, ledger.position)
    record_people(ledger, 7, start=5)
    second = sealing.seal(ledger, batch_size=3)  # several batches, one transaction each
    assert (second.tree_size, second.added) == (12, 7)
    assert sealing.seal(ledger).added == 0

    leaves = recomputed_leaves(ledger)
    assert second.root_hash == root_from_leaf_hashes([h for _, h in leaves])
    assert leaf_table(ledger) == [(i, p, h) for i, (p, h) in enumerate(leaves)]
    state = SealStore(ledger).read_state()
    acc = MerkleAccumulator()
    acc.extend(h for _, h in leaves)
    assert state.subtree_roots == tuple(acc.to_state())


def test_leaf_indexes_map_to_positions_across_gaps(
        ledger: DialogueLedger, store_env: dict[str, str]) -> None:
    record_people(ledger, 6)
    delete_event(store_env, 3)
    result = sealing.seal(ledger)
    assert result.tree_size == 5
    assert [(i, p) for i, p, _ in leaf_table(ledger)] == [(0, 1), (1, 2), (2, 4), (3, 5),
                                                          (4, 6)]
    assert sealing.verify(ledger).ok


def test_concurrent_sealers_take_turns_and_build_one_tree(
        make_ledger: type[DialogueLedger]) -> None:
    writer = make_ledger()
    sealers = [make_ledger() for _ in range(3)]
    errors: list[BaseException] = []
    done = threading.Event()

    def keep_sealing(app: DialogueLedger) -> None:
        try:
            while not done.is_set():
                sealing.seal(app, batch_size=2)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=keep_sealing, args=(app,)) for app in sealers]
    for thread in threads:
        thread.start()
    try:
        record_people(writer, 20)
    finally:
        done.set()
        for thread in threads:
            thread.join()
    assert not errors
    result = sealing.seal(writer)
    assert result.tree_size == 20
    assert result.root_hash == root_from_leaf_hashes([h for _, h in recomputed_leaves(writer)])
    assert sealing.verify(writer).ok


# ===================================================================================
# Checkpoints and keys
# ===================================================================================
def test_a_checkpoint_is_signed_and_an_auditor_can_check_it_with_the_public_key_alone(
        ledger: DialogueLedger, cli: Cli) -> None:
    record_people(ledger, 4)
    code, out, _ = cli("checkpoint", "--out", "cp.json")
    assert code == 0
    assert "Checkpoint #1: 4 events" in out
    doc = json.loads((cli.folder / "cp.json").read_text())
    assert doc["tree_size"] == 4
    assert doc["root_hash"] == sealing.seal(ledger).root_hash.hex()
    assert doc["last_position"] == ledger.position

    # What an auditor does with the file and nothing else:
    public = serialization.load_pem_public_key(doc["public_key"].encode())
    assert isinstance(public, Ed25519PublicKey)
    message = (f"dialogue-ledger checkpoint v1\ntree_size {doc['tree_size']}\n"
               f"root_hash {doc['root_hash']}\ntimestamp {doc['timestamp']}\n"
               f"key_id {doc['key_id']}\n")
    assert message == doc["signed_message"]
    public.verify(base64.b64decode(doc["signature"]), message.encode())
    with pytest.raises(InvalidSignature):
        public.verify(base64.b64decode(doc["signature"]), message.replace("4", "5").encode())

    cp = Checkpoint.from_json(doc)
    assert cp.problem() is None
    assert cp.key_id == sealing.key_id_of(cp.public_key)
    assert Checkpoint(**{**cp.__dict__, "tree_size": 5}).problem() == \
        "the signature does not verify"
    assert sealing.latest_checkpoint(ledger) == cp


def test_the_signing_key_is_created_once_readable_by_its_owner_only_and_the_cli_says_so(
        ledger: DialogueLedger, cli: Cli) -> None:
    code, _, err = cli("checkpoint", "--out", "first.json")
    assert code == 0
    key_file = cli.folder / "signing-key.pem"
    assert "Created a new Ed25519 signing key in " + str(key_file) in err
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    code, _, err = cli("checkpoint", "--out", "second.json")
    assert code == 0 and "Created" not in err
    first, second = (Checkpoint.load(cli.folder / f) for f in ("first.json", "second.json"))
    assert first.key_id == second.key_id
    code, out, _ = cli("public-key")
    assert code == 0 and out.startswith("-----BEGIN PUBLIC KEY-----")
    assert sealing.key_id_of(sealing.load_public_key(key_file)) == first.key_id


def test_public_key_without_a_signing_key_is_a_clear_error(cli: Cli) -> None:
    code, _, err = cli("public-key")
    assert code == 2
    assert "seal-error: there is no signing key at" in err


def test_checkpoint_every_takes_count_checkpoints_and_keeps_each_file(
        ledger: DialogueLedger, cli: Cli) -> None:
    record_people(ledger, 2)
    code, out, _ = cli("checkpoint", "--every", "0.01", "--count", "3",
                       "--out", "cp-{id}-{tree_size}.json")
    assert code == 0
    assert sorted(p.name for p in cli.folder.glob("cp-*.json")) == [
        "cp-1-2.json", "cp-2-2.json", "cp-3-2.json"]
    assert [cp.id for cp in sealing.checkpoints(ledger)] == [1, 2, 3]
    assert out.count("Checkpoint #") == 3
    assert cli("checkpoint", "--count", "2")[0] == 2  # --count needs --every


def test_checkpoint_without_out_writes_its_json_to_stdout(ledger: DialogueLedger,
                                                          cli: Cli) -> None:
    record_people(ledger, 1)
    code, out, _ = cli("checkpoint")
    assert code == 0
    assert Checkpoint.from_json(json.loads(out)).tree_size == 1


def test_the_api_can_take_a_checkpoint_with_its_own_key(ledger: DialogueLedger,
                                                         tmp_path: Path) -> None:
    record_people(ledger, 3)
    key, created = sealing.load_signing_key(tmp_path / "api-key.pem")
    assert created
    cp = sealing.checkpoint(ledger, key, now=lambda: "2026-09-01T08:30:00.000000Z")
    assert (cp.tree_size, cp.timestamp, cp.id) == (3, "2026-09-01T08:30:00.000000Z", 1)
    assert cp.problem({cp.key_id}) is None
    assert cp.problem({"another key"}) is not None


# ===================================================================================
# verify and proof on a healthy store
# ===================================================================================
def test_events_recorded_after_the_last_seal_are_reported_but_do_not_fail(
        ledger: DialogueLedger, cli: Cli) -> None:
    record_people(ledger, 3)
    assert cli("checkpoint", "--out", "cp.json")[0] == 0
    record_people(ledger, 2, start=3)
    code, out, _ = cli("verify", "--checkpoint", "cp.json", "--quiet")
    assert code == 0
    assert "OK: 5 events, 3 sealed leaves" in out and "2 newer events are not sealed yet" in out
    code, out, _ = cli("verify", "--format", "json", "--quiet")
    report = json.loads(out)
    assert (report["ok"], report["unsealed"], report["failures"]) == (True, 2, [])


def test_verify_on_a_store_never_sealed_says_so(ledger: DialogueLedger, cli: Cli) -> None:
    record_people(ledger, 2)
    code, out, _ = cli("verify", "--quiet")
    assert code == 0
    assert "note: the seal tables do not exist" in out


def test_an_inclusion_proof_needs_an_event_in_the_checkpoints_tree(
        ledger: DialogueLedger, cli: Cli) -> None:
    record_people(ledger, 2)
    code, _, err = cli("proof", "inclusion", "--position", "1")
    assert code == 2 and "the store has no checkpoint yet" in err
    assert cli("checkpoint", "--out", "cp.json")[0] == 0
    record_people(ledger, 1, start=2)
    code, _, err = cli("proof", "inclusion", "--position", str(ledger.position))
    assert code == 2 and "was recorded later" in err
    code, _, err = cli("proof", "inclusion", "--position", "999")
    assert code == 2 and "no event is stored at position 999" in err
    code, out, _ = cli("proof", "inclusion", "--position", "2")
    doc = json.loads(out)
    assert (code, doc["index"], doc["tree_size"]) == (0, 1, 2)
    assert UUID(doc["event"]["originator_id"])


def test_a_consistency_proof_from_a_newer_checkpoint_is_bad_input(
        ledger: DialogueLedger, cli: Cli) -> None:
    record_people(ledger, 1)
    assert cli("checkpoint", "--out", "old.json")[0] == 0
    record_people(ledger, 1, start=1)
    assert cli("checkpoint", "--out", "new.json")[0] == 0
    code, _, err = cli("proof", "consistency", "--from", "new.json", "--to", "old.json")
    assert code == 2 and "swap them" in err
    code, out, _ = cli("proof", "consistency", "--from", "old.json")
    assert code == 0 and json.loads(out)["new_size"] == 2
