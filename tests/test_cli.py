"""The command line, run as a user runs it: demo, status, rebuild and the report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from ledger.cli import main


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ledger.db"
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.sqlite")
    monkeypatch.setenv("SQLITE_DBNAME", str(path))
    return path


def test_the_demo_records_a_story_of_several_hundred_events_once(
        store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    events = int(out.split("events", 1)[1].split()[0])
    assert events >= 300
    for kind in ("Nomination.Decided", "Post.Edited", "Post.Retracted", "Post.Acknowledged",
                 "Commitment.Fulfilled", "ModerationDecision.AppealDecided"):
        assert kind in out
    assert main(["demo", "--if-empty"]) == 0
    assert "not recording the demo again" in capsys.readouterr().out
    assert main(["status"]) == 0
    assert f"{events} events" in capsys.readouterr().out


def test_the_report_on_the_demo_shows_the_story(
        store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["demo"])
    capsys.readouterr()
    args = ["report", "listening", "--community", "northwind-voices", "--from", "2026-09-01",
            "--to", "2026-11-01", "--now", "2026-11-01"]
    assert main([*args, "--format", "json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    period = report["period"]
    assert period["commitments"]["fulfilled"] == 1
    assert period["moderation"]["appeals"]["reversed"] == 1
    assert period["unanswered"], "the demo leaves some threads unanswered"
    assert any(p["thread_id"] for p in period["pile_ons"])
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "response rate" in table and "Pile-ons:" in table
    # The same report by the organisation's slug, and as of an earlier position.
    assert main(["report", "listening", "--organisation", "northwind", "--format", "json",
                 "--from", "2026-09-01", "--to", "2026-11-01", "--at", "50"]) == 0
    early = orjson.loads(capsys.readouterr().out)
    assert early["as_of"]["position"] == 50
    assert early["period"]["member_threads"] < period["member_threads"]


def test_bad_input_is_a_clear_error_with_a_non_zero_exit(
        store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["demo"])
    capsys.readouterr()
    assert main(["report", "listening", "--community", "no-such-place"]) == 2
    assert "not-found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["report", "listening", "--community", "northwind-voices", "--from", "2026-13-01"])
    assert exit_.value.code == 2
    assert "not an ISO 8601 date" in capsys.readouterr().err
    assert main(["report", "listening", "--community", "northwind-voices",
                 "--from", "2026-10-01", "--to", "2026-09-01"]) == 2


def test_rebuild_runs_as_a_program_with_a_progress_bar(store: Path) -> None:
    env = {**os.environ}
    subprocess.run([sys.executable, "-m", "ledger.cli", "demo"], env=env, check=True,
                   capture_output=True)
    done = subprocess.run([sys.executable, "-m", "ledger.cli", "rebuild", "--view", "threads"],
                          env=env, check=True, capture_output=True, text=True)
    assert "Rebuilt threads" in done.stdout
    assert "100%" in done.stderr  # the progress bar
