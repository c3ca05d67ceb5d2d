"""Importing a GitHub issue export (tests/fixtures/github, described in its README.md).

The report's period is March 2024, ``now`` is 2024-04-01 00:00 UTC, so the previous period is
the 31 days before March (2024-01-30 to 2024-03-01). ``dana`` speaks for the organisation as
an org login (``--org-login dana``); ``acme-lead`` (OWNER), ``maria-dev`` (MEMBER) and
``pat-collab`` (COLLABORATOR) by association. Every figure below is worked out by hand from
the fixture and docs/report.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger.application import DialogueLedger
from ledger.cli import main
from ledger.domain import Access, Organisation, Person, Post, PostKind, Thread
from ledger.errors import InvalidInput, NotARepresentative
from ledger.imports import GitHubArchive, GitHubOptions, Summary, import_archive
from ledger.imports.base import IMPORTER_HANDLE, imported_post
from ledger.imports.github import kind_for_labels
from projections.report import ListeningReport, ReportRequest
from projections.runner import Projector

FIXTURE = Path(__file__).parent / "fixtures" / "github"
MARCH = datetime(2024, 3, 1, tzinfo=UTC)
APRIL = datetime(2024, 4, 1, tzinfo=UTC)
COMMUNITY = "acme-forum"


def run_import(app: DialogueLedger, associations: list[str] | None = None,
               org_logins: tuple[str, ...] = ("dana",),
               community: str = COMMUNITY) -> Summary:
    archive = GitHubArchive(FIXTURE, GitHubOptions.of(associations, org_logins))
    return import_archive(app, archive, community)


def march_report(app: DialogueLedger, community: str = COMMUNITY,
                 as_of: datetime | None = None) -> dict[str, Any]:
    projector = Projector(app)
    projector.catch_up()
    return ListeningReport(projector).compute(ReportRequest(
        community_ids=(str(app.community_id(community)),), start=MARCH, end=APRIL,
        now=APRIL, as_of=as_of))


def by_handle(app: DialogueLedger, responders: list[dict[str, Any]]) -> dict[str, Any]:
    handles = {str(Person.create_id(h)): h for h in (
        "acme-lead", "maria-dev", "pat-collab", "dana", "alice", "bob")}
    return {handles[r["person_id"]]: (r["replies_to_members"], r["median_hours_to_respond"])
            for r in responders}


def post_of(app: DialogueLedger, source_id: str) -> Post:
    found = imported_post(app, "github", app.community_id(COMMUNITY), source_id)
    assert found is not None
    return app.get(Post, found.post_id)


# ==========================================================================================
def test_the_imported_export_gives_the_listening_figures_worked_out_by_hand(
        ledger: DialogueLedger) -> None:
    run_import(ledger)
    report = march_report(ledger)
    period = report["period"]
    # Member threads opened in March: #2 (alice), #3 (bob), #5 (carol). #6 is the
    # organisation's own (acme-lead), #1 opened in February, #4 is a pull request.
    assert period["member_threads"] == 3
    # #2 answered by maria-dev after 24 h, #3 by acme-lead after 2.5 h; #5 only by a bot
    # (acme-triage, type Bot, association MEMBER) and a member.
    assert period["responded_threads"] == 2
    assert period["response_rate"] == pytest.approx(2 / 3)
    assert period["time_to_first_response_hours"] == {
        "count": 2, "median": 13.25, "p90": 24.0, "mean": 13.25, "max": 24.0}
    # #5 opened 2024-03-15 08:00: 16 days 16 hours before now.
    assert [(u["opened_at"], u["kind"], u["age_hours"]) for u in period["unanswered"]] == [
        ("2024-03-15T08:00:00Z", "proposal", 400.0)]
    # Member posts: the openings of #2, #3, #5 and the comments 2002 (bob), 2004 (alice),
    # 5002 (dave), 6001 (alice); only the openings of #2 and #3 got a direct response
    # (comments answer the opening post: GitHub comments are flat).
    addressed = period["posts_addressed"]
    assert (addressed["posts"], addressed["addressed"]) == (7, 2)
    assert {kind: (k["posts"], k["addressed"]) for kind, k in addressed["by_kind"].items()} \
        == {"concern": (1, 1), "question": (1, 1), "proposal": (1, 0), "comment": (4, 0)}
    # Organisation posts in March: 1001 (dana, 03-02), 2003, 3001, 3002, the opening of #6
    # and 6002 (pat-collab, on the organisation's own thread): 4 of them answer members.
    assert period["dialogue_share"] == {"organisation_posts": 6, "replies_to_members": 4,
                                        "share": pytest.approx(4 / 6)}
    # dana answered erin's February issue after 11 days (264 h); acme-lead twice (2.5 h,
    # 3 h); maria-dev once (24 h); pat-collab answered no member. Bots are never listed.
    assert by_handle(ledger, period["responders"]) == {
        "acme-lead": (2, 2.75), "maria-dev": (1, 24.0), "dana": (1, 264.0),
        "pat-collab": (0, None)}
    # February: erin's #1, answered on 03-02 (a response at any time counts).
    previous = report["previous_period"]
    assert (previous["member_threads"], previous["responded_threads"]) == (1, 1)
    assert previous["time_to_first_response_hours"]["median"] == 264.0


def test_the_summary_counts_what_was_imported_and_each_skip_with_its_reason(
        ledger: DialogueLedger) -> None:
    summary = run_import(ledger)
    assert (summary.threads, summary.replies) == (5, 11)
    # alice, bob, carol, dave, erin, dana, acme-lead, maria-dev, pat-collab and two bots;
    # frank (only the broken #7) and gina (only an orphan comment) are not registered.
    assert (summary.people, summary.bots, summary.representatives) == (11, 2, 4)
    assert summary.community_created and summary.organisation_created
    assert summary.already_imported == 0
    assert dict(summary.skipped) == {
        "pull request": 1,
        "comment on a pull request": 1,
        "broken issue: bad created_at": 1,
        "comment on a skipped issue": 1,
        "comment of an issue not in the issue lists": 1,
    }
    assert summary.examples["pull request"] == ["pull request #4"]
    assert summary.examples["broken issue: bad created_at"] == ["issue #7"]
    assert summary.examples["comment of an issue not in the issue lists"] == [
        "comments-42.json"]


def test_importing_the_same_export_again_records_nothing(ledger: DialogueLedger) -> None:
    run_import(ledger)
    position = ledger.position
    again = run_import(ledger)
    assert ledger.position == position
    assert (again.imported, again.people, again.members_joined, again.representatives) \
        == (0, 0, 0, 0)
    assert again.already_imported == 16
    assert again.skipped_total == 5
    assert not again.community_created


def test_issues_become_threads_and_comments_replies_with_their_authors_and_times(
        tmp_path: Path) -> None:
    app = DialogueLedger({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                          "SQLITE_DBNAME": str(tmp_path / "ledger.db")})
    try:
        run_import(app)
        opening = post_of(app, "issue:9002")
        thread = app.get(Thread, opening.thread_id)
        assert (thread.title, thread.kind) == ("Crash when saving a file", PostKind.CONCERN)
        assert opening.author_id == Person.create_id("alice")
        assert opening.versions[0].occurred_at == datetime(2024, 3, 4, 10, tzinfo=UTC)
        answer = post_of(app, "comment:2003")
        assert answer.parent_id == opening.id and answer.for_organisation
        assert not post_of(app, "comment:2002").for_organisation
        # An issue without a body gets a placeholder: the ledger holds no empty post.
        assert post_of(app, "issue:9001").body == "(empty)"
        bot = app.get(Person, Person.create_id("acme-triage"))
        assert bot.is_bot and not post_of(app, "comment:5001").for_organisation
        assert app.get(Person, Person.create_id("github-actions[bot]")).is_bot
        organisation = app.get(Organisation, app.organisation_id(COMMUNITY))
        assert {app.get(Person, p).handle for p in organisation.representatives} == {
            IMPORTER_HANDLE, "acme-lead", "maria-dev", "pat-collab", "dana"}
        assert app.get(Person, Person.create_id(IMPORTER_HANDLE)).is_bot
    finally:
        app.close()


def test_representatives_are_appointed_as_of_their_first_appearance(
        tmp_path: Path) -> None:
    """The export lists the newest issues first, yet each person is registered and
    appointed at their earliest item: as of 03-06 only dana (first seen 03-02) and
    maria-dev (03-05) spoke for the organisation; acme-lead appears on 03-10."""
    app = DialogueLedger({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                          "SQLITE_DBNAME": str(tmp_path / "ledger.db")})
    try:
        run_import(app)
        early = march_report(app, as_of=datetime(2024, 3, 6, tzinfo=UTC))["period"]
        assert by_handle(app, early["responders"]) == {"maria-dev": (1, 24.0),
                                                        "dana": (1, 264.0)}
        assert (early["member_threads"], early["responded_threads"]) == (1, 1)
    finally:
        app.close()


def test_the_associations_that_speak_for_the_organisation_can_be_narrowed(
        tmp_path: Path) -> None:
    """With OWNER only and no org logins, maria-dev, pat-collab and dana are members: #2 is
    answered by no one, #3 still by acme-lead."""
    app = DialogueLedger({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                          "SQLITE_DBNAME": str(tmp_path / "ledger.db")})
    try:
        summary = run_import(app, associations=["OWNER"], org_logins=())
        assert summary.representatives == 1
        period = march_report(app)["period"]
        assert (period["member_threads"], period["responded_threads"]) == (3, 1)
        # Member posts now include 2003 (maria-dev), 6002 (pat-collab) and 1001 (dana).
        assert period["posts_addressed"]["posts"] == 10
        assert period["dialogue_share"] == {"organisation_posts": 3,
                                            "replies_to_members": 2,
                                            "share": pytest.approx(2 / 3)}
    finally:
        app.close()


def test_labels_map_to_thread_kinds() -> None:
    assert kind_for_labels([{"name": "bug"}]) is PostKind.CONCERN
    assert kind_for_labels([{"name": "Type: Bug"}, {"name": "question"}]) is PostKind.CONCERN
    assert kind_for_labels([{"name": "kind/feature"}]) is PostKind.PROPOSAL
    assert kind_for_labels([{"name": "enhancement"}, {"name": "question"}]) \
        is PostKind.PROPOSAL
    assert kind_for_labels(["question"]) is PostKind.QUESTION
    assert kind_for_labels([{"name": "documentation"}]) is PostKind.QUESTION
    assert kind_for_labels([]) is PostKind.QUESTION


def test_an_existing_organisation_must_have_appointed_the_importer_and_nothing_is_recorded_before(
        tmp_path: Path) -> None:
    app = DialogueLedger({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                          "SQLITE_DBNAME": str(tmp_path / "ledger.db")})
    try:
        owner = app.register_person("owner", "The Owner").id
        acme = app.found_organisation("Acme", "acme", actor_id=owner).id
        forum = app.create_community(acme, "Acme forum", COMMUNITY, access=Access.OPEN,
                                     actor_id=owner).id
        position = app.position
        with pytest.raises(NotARepresentative, match="appoint"):
            run_import(app)
        assert app.position == position
        importer = app.register_person(IMPORTER_HANDLE, "Importer", is_bot=True,
                                       actor_id=owner).id
        app.appoint_representative(acme, importer, actor_id=owner)
        summary = run_import(app)
        assert (summary.threads, summary.replies) == (5, 11)
        assert not summary.community_created and summary.organisation == "acme"
        assert march_report(app)["period"]["responded_threads"] == 2
        app.found_organisation("Other", "other", actor_id=owner)
        with pytest.raises(InvalidInput, match="another organisation"):
            import_archive(app, GitHubArchive(FIXTURE), str(forum), organisation="other")
        # a slug is looked up within the organisation named: other's acme-forum is another
        # community, which the importer may not create for other
        position = app.position
        with pytest.raises(NotARepresentative, match="create the community"):
            import_archive(app, GitHubArchive(FIXTURE), COMMUNITY, organisation="other")
        assert app.position == position
    finally:
        app.close()


# ==========================================================================================
# The command line
# ==========================================================================================
@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ledger.db"
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.sqlite")
    monkeypatch.setenv("SQLITE_DBNAME", str(path))
    return path


def test_the_command_line_imports_with_a_progress_bar_and_the_report_reads_it(
        store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "github", str(FIXTURE), "--community", COMMUNITY,
                 "--org-login", "dana"]) == 0
    captured = capsys.readouterr()
    assert "21/21" in captured.err  # the progress bar: every item of the export
    out = captured.out
    assert "threads           5" in out and "replies           11" in out
    assert "pull request  (e.g. pull request #4)" in out
    assert "broken issue: bad created_at" in out
    assert main(["report", "listening", "--community", COMMUNITY, "--from", "2024-03-01",
                 "--to", "2024-04-01", "--now", "2024-04-01", "--format", "json"]) == 0
    period = orjson.loads(capsys.readouterr().out)["period"]
    assert (period["member_threads"], period["responded_threads"]) == (3, 2)
    assert period["time_to_first_response_hours"]["median"] == 13.25

    assert main(["status"]) == 0
    events = capsys.readouterr().out
    assert main(["import", "github", str(FIXTURE), "--community", COMMUNITY,
                 "--org-login", "dana", "--quiet"]) == 0
    again = capsys.readouterr()
    assert "already imported  16" in again.out and "threads           0" in again.out
    assert again.err == ""  # --quiet: no progress bar
    assert main(["status"]) == 0
    assert capsys.readouterr().out == events


def test_a_dry_run_prints_the_summary_and_writes_nothing(
        store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "github", str(FIXTURE), "--community", COMMUNITY,
                 "--org-association", "OWNER,MEMBER", "--dry-run", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Dry run" in out and "threads           5" in out
    assert "2 appointed representatives" in out  # acme-lead and maria-dev only
    assert main(["status"]) == 0
    assert ": 0 events" in capsys.readouterr().out


def test_a_missing_folder_or_a_bad_slug_is_a_clear_error(
        store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "github", str(tmp_path / "nowhere"), "--community", "x-y"]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["import", "github", str(FIXTURE), "--community", "Not A Slug",
                 "--quiet"]) == 2
    assert "invalid-input" in capsys.readouterr().err


def test_an_item_dated_after_the_ledgers_clock_is_skipped_and_its_author_not_registered(
        tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    issues = orjson.loads((FIXTURE / "issues-2.json").read_bytes())[:1]  # #3, by bob
    issues.append({**issues[0], "id": 9099, "number": 99, "created_at": "2030-01-01T00:00:00Z",
                   "user": {"login": "time-traveller", "type": "User"}})
    (folder / "issues-1.json").write_bytes(orjson.dumps(issues))
    app = DialogueLedger({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                          "SQLITE_DBNAME": str(tmp_path / "ledger.db")},
                         clock=lambda: datetime(2026, 3, 2, tzinfo=UTC))
    try:
        summary = import_archive(app, GitHubArchive(folder), COMMUNITY)
        assert summary.threads == 1
        assert dict(summary.skipped) == {
            "refused by the ledger: invalid-input (occurred_at lies in the future)": 1}
        assert Person.create_id("time-traveller") not in app.repository
    finally:
        app.close()
