"""The compliance exports of moderation decisions: CSV (RFC 4180) and JSON Lines, one
decision per row with its notice and appeal outcome; filters by community and period; reads
page by page; and the ``export moderation`` command.

The demo (4 decisions, one reversed on appeal, one with a notice) is recorded once per module
and store, with a second community holding one more decision; tests only read it.
"""

from __future__ import annotations

import argparse
import csv
import io
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger.application import DialogueLedger
from ledger.demo import DemoSummary, StoryClock, record_demo
from ledger.domain import Access, Action, PostKind, ReasonCode, Role
from projections.change import EPOCH, MICROSECOND
from projections.runner import Projector
from replay import moderation_cli
from replay.moderation_export import (
    COLUMNS,
    Decision,
    DecisionReader,
    write_csv,
    write_jsonl,
)
from tests.conftest import PG, pg_connect, postgres_available

SECOND_SLUG = "northwind-lab"
#: A moderator's statement that exercises CSV quoting: a comma, quotes and a line break.
AWKWARD_STATEMENT = 'Off topic, "again":\r\nsee the pinned post.'


# =========================================================================================
# A demo store per module (helpers shared with test_dsa_export)
# =========================================================================================
@dataclass
class Demo:
    env: dict[str, str]
    app: DialogueLedger
    projector: Projector
    summary: DemoSummary
    clock: StoryClock
    second_community: uuid.UUID

    def decisions(self) -> list[dict[str, Any]]:
        return self.projector.store("moderation").query(
            "SELECT * FROM {prefix}decisions ORDER BY position")


def record_store(env: dict[str, str],
                 extra: Callable[[Demo], None] | None = None) -> Demo:
    """The demo, then a second community with one off-topic decision, then ``extra``."""
    app = DialogueLedger(env)
    clock = StoryClock()
    summary = record_demo(app, clock)
    maya = summary.people["maya"]
    organisation = app.organisation_id("northwind")
    clock.advance(days=1)
    lab = app.create_community(organisation, "Northwind Lab", SECOND_SLUG,
                               access=Access.OPEN, actor_id=maya).id
    app.grant_role(lab, maya, Role.MODERATOR, actor_id=maya)
    thread = app.open_thread(lab, PostKind.COMMENT, "Lab notes", "First notes from the lab.",
                             actor_id=maya).id
    clock.advance(hours=2)
    projector = Projector(app)
    projector.catch_up()
    opening = projector.store("threads").query(
        "SELECT id FROM {prefix}posts WHERE thread_id = ?", [str(thread)])[0]["id"]
    app.moderate(lab, Action.HIDE_POST, ReasonCode.OFF_TOPIC, AWKWARD_STATEMENT,
                 post_ids=[uuid.UUID(opening)], actor_id=maya)
    demo = Demo(env=env, app=app, projector=projector, summary=summary, clock=clock,
                second_community=lab)
    if extra is not None:
        extra(demo)
    projector.catch_up()
    return demo


def sqlite_store(directory: Path, extra: Callable[[Demo], None] | None = None) -> Iterator[Demo]:
    demo = record_store({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                         "SQLITE_DBNAME": str(directory / "ledger.db")}, extra)
    yield demo
    demo.app.close()


def postgres_store(extra: Callable[[Demo], None] | None = None) -> Iterator[Demo]:
    postgres_available()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with pg_connect() as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        demo = record_store({"PERSISTENCE_MODULE": "eventsourcing.postgres", **PG,
                             "POSTGRES_SCHEMA": schema}, extra)
        yield demo
        demo.app.close()
    finally:
        with pg_connect() as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def export_parser() -> argparse.ArgumentParser:
    """A stand-in for ``dialogue-ledger``: an ``export`` group with ``moderation`` in it."""
    parser = argparse.ArgumentParser(prog="dialogue-ledger")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export")
    moderation_cli.register_export(export.add_subparsers(dest="export", required=True))
    return parser


def run_cli(argv: Sequence[str]) -> int:
    args = export_parser().parse_args(["export", "moderation", *argv])
    status: int = args.handler(args)
    return status


def us(text: str) -> int:
    from datetime import datetime
    return (datetime.fromisoformat(text.replace("Z", "+00:00")) - EPOCH) // MICROSECOND


@pytest.fixture(scope="module")
def sqlite_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    yield from sqlite_store(tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="module")
def postgres_demo() -> Iterator[Demo]:
    yield from postgres_store()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def demo(request: pytest.FixtureRequest) -> Demo:
    found: Demo = request.getfixturevalue(f"{request.param}_demo")
    return found


def export_csv(reader: DecisionReader) -> str:
    out = io.StringIO(newline="")
    write_csv(reader, out)
    return out.getvalue()


# =========================================================================================
# CSV
# =========================================================================================
def test_csv_is_rfc4180_with_one_row_per_decision_including_notice_and_appeal_outcome(
        demo: Demo) -> None:
    raw = export_csv(DecisionReader(demo.projector))
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    assert rows[0] == list(COLUMNS)
    records = [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]]
    decisions = demo.decisions()
    assert sorted(r["decision_id"] for r in records) == sorted(d["id"] for d in decisions)
    assert len(records) == 5
    # Every record ends with CRLF; the only other line break is inside the quoted statement
    # (recorded with LF: the ledger stores free text's line ends so).
    assert raw.endswith("\r\n")
    assert raw.count("\r\n") == len(rows)
    assert raw.replace("\r\n", "").count("\n") == 1

    # Communities by slug, then in the order decided.
    assert [r["community_slug"] for r in records] == [SECOND_SLUG] + ["northwind-voices"] * 4
    voices = records[1:]
    assert [int(r["position"]) for r in voices] == sorted(int(r["position"]) for r in voices)
    by_action = {r["action"]: r for r in records if r["community_slug"] == "northwind-voices"}
    assert set(by_action) == {"remove-post", "hide-post", "lock-thread", "unlock-thread"}

    removal = by_action["remove-post"]
    assert removal["reason_code"] == "confidential"
    assert removal["statement"] == "The post quotes an internal document that names staff."
    assert removal["moderator_side"] == "organisation"
    assert removal["appeal_status"] == "reversed"
    assert removal["appeal_reasons"].startswith("No personal data is quoted")
    assert us(removal["appeal_lodged_at"]) < us(removal["appeal_decided_at"])
    assert us(removal["decided_at"]) < us(removal["appeal_lodged_at"])
    assert len(removal["post_ids"].split()) == 1
    assert removal["thread_id"] == "" and removal["member_id"] == ""

    lock = by_action["lock-thread"]
    assert lock["notice"] == "Your thread was locked for a day to cool off."
    assert us(lock["notified_at"]) > us(lock["decided_at"])
    assert lock["author_notified"] == "true"
    assert lock["thread_id"] and lock["post_ids"] == ""
    assert lock["appeal_status"] == "none" and lock["appeal_decided_at"] == ""

    spam = by_action["hide-post"]
    assert (spam["automated_detection"], spam["reason_code"]) == ("true", "spam")
    assert by_action["unlock-thread"]["automated_detection"] == "false"
    assert records[0]["statement"] == AWKWARD_STATEMENT.replace("\r\n", "\n")


def test_csv_quotes_commas_quotes_and_line_breaks_and_reads_back_exactly() -> None:
    decision = Decision(
        id="d1", position=7, community_id="c1", community_slug="square",
        decided_us=us("2026-09-01T10:00:00Z"), action="hide-post", reason_code="other",
        statement='She wrote: "no, never"\nthen, twice,\r\nagain', moderator_side="community",
        automated_detection=False, author_notified=True, notice="Hidden, sorry.",
        notified_us=us("2026-09-01T11:00:00Z"), post_ids=("p1", "p2"), thread_id=None,
        member_id=None, appeal_status="upheld", appeal_lodged_us=us("2026-09-02T00:00:00Z"),
        appeal_decided_us=us("2026-09-03T00:00:00Z"), appeal_reasons='Rule 2, "spam"',
        content_us=None)
    out = io.StringIO(newline="")
    assert write_csv([decision], out) == 1
    raw = out.getvalue()
    assert raw.startswith(",".join(COLUMNS) + "\r\n")
    assert '"She wrote: ""no, never""\nthen, twice,\r\nagain"' in raw
    header, row = list(csv.reader(io.StringIO(raw, newline="")))
    record = dict(zip(header, row, strict=True))
    assert record["statement"] == decision.statement
    assert record["appeal_reasons"] == 'Rule 2, "spam"'
    assert record["post_ids"] == "p1 p2"
    assert record["decided_at"] == "2026-09-01T10:00:00Z"
    assert record["notified_at"] == "2026-09-01T11:00:00Z"
    assert record["thread_id"] == ""


# =========================================================================================
# JSON Lines
# =========================================================================================
def test_jsonl_has_one_typed_object_per_decision(demo: Demo) -> None:
    out = io.StringIO()
    assert write_jsonl(DecisionReader(demo.projector), out) == 5
    lines = out.getvalue().splitlines()
    assert len(lines) == 5
    objects = [orjson.loads(line) for line in lines]
    assert all(list(o) == list(COLUMNS) for o in objects)
    by_action = {o["action"]: o for o in objects}
    removal = by_action["remove-post"]
    assert removal["automated_detection"] is False and removal["author_notified"] is True
    assert isinstance(removal["post_ids"], list) and len(removal["post_ids"]) == 1
    assert removal["appeal_status"] == "reversed" and removal["appeal_decided_at"]
    assert removal["thread_id"] is None and removal["notice"] is None
    assert by_action["lock-thread"]["notice"] == "Your thread was locked for a day to cool off."
    assert by_action["hide-post"]["statement"] in (
        "Commercial advertising is not allowed in discussions.",
        AWKWARD_STATEMENT.replace("\r\n", "\n"))


# =========================================================================================
# Filters and paging
# =========================================================================================
def test_filters_by_community(demo: Demo) -> None:
    voices = str(demo.summary.community_id)
    lab = str(demo.second_community)
    assert [d.community_slug for d in DecisionReader(demo.projector, community_ids=[lab])] \
        == [SECOND_SLUG]
    only_voices = list(DecisionReader(demo.projector, community_ids=[voices]))
    assert len(only_voices) == 4
    assert {d.community_id for d in only_voices} == {voices}
    both = DecisionReader(demo.projector, community_ids=[voices, lab, voices])
    assert both.count() == 5 and len(list(both)) == 5


def test_filters_by_period_from_inclusive_to_exclusive(demo: Demo) -> None:
    decided = sorted({d["decided_us"] for d in demo.decisions()})
    assert len(decided) >= 3

    def ids(start_us: int | None, end_us: int | None) -> set[str]:
        reader = DecisionReader(
            demo.projector,
            start=EPOCH + timedelta(microseconds=start_us) if start_us is not None else None,
            end=EPOCH + timedelta(microseconds=end_us) if end_us is not None else None)
        found = {d.id for d in reader}
        assert reader.count() == len(found)
        return found

    def expected(low: int | None, high: int | None) -> set[str]:
        return {d["id"] for d in demo.decisions()
                if (low is None or d["decided_us"] >= low)
                and (high is None or d["decided_us"] < high)}

    middle = decided[1]
    assert ids(middle, None) == expected(middle, None)
    assert ids(None, middle) == expected(None, middle)
    assert ids(decided[0], decided[-1]) == expected(decided[0], decided[-1])
    assert ids(middle, middle + 1) == expected(middle, middle + 1) != set()
    assert ids(decided[-1] + 1, None) == set()


def test_the_reader_queries_bounded_pages_and_reads_the_same_decisions(
        demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    everything = [d.id for d in DecisionReader(demo.projector)]
    store = demo.projector.store("moderation")
    query = store.query
    fetched: list[int] = []

    def spy(statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        rows = query(statement, params)
        if "LIMIT" in statement:
            fetched.append(len(rows))
        return rows

    monkeypatch.setattr(store, "query", spy)
    reader = DecisionReader(demo.projector, page_size=2)
    stream = iter(reader)
    first = next(stream)
    assert fetched == [1]  # the second community's single decision: one short page
    assert [first.id, *(d.id for d in stream)] == everything
    assert max(fetched) <= 2
    assert fetched == [1, 2, 2, 0]  # 4 decisions of the demo community, in pages of 2


def test_an_unknown_community_or_an_empty_period_is_refused(demo: Demo) -> None:
    from ledger.errors import InvalidInput, NotFound

    with pytest.raises(NotFound):
        DecisionReader(demo.projector, community_ids=[str(uuid.uuid4())])
    moment = EPOCH + timedelta(days=20_000)
    with pytest.raises(InvalidInput):
        DecisionReader(demo.projector, start=moment, end=moment)


# =========================================================================================
# The command
# =========================================================================================
@pytest.fixture
def cli_store(sqlite_demo: Demo, monkeypatch: pytest.MonkeyPatch) -> Demo:
    for name, value in sqlite_demo.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DIALOGUE_LEDGER_PUID_KEY", "a-test-key-that-is-long-enough")
    return sqlite_demo


def test_the_command_writes_each_format_to_stdout_or_a_file(
        cli_store: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["--format", "csv", "--community", "northwind-voices"]) == 0
    captured = capsys.readouterr()
    assert len(list(csv.reader(io.StringIO(captured.out, newline="")))) == 5
    assert "Exported 4 decisions as CSV" in captured.err

    target = tmp_path / "decisions.jsonl"
    assert run_cli(["--format", "jsonl", "--out", str(target), "--from", "2026-09-01",
                    "--to", "2027-01-01"]) == 0
    assert len(target.read_text().splitlines()) == 5
    assert f"to {target}" in capsys.readouterr().err

    dsa = tmp_path / "statements.jsonl"
    assert run_cli(["--format", "dsa", "--out", str(dsa), "--quiet",
                    "--rules-url", "https://northwind.example/rules"]) == 0
    assert capsys.readouterr().err == ""
    batches = [orjson.loads(line) for line in dsa.read_bytes().splitlines()]
    assert [len(b["statements"]) for b in batches] == [4]  # the unlock is skipped
    assert not list(tmp_path.glob("*.part"))


def test_the_command_refuses_bad_input_with_exit_2_and_a_message(
        cli_store: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.csv"
    assert run_cli(["--format", "csv", "--community", "no-such-place",
                    "--out", str(target)]) == 2
    assert "no such community" in capsys.readouterr().err
    assert run_cli(["--format", "csv", "--from", "2026-10-01", "--to", "2026-09-01"]) == 2
    assert "--from must be before --to" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        run_cli(["--format", "csv", "--from", "2026-13-01"])
    assert exit_.value.code == 2
    assert "not an ISO 8601 date" in capsys.readouterr().err
    monkeypatch.delenv("DIALOGUE_LEDGER_PUID_KEY")
    assert run_cli(["--format", "dsa", "--out", str(target)]) == 2
    assert "DIALOGUE_LEDGER_PUID_KEY" in capsys.readouterr().err
    # A statement the database would refuse (a rules URL that is not one) stops the export
    # and leaves no file behind, not even a partial one.
    monkeypatch.setenv("DIALOGUE_LEDGER_PUID_KEY", "a-test-key-that-is-long-enough")
    assert run_cli(["--format", "dsa", "--out", str(target), "--rules-url", "rules"]) == 2
    assert "decision_ground_reference_url" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_long_export_to_a_file_shows_a_progress_bar_on_stderr(
        cli_store: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moderation_cli, "PROGRESS_MIN_ROWS", 3)
    assert run_cli(["--format", "csv", "--out", str(tmp_path / "a.csv")]) == 0
    err = capsys.readouterr().err
    assert "exporting csv" in err and "5/5" in err
    assert run_cli(["--format", "csv", "--out", str(tmp_path / "b.csv"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert run_cli(["--format", "csv"]) == 0  # to stdout: no bar
    assert "exporting" not in capsys.readouterr().err
