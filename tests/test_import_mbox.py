"""Importing mailing-list archives (tests/fixtures/mbox, described in its README.md): an mbox
and a pipermail text archive of the same list, imported together.

The organisation is matched by ``@council.example.org`` (a domain) and ``Mayor *`` (a
display name); ``noreply@*`` is a bot. The report's period is March 2024 and ``now`` is
2024-04-01 00:00 UTC (the previous period: 2024-01-30 to 2024-03-01). Every figure below is
worked out by hand from the fixture and docs/report.md.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger.application import DialogueLedger
from ledger.cli import main
from ledger.domain import Person, Post, PostKind, Thread
from ledger.imports import MboxArchive, MboxOptions, Summary, import_archive
from ledger.imports.base import imported_post
from ledger.imports.mbox import AddressPatterns, kind_for_subject, normalise_subject
from projections.report import ListeningReport, ReportRequest
from projections.runner import Projector

FIXTURES = Path(__file__).parent / "fixtures" / "mbox"
MBOX = FIXTURES / "town-talk.mbox"
PIPERMAIL = FIXTURES / "town-talk-2024-March.txt"
ORG = ("@council.example.org", "Mayor *")
BOTS = ("noreply@*",)
MARCH = datetime(2024, 3, 1, tzinfo=UTC)
APRIL = datetime(2024, 4, 1, tzinfo=UTC)
COMMUNITY = "town-talk"


def run_import(app: DialogueLedger, *paths: Path, community: str = COMMUNITY) -> Summary:
    archive = MboxArchive(paths or (MBOX, PIPERMAIL), MboxOptions(ORG, BOTS))
    return import_archive(app, archive, community)


def march_report(app: DialogueLedger, community: str = COMMUNITY) -> dict[str, Any]:
    projector = Projector(app)
    projector.catch_up()
    return ListeningReport(projector).compute(ReportRequest(
        community_ids=(str(app.community_id(community)),), start=MARCH, end=APRIL,
        now=APRIL))


def post_of(app: DialogueLedger, message_id: str) -> Post:
    found = imported_post(app, "mbox", app.community_id(COMMUNITY), f"message:{message_id}")
    assert found is not None, message_id
    return app.get(Post, found.post_id)


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> Iterator[DialogueLedger]:
    app = DialogueLedger({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                          "SQLITE_DBNAME": str(tmp_path / "ledger.db")})
    yield app
    app.close()


# ==========================================================================================
def test_the_imported_archives_give_the_listening_figures_worked_out_by_hand(
        ledger: DialogueLedger) -> None:
    run_import(ledger)
    report = march_report(ledger)
    period = report["period"]
    # Member threads opened in March: T1 (alice, m1), T2 (carol, m4), T3 (dave, m8, whose
    # parent never appears), T4 (erin, p1). T5 (frank, p6) opened in February.
    assert period["member_threads"] == 4
    # T1 answered by the roads team (domain match) after 6 h, T4 by the press office after
    # 24 h; T2 only by the list's auto-responder (a bot); T3 by nobody.
    assert period["responded_threads"] == 2
    assert period["response_rate"] == 0.5
    assert period["time_to_first_response_hours"] == {
        "count": 2, "median": 15.0, "p90": 24.0, "mean": 15.0, "max": 24.0}
    # T2 opened 03-05 08:00 UTC (09:00 +0100): 26 days 16 h before now; T3 03-07 09:00:
    # 24 days 15 h.
    assert [(u["opened_at"], u["kind"], u["age_hours"]) for u in period["unanswered"]] == [
        ("2024-03-05T08:00:00Z", "question", 640.0),
        ("2024-03-07T09:00:00Z", "question", 591.0)]
    # Member posts: m1, m3, m4, m8, p1, p3. m1 got direct responses (m2, and the mayor's m5
    # joined by subject), p1 one (p2); m3 and p3 answer organisation posts, unanswered.
    addressed = period["posts_addressed"]
    assert (addressed["posts"], addressed["addressed"]) == (6, 2)
    assert {kind: (k["posts"], k["addressed"]) for kind, k in addressed["by_kind"].items()} \
        == {"question": (3, 1), "proposal": (1, 1), "comment": (2, 0), "concern": (0, 0)}
    # Organisation posts in March: m2, m5, p2, p7 (03-02, answering frank's p6): all four
    # answer members.
    assert period["dialogue_share"] == {"organisation_posts": 4, "replies_to_members": 4,
                                        "share": 1.0}
    # roads: m2 after 6 h and p7 after 11 days 2 h (266 h), median 136 h; the mayor: 50 h
    # (03-04 10:00 to 03-06 12:00); the press office: 24 h.
    handles = {str(Person.create_id(h)): h for h in (
        "roads@council.example.org", "jane.doe@mail.example", "press@council.example.org")}
    assert {handles[r["person_id"]]: (r["replies_to_members"], r["median_hours_to_respond"])
            for r in period["responders"]} == {
        "roads@council.example.org": (2, 136.0), "jane.doe@mail.example": (1, 50.0),
        "press@council.example.org": (1, 24.0)}
    previous = report["previous_period"]
    assert (previous["member_threads"], previous["responded_threads"]) == (1, 1)
    assert previous["time_to_first_response_hours"]["median"] == 266.0


def test_the_summary_counts_what_was_imported_and_each_broken_message_with_its_reason(
        ledger: DialogueLedger) -> None:
    summary = run_import(ledger)
    assert (summary.threads, summary.replies) == (5, 7)
    # alice, bob, carol, dave, erin, frank, the roads team, the mayor, the press office and
    # the auto-responder.
    assert (summary.people, summary.bots, summary.representatives) == (10, 1, 3)
    # The pipermail archive repeats m3: it is already in the ledger by then.
    assert summary.already_imported == 1
    assert dict(summary.skipped) == {"broken message: no Date": 1,
                                     "broken message: bad Date": 1,
                                     "broken message: no Message-ID": 1}
    assert summary.examples["broken message: no Date"] == ["town-talk.mbox message 7"]
    assert summary.examples["broken message: bad Date"] == [
        "town-talk-2024-March.txt message 5"]


def test_importing_the_same_archives_again_records_nothing(ledger: DialogueLedger) -> None:
    run_import(ledger)
    position = ledger.position
    again = run_import(ledger)
    assert ledger.position == position
    assert (again.imported, again.people, again.members_joined) == (0, 0, 0)
    assert again.already_imported == 13  # 5 threads, 7 replies and the repeated m3
    assert again.skipped_total == 3


def test_threads_follow_in_reply_to_and_references_then_the_subject(
        sqlite_ledger: DialogueLedger) -> None:
    app = sqlite_ledger
    run_import(app)
    m1 = post_of(app, "m1.potholes@example.com")
    assert m1.parent_id is None
    assert app.get(Thread, m1.thread_id).title == "[Town-talk] Potholes on Elm Street"
    m2 = post_of(app, "m2.roads@council.example.org")
    assert m2.parent_id == m1.id and m2.for_organisation
    assert post_of(app, "m3.bob@example.com").parent_id == m2.id  # the nearest parent
    mayor = post_of(app, "m5.mayor@mail.example")  # no In-Reply-To: joined by subject
    assert mayor.parent_id == m1.id and mayor.for_organisation
    lost = post_of(app, "m8.bus@example.com")  # its parent never appears
    assert lost.parent_id is None
    assert app.get(Thread, lost.thread_id).title == "Re: Bus timetable"
    auto = post_of(app, "m7.auto@lists.example.org")
    assert auto.parent_id == post_of(app, "m4.library@example.com").id
    garden = post_of(app, "p1.garden@example.com")
    assert app.get(Thread, garden.thread_id).kind is PostKind.PROPOSAL
    assert post_of(app, "p2.press@council.example.org").parent_id == garden.id
    # Times come from the Date header, in UTC.
    assert post_of(app, "m4.library@example.com").versions[0].occurred_at == datetime(
        2024, 3, 5, 8, tzinfo=UTC)


def test_senders_become_people_by_address_with_their_display_names(
        sqlite_ledger: DialogueLedger) -> None:
    app = sqlite_ledger
    run_import(app)
    carol = app.get(Person, Person.create_id("carol@example.com"))
    assert carol.display_name == "Carol Müller"  # an RFC 2047 encoded name
    frank = app.get(Person, Person.create_id("frank@example.com"))  # "frank at example.com"
    assert (frank.handle, frank.display_name) == ("frank@example.com", "Frank Ocean")
    assert app.get(Person, Person.create_id("noreply@lists.example.org")).is_bot
    assert not post_of(app, "m7.auto@lists.example.org").for_organisation
    # The multipart message's plain-text part, decoded from quoted-printable.
    assert post_of(app, "m4.library@example.com").body == \
        "Could the library stay open later on Thursdays? \u2014 Carol"


def test_gzipped_archives_and_files_without_messages_are_read_or_reported(
        sqlite_ledger: DialogueLedger, tmp_path: Path) -> None:
    packed = tmp_path / "town-talk-2024-March.txt.gz"
    packed.write_bytes(gzip.compress(PIPERMAIL.read_bytes()))
    empty = tmp_path / "notes.txt"
    empty.write_text("Nothing here looks like an mbox.\n")
    summary = run_import(sqlite_ledger, packed, empty)
    # p6, p1 open threads; p2, p3, p7 reply; m3's copy names m2, which this archive lacks,
    # and its subject matches the potholes thread nowhere here: it opens a thread.
    assert (summary.threads, summary.replies) == (3, 3)
    assert summary.skipped["no messages found (not an mbox file?)"] == 1
    assert summary.skipped_total == 3  # also the bad Date and the missing Message-ID


def test_address_patterns_match_an_address_a_domain_or_a_display_name() -> None:
    patterns = AddressPatterns(["press@council.example.org", "@*.gov.example", "Mayor *",
                                "@example.org"])
    assert patterns.match("Press@Council.Example.org", "")
    assert not patterns.match("roads@council.example.org", "Roads")
    assert patterns.match("x@health.gov.example", "")
    assert not patterns.match("x@gov.example", "")
    assert patterns.match("x@example.org", "")
    assert not patterns.match("x@sub.example.org", "")
    assert patterns.match("jane@mail.example", "mayor  Jane Doe")
    assert not patterns.match("jane@mail.example", "Jane, not the Mayor")


def test_subjects_are_normalised_without_tags_and_reply_prefixes() -> None:
    assert normalise_subject("Re: [Town-talk] Re:  Potholes   on Elm") == "potholes on elm"
    assert normalise_subject("[Town-talk] AW: Fwd: potholes on elm") == "potholes on elm"
    assert normalise_subject("RE[2]: Potholes on Elm") == "potholes on elm"
    assert normalise_subject("Regarding potholes") == "regarding potholes"
    assert kind_for_subject("[Town-talk] [RFC] New bins") is PostKind.PROPOSAL
    assert kind_for_subject("Re: Bug: the lights are out") is PostKind.CONCERN
    assert kind_for_subject("Bins") is PostKind.QUESTION


# ==========================================================================================
# The command line
# ==========================================================================================
@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ledger.db"
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.sqlite")
    monkeypatch.setenv("SQLITE_DBNAME", str(path))
    return path


def test_the_command_line_imports_the_list_and_the_report_reads_it(
        store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    command = ["import", "mbox", str(MBOX), str(PIPERMAIL), "--community", COMMUNITY,
               "--org-address", *ORG, "--bot-address", *BOTS]
    assert main(command) == 0
    captured = capsys.readouterr()
    assert "16/16" in captured.err  # the progress bar: every message of both files
    assert "threads           5" in captured.out and "replies           7" in captured.out
    assert "broken message: no Message-ID" in captured.out
    assert main(["report", "listening", "--community", COMMUNITY, "--from", "2024-03-01",
                 "--to", "2024-04-01", "--now", "2024-04-01", "--format", "json"]) == 0
    period = orjson.loads(capsys.readouterr().out)["period"]
    assert (period["member_threads"], period["responded_threads"]) == (4, 2)
    assert main(["status"]) == 0
    events = capsys.readouterr().out
    assert main([*command, "--quiet"]) == 0
    assert "already imported  13" in capsys.readouterr().out
    assert main(["status"]) == 0
    assert capsys.readouterr().out == events


def test_the_organisation_addresses_are_required_and_missing_files_are_an_error(
        store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["import", "mbox", str(MBOX), "--community", COMMUNITY])
    assert exit_.value.code == 2
    assert "--org-address" in capsys.readouterr().err
    assert main(["import", "mbox", str(tmp_path / "missing.mbox"), "--community", COMMUNITY,
                 "--org-address", "@council.example.org"]) == 2
    assert "no such file" in capsys.readouterr().err
