"""Files the product creates are its owner's alone (issue 14): the SQLite store with its WAL
and shared-memory files, exports, checkpoints and the signing key are 0600, whatever the
umask; an existing signing key that others may read is refused, with the fix in the message."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.application import DialogueLedger
from ledger.demo import record_demo
from replay import seal as sealing
from tests.conftest import Cli


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(name="open_umask")
def open_umask_fixture() -> Iterator[None]:
    """A umask that would make new files readable by everyone (0644)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_new_sqlite_store_and_its_wal_and_shm_files_are_readable_by_their_owner_only(
        tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "ledger.db"
    app = DialogueLedger({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                          "SQLITE_DBNAME": str(path)})
    try:
        record_demo(app)
        files = [Path(str(path) + suffix) for suffix in ("", "-wal", "-shm")]
        assert all(f.exists() for f in files), files
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        app.close()


def test_exports_and_checkpoints_written_by_the_cli_are_readable_by_their_owner_only(
        ledger: DialogueLedger, cli: Cli, open_umask: None) -> None:
    record_demo(ledger)
    for args in (("checkpoint", "--out", "checkpoint.json"),
                 ("export", "events", "--quiet", "--out", "events.jsonl"),
                 ("export", "moderation", "--format", "csv", "--out", "moderation.csv")):
        code, _, err = cli(*args)
        assert code == 0, err
        written = cli.folder / args[-1]
        assert mode(written) == 0o600, args
    assert mode(cli.folder / "signing-key.pem") == 0o600
    assert os.umask(0o022) == 0o022  # the CLI gave the caller's umask back


def test_the_cli_creates_a_new_sqlite_store_readable_by_its_owner_only(
        cli: Cli, tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "new.db"
    code, _, err = cli("demo", env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                                    "SQLITE_DBNAME": str(path)})
    assert code == 0, err
    assert mode(path) == 0o600


@pytest.mark.parametrize("loose", [0o640, 0o604, 0o660, 0o644])
def test_a_signing_key_others_may_read_is_refused_with_the_fix_in_the_message(
        ledger: DialogueLedger, cli: Cli, loose: int) -> None:
    key_file = cli.folder / "signing-key.pem"
    sealing.load_signing_key(key_file)  # created 0600
    os.chmod(key_file, loose)
    code, _, err = cli("checkpoint", "--out", "checkpoint.json")
    assert code != 0
    assert f"chmod 600 {key_file}" in err
    assert not (cli.folder / "checkpoint.json").exists()
    with pytest.raises(sealing.SealError, match="chmod 600"):
        sealing.load_signing_key(key_file)
    os.chmod(key_file, 0o600)
    code, _, err = cli("checkpoint", "--out", "checkpoint.json")
    assert code == 0, err
