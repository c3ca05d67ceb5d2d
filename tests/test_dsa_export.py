"""The DSA Transparency Database export: every statement we produce passes the database's
rules, the rules themselves refuse what the database refuses, batches hold at most 100, no
personal data leaves, and puids are stable.

The demo store (recorded once per module and store) gets two more decisions: a post hidden
with a statement that names a handle and an e-mail address, and a member suspended for
illegal content, reversed on appeal.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from ledger.application import DialogueLedger
from ledger.demo import PEOPLE
from ledger.domain import Act, Action, AppealOutcome, ModerationDecision, ReasonCode, Side
from ledger.errors import InvalidInput
from projections.change import EPOCH
from projections.runner import Projector
from replay.dsa import (
    MAX_BATCH,
    PUID_PATTERN,
    REQUIRED,
    DsaOptions,
    puid,
    puid_key_from_env,
    redact,
    to_statement,
    validate_statement,
)
from replay.moderation_export import (
    Decision,
    DecisionReader,
    DsaSummary,
    InvalidStatement,
    write_dsa,
)
from tests.scenario import build_world, start_thread
from tests.test_moderation_export import Demo, postgres_store, sqlite_store

KEY = b"a-test-key-that-is-long-enough"
OPTIONS = DsaOptions(puid_key=KEY)
NAMING_STATEMENT = ("Off topic, as @vince and vince.harlow@example.org pointed out "
                    "(cc @ruth).")
SUSPENSION_STATEMENT = "Threats against a named engineer: criminal law on threats."


def add_decisions(demo: Demo) -> None:
    """Hide a visible post with a statement that names people; suspend a member for illegal
    content and reverse the suspension on appeal."""
    app, people, clock = demo.app, demo.summary.people, demo.clock
    community = demo.summary.community_id
    demo.projector.catch_up()
    post = demo.projector.store("threads").query(
        "SELECT id FROM {prefix}posts WHERE community_id = ? AND moderation IS NULL "
        "AND retracted = 0 AND parent_id IS NOT NULL ORDER BY position LIMIT 1",
        [str(community)])[0]["id"]
    clock.advance(hours=1)
    app.moderate(community, Action.HIDE_POST, ReasonCode.OFF_TOPIC, NAMING_STATEMENT,
                 post_ids=[uuid.UUID(post)], actor_id=people["lena"])
    clock.advance(hours=1)
    suspension = app.moderate(community, Action.SUSPEND_MEMBER, ReasonCode.ILLEGAL,
                              SUSPENSION_STATEMENT, member_id=people["dmitri"],
                              actor_id=people["lena"]).id
    clock.advance(days=2)
    app.lodge_appeal(suspension, "I was quoting someone else.", actor_id=people["dmitri"])
    clock.advance(days=1)
    app.decide_appeal(suspension, AppealOutcome.REVERSED, "A quotation, not a threat.",
                      actor_id=people["bea"])


@pytest.fixture(scope="module")
def sqlite_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    yield from sqlite_store(tmp_path_factory.mktemp("dsa"), add_decisions)


@pytest.fixture(scope="module")
def postgres_demo() -> Iterator[Demo]:
    yield from postgres_store(add_decisions)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def demo(request: pytest.FixtureRequest) -> Demo:
    found: Demo = request.getfixturevalue(f"{request.param}_demo")
    return found


def export(projector: Projector, options: DsaOptions = OPTIONS,
           **kwargs: Any) -> tuple[str, DsaSummary]:
    out = io.StringIO()
    summary = write_dsa(DecisionReader(projector), out, options, **kwargs)
    return out.getvalue(), summary


def statements_of(raw: str) -> list[dict[str, Any]]:
    return [s for line in raw.splitlines() for s in orjson.loads(line)["statements"]]


def day(us: int) -> str:
    return (EPOCH + timedelta(microseconds=us)).date().isoformat()


# =========================================================================================
# What the demo becomes
# =========================================================================================
def test_every_statement_of_the_demo_passes_the_database_rules(demo: Demo) -> None:
    raw, summary = export(demo.projector)
    statements = statements_of(raw)
    assert (summary.statements, summary.batches, summary.skipped) == (6, 1, 1)  # unlock
    assert len(statements) == 6
    for statement in statements:
        assert validate_statement(statement) == [], statement

    decisions = {puid(d["id"], KEY): d for d in demo.decisions()}

    def decision(statement: dict[str, Any]) -> dict[str, Any]:
        return decisions[statement["puid"]]

    def kind(statement: dict[str, Any]) -> str:
        return f"{decision(statement)['action']}/{decision(statement)['reason_code']}"

    assert sorted(kind(s) for s in statements) == [
        "hide-post/off-topic", "hide-post/off-topic", "hide-post/spam",
        "lock-thread/harassment", "remove-post/confidential", "suspend-member/illegal"]
    by_action = {kind(s): s for s in statements}
    named = next(s for s in statements if decision(s)["statement"] == NAMING_STATEMENT)
    assert named["decision_facts"] == ("Off topic, as [handle removed] and [e-mail removed] "
                                       "pointed out (cc [handle removed]).")

    removal = by_action["remove-post/confidential"]
    assert removal["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    assert removal["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    assert removal["category"] == "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS"
    assert removal["decision_facts"] == decision(removal)["statement"]
    assert removal["end_date_visibility_restriction"] == day(
        decision(removal)["appeal_decided_us"])
    assert removal["application_date"] == day(decision(removal)["decided_us"])
    assert "illegal_content_legal_ground" not in removal

    spam = by_action["hide-post/spam"]
    assert spam["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_DISABLED"]
    assert spam["category"] == "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"
    assert spam["automated_detection"] == "Yes"
    assert "end_date_visibility_restriction" not in spam

    lock = by_action["lock-thread/harassment"]
    assert lock["decision_visibility"] == [
        "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED"]
    assert lock["category"] == "STATEMENT_CATEGORY_CYBER_VIOLENCE"
    assert lock["automated_detection"] == "No"
    opened = demo.projector.store("threads").query(
        "SELECT opened_us FROM {prefix}threads WHERE id = ?",
        [decision(lock)["thread_id"]])[0]["opened_us"]
    assert lock["content_date"] == day(opened) < lock["application_date"]

    suspension = by_action["suspend-member/illegal"]
    assert suspension["decision_account"] == "DECISION_ACCOUNT_SUSPENDED"
    assert "decision_visibility" not in suspension
    assert suspension["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
    assert suspension["illegal_content_legal_ground"]
    assert suspension["illegal_content_explanation"]
    assert "incompatible_content_ground" not in suspension
    assert suspension["category"] == "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH"
    assert suspension["content_date"] == suspension["application_date"]
    assert suspension["end_date_account_restriction"] == day(
        decision(suspension)["appeal_decided_us"])
    assert suspension["decision_facts"] == SUSPENSION_STATEMENT

    for statement in statements:
        assert statement["content_type"] == ["CONTENT_TYPE_TEXT"]
        assert statement["source_type"] == "SOURCE_VOLUNTARY"
        assert statement["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
        assert statement["content_date"] <= statement["application_date"]


# =========================================================================================
# The mapping, decision by decision
# =========================================================================================
def make_decision(action: Action, reason: ReasonCode, **changes: Any) -> Decision:
    fields: dict[str, Any] = dict(
        id=str(uuid.uuid4()), position=10, community_id="c", community_slug="square",
        decided_us=int(datetime(2026, 9, 2, 23, 59, tzinfo=UTC).timestamp() * 1_000_000),
        action=action.value, reason_code=reason.value, statement="Broke the rule.",
        moderator_side="community", automated_detection=False, author_notified=False,
        notice=None, notified_us=None, post_ids=(), thread_id=None, member_id=None,
        appeal_status="none", appeal_lodged_us=None, appeal_decided_us=None,
        appeal_reasons=None,
        content_us=int(datetime(2026, 9, 1, tzinfo=UTC).timestamp() * 1_000_000))
    fields.update(changes)
    return Decision(**fields)


CATEGORY = {
    ReasonCode.SPAM: "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
    ReasonCode.HARASSMENT: "STATEMENT_CATEGORY_CYBER_VIOLENCE",
    ReasonCode.OFF_TOPIC: "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
    ReasonCode.ILLEGAL: "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
    ReasonCode.CONFIDENTIAL: "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
    ReasonCode.OTHER: "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
}
RESTRICTION = {
    Action.HIDE_POST: ("decision_visibility", ["DECISION_VISIBILITY_CONTENT_DISABLED"]),
    Action.REMOVE_POST: ("decision_visibility", ["DECISION_VISIBILITY_CONTENT_REMOVED"]),
    Action.LOCK_THREAD: ("decision_visibility",
                         ["DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED"]),
    Action.SUSPEND_MEMBER: ("decision_account", "DECISION_ACCOUNT_SUSPENDED"),
}


@pytest.mark.parametrize("reason", list(ReasonCode))
@pytest.mark.parametrize("action", list(RESTRICTION))
def test_each_reason_and_restrictive_action_makes_a_valid_statement(
        action: Action, reason: ReasonCode) -> None:
    statement = to_statement(make_decision(action, reason), OPTIONS)
    assert statement is not None
    assert validate_statement(statement) == []
    field, value = RESTRICTION[action]
    assert statement[field] == value
    assert statement["category"] == CATEGORY[reason]
    illegal = reason is ReasonCode.ILLEGAL
    assert statement["decision_ground"] == ("DECISION_GROUND_ILLEGAL_CONTENT" if illegal
                                            else "DECISION_GROUND_INCOMPATIBLE_CONTENT")
    prefix = "illegal_content_" if illegal else "incompatible_content_"
    assert all(k.startswith(prefix) for k in statement if k.endswith(("_ground", "_explanation"))
               and k != "decision_ground")
    assert statement["content_date"] == "2026-09-01"
    assert statement["application_date"] == "2026-09-02"  # the UTC date of 23:59 UTC


@pytest.mark.parametrize("action", [Action.RESTORE_POST, Action.UNLOCK_THREAD,
                                    Action.REINSTATE_MEMBER])
def test_lifting_decisions_are_not_statements_of_reasons(action: Action) -> None:
    assert to_statement(make_decision(action, ReasonCode.OTHER), OPTIONS) is None


def test_a_reversal_ends_the_restriction_no_earlier_than_it_applied() -> None:
    decided = make_decision(Action.HIDE_POST, ReasonCode.SPAM).decided_us
    day_us = 86_400_000_000
    reversed_ = make_decision(Action.HIDE_POST, ReasonCode.SPAM, appeal_status="reversed",
                              appeal_decided_us=decided + 3 * day_us)
    statement = to_statement(reversed_, OPTIONS)
    assert statement is not None
    assert statement["end_date_visibility_restriction"] == "2026-09-05"
    backdated = make_decision(Action.SUSPEND_MEMBER, ReasonCode.SPAM,
                              appeal_status="reversed", appeal_decided_us=decided - day_us)
    statement = to_statement(backdated, OPTIONS)
    assert statement is not None
    assert statement["end_date_account_restriction"] == statement["application_date"]
    upheld = to_statement(make_decision(Action.HIDE_POST, ReasonCode.SPAM,
                                        appeal_status="upheld", appeal_decided_us=decided),
                          OPTIONS)
    assert upheld is not None and not any(k.startswith("end_date") for k in upheld)


def test_redaction_strips_emails_and_handles_and_facts_stay_within_5000_characters() -> None:
    assert redact("Ask jane.doe+x@mail.example.org or @jane_d. Or @ruth!") == (
        "Ask [e-mail removed] or [handle removed]. Or [handle removed]!")
    assert redact("Costs 5 @ 10 EUR") == "Costs 5 @ 10 EUR"
    long = " ".join(["x@example.org"] * 357)  # 4,997 characters; 6,068 once redacted
    assert len(long) <= 5_000
    statement = to_statement(make_decision(Action.HIDE_POST, ReasonCode.SPAM, statement=long),
                             OPTIONS)
    assert statement is not None
    facts = statement["decision_facts"]
    assert len(facts) <= 5_000 and facts.endswith("…") and "@" not in facts
    assert validate_statement(statement) == []
    only_handles = to_statement(make_decision(Action.HIDE_POST, ReasonCode.SPAM,
                                              statement="@vince"), OPTIONS)
    assert only_handles is not None and only_handles["decision_facts"] == "[handle removed]"


# =========================================================================================
# The database's rules refuse what the database refuses
# =========================================================================================
def valid() -> dict[str, Any]:
    statement = to_statement(make_decision(Action.HIDE_POST, ReasonCode.SPAM), OPTIONS)
    assert statement is not None
    return statement


def test_the_rules_accept_a_statement_at_every_boundary() -> None:
    statement = valid()
    statement.update(
        decision_facts="f" * 5_000, incompatible_content_ground="g" * 500,
        incompatible_content_explanation="e" * 2_000, puid="A-z_0" * 100,
        content_date="2000-01-01", application_date="2020-01-01",
        end_date_visibility_restriction="2020-01-01",
        decision_account="DECISION_ACCOUNT_TERMINATED",
        territorial_scope=["DE", "NO", "IS"], content_language="DE",
        category_addition=["STATEMENT_CATEGORY_VIOLENCE"],
        category_specification=["KEYWORD_OTHER"], category_specification_other="x" * 500,
        decision_ground_reference_url="https://example.org/rules",
        incompatible_content_illegal="No", account_type="ACCOUNT_TYPE_PRIVATE")
    assert validate_statement(statement) == []
    statement.update(application_date="2038-01-01", end_date_visibility_restriction=None)
    assert validate_statement(statement) == []


Mutation = Callable[[dict[str, Any]], None]


def setter(**values: Any) -> Mutation:
    return lambda s: s.update(values)


def dropper(*names: str) -> Mutation:
    def drop(s: dict[str, Any]) -> None:
        for name in names:
            s.pop(name, None)
    return drop


def illegal_without(name: str) -> Mutation:
    def mutate(s: dict[str, Any]) -> None:
        s.pop("incompatible_content_ground")
        s.pop("incompatible_content_explanation")
        s.update(decision_ground="DECISION_GROUND_ILLEGAL_CONTENT",
                 illegal_content_legal_ground="Law", illegal_content_explanation="Why")
        s.pop(name)
    return mutate


REFUSALS: list[tuple[str, Mutation, str]] = [
    ("no decision at all", dropper("decision_visibility"), "decision_visibility, "),
    ("empty decision array", setter(decision_visibility=[]), "decision_visibility, "),
    ("unknown visibility", setter(decision_visibility=["DECISION_VISIBILITY_HIDDEN"]),
     "decision_visibility"),
    ("visibility not an array", setter(decision_visibility="DECISION_VISIBILITY_CONTENT_REMOVED"),
     "decision_visibility"),
    ("unknown account decision", setter(decision_account="DECISION_ACCOUNT_BANNED"),
     "decision_account"),
    ("unknown monetary decision", setter(decision_monetary="DECISION_MONETARY_FINE"),
     "decision_monetary"),
    ("unknown provision decision", setter(decision_provision="DECISION_PROVISION_SOME"),
     "decision_provision"),
    ("unknown ground", setter(decision_ground="DECISION_GROUND_RUDE"), "decision_ground"),
    ("unknown category", setter(category="STATEMENT_CATEGORY_SPAM"), "category"),
    ("lower-case category", setter(category="statement_category_violence"), "category"),
    ("unknown additional category", setter(category_addition=["SPAM"]), "category_addition"),
    ("unknown content type", setter(content_type=["CONTENT_TYPE_POST"]), "content_type"),
    ("content type not an array", setter(content_type="CONTENT_TYPE_TEXT"), "content_type"),
    ("unknown source", setter(source_type="SOURCE_USER"), "source_type"),
    ("detection not Yes/No", setter(automated_detection="yes"), "automated_detection"),
    ("detection a boolean", setter(automated_detection=True), "automated_detection"),
    ("unknown automation", setter(automated_decision="AUTOMATED_DECISION_SOMEWHAT"),
     "automated_decision"),
    ("non-EEA territory", setter(territorial_scope=["US"]), "territorial_scope"),
    ("language not ISO 639-1 upper case", setter(content_language="en"), "content_language"),
    ("keyword without KEYWORD_", setter(category_specification=["HATE"]),
     "category_specification"),
    ("unknown account type", setter(account_type="ACCOUNT_TYPE_BOT"), "account_type"),
    ("illegal flag not Yes/No", setter(incompatible_content_illegal="Maybe"),
     "incompatible_content_illegal"),
    ("facts too long", setter(decision_facts="f" * 5_001), "decision_facts"),
    ("ground too long", setter(incompatible_content_ground="g" * 501),
     "incompatible_content_ground"),
    ("explanation too long", setter(incompatible_content_explanation="e" * 2_001),
     "incompatible_content_explanation"),
    ("puid too long", setter(puid="p" * 501), "puid"),
    ("puid with a space", setter(puid="dl 1"), "puid"),
    ("puid with a slash", setter(puid="dl/1"), "puid"),
    ("puid with a dot", setter(puid="dl.1"), "puid"),
    ("puid with a newline", setter(puid="dl1\n"), "puid"),
    ("puid not a string", setter(puid=12), "puid"),
    ("facts only spaces", setter(decision_facts="   "), "decision_facts"),
    ("content before 2000", setter(content_date="1999-12-31"), "content_date"),
    ("application before 2020", setter(application_date="2019-12-31"), "application_date"),
    ("application after 2038", setter(application_date="2038-01-02"), "application_date"),
    ("date without leading zeros", setter(content_date="2026-9-1"), "content_date"),
    ("date with a time", setter(application_date="2026-09-01T10:00:00"), "application_date"),
    ("impossible date", setter(application_date="2026-02-30"), "application_date"),
    ("end before application", setter(end_date_visibility_restriction="2026-09-01"),
     "end_date_visibility_restriction"),
    ("end date malformed", setter(end_date_account_restriction="01/09/2026"),
     "end_date_account_restriction"),
    ("incompatible without ground", dropper("incompatible_content_ground"),
     "incompatible_content_ground"),
    ("incompatible without explanation", dropper("incompatible_content_explanation"),
     "incompatible_content_explanation"),
    ("illegal without legal ground", illegal_without("illegal_content_legal_ground"),
     "illegal_content_legal_ground"),
    ("illegal without explanation", illegal_without("illegal_content_explanation"),
     "illegal_content_explanation"),
    ("illegal fields on incompatible ground", setter(illegal_content_legal_ground="Law"),
     "illegal_content_legal_ground"),
    ("visibility other without text",
     setter(decision_visibility=["DECISION_VISIBILITY_OTHER"]), "decision_visibility_other"),
    ("visibility other too long",
     setter(decision_visibility=["DECISION_VISIBILITY_OTHER"],
            decision_visibility_other="o" * 501), "decision_visibility_other"),
    ("monetary other without text", setter(decision_monetary="DECISION_MONETARY_OTHER"),
     "decision_monetary_other"),
    ("content type other without text", setter(content_type=["CONTENT_TYPE_OTHER"]),
     "content_type_other"),
    ("other text without other", setter(content_type_other="Podcast"), "content_type_other"),
    ("reference not a URL", setter(decision_ground_reference_url="our rules"),
     "decision_ground_reference_url"),
    ("unknown field", setter(decision_fact="typo"), "decision_fact"),
]


@pytest.mark.parametrize(("mutate", "field"), [(m, f) for _, m, f in REFUSALS],
                         ids=[case for case, _, _ in REFUSALS])
def test_the_rules_refuse_what_the_database_refuses(mutate: Mutation, field: str) -> None:
    statement = valid()
    mutate(statement)
    errors = validate_statement(statement)
    assert any(e.startswith(field) for e in errors), errors


@pytest.mark.parametrize("name", REQUIRED)
@pytest.mark.parametrize("blank", [None, "", []])
def test_each_required_field_is_required(name: str, blank: object) -> None:
    statement = valid()
    if blank is None:
        del statement[name]
    else:
        statement[name] = blank
    assert f"{name}: required" in validate_statement(statement)


def test_a_statement_that_is_not_an_object_is_refused() -> None:
    assert validate_statement([]) == ["statement: must be a JSON object"]  # type: ignore[arg-type]


# =========================================================================================
# Batches
# =========================================================================================
def test_batches_hold_at_most_100_statements(ledger: DialogueLedger) -> None:
    """250 decisions, saved directly as aggregates (fast on PostgreSQL): 230 hidings, each
    a statement, and 20 restorations, skipped."""
    world = build_world(ledger)
    _, opening = start_thread(ledger, world.circle, world.alice)
    act = Act(actor_id=world.community_moderator, occurred_at=ledger.clock())
    decisions = [
        ModerationDecision(
            community_id=world.circle, moderator_side=Side.COMMUNITY,
            action=Action.RESTORE_POST if n % 25 >= 23 else Action.HIDE_POST,
            reason_code=list(ReasonCode)[n % len(ReasonCode)], statement=f"Decision {n}.",
            post_ids=(opening,), thread_id=None, member_id=None,
            affected_person_ids=(world.alice,), automated_detection=n % 2 == 0,
            author_notified=False, act=act)
        for n in range(250)]
    ledger.save(*decisions)
    projector = Projector(ledger)
    projector.catch_up()
    raw, summary = export(projector)
    batches = [orjson.loads(line)["statements"] for line in raw.splitlines()]
    assert [len(b) for b in batches] == [100, 100, 30]
    assert (summary.statements, summary.batches, summary.skipped) == (230, 3, 20)
    statements = [s for b in batches for s in b]
    assert all(validate_statement(s) == [] for s in statements)
    assert len({s["puid"] for s in statements}) == 230
    raw, summary = export(projector, batch_size=7)
    assert max(len(orjson.loads(line)["statements"]) for line in raw.splitlines()) == 7
    with pytest.raises(InvalidInput):
        export(projector, batch_size=MAX_BATCH + 1)


# =========================================================================================
# No personal data
# =========================================================================================
def test_no_personal_data_reaches_the_dsa_output(demo: Demo) -> None:
    raw, _ = export(demo.projector, DsaOptions(puid_key=KEY,
                                               reference_url="https://example.org/rules"))
    text = raw.casefold()
    words = set(re.findall(r"\w+", text))
    # Handles and every part of every display name, as words.
    for handle, (name, _) in PEOPLE.items():
        assert handle.casefold() not in words, handle
        for part in name.split():
            assert part.casefold() not in words, part
    # No e-mail address or @handle: not a single @ (the moderator's statement named both).
    assert "@" not in raw
    assert "[handle removed]" in raw and "[e-mail removed]" in raw
    # No post body (any version), thread title, notice or appeal statement.
    threads, moderation = demo.projector.store("threads"), demo.projector.store("moderation")
    texts = [r["body"] for r in threads.query(
        "SELECT body FROM {prefix}post_versions UNION ALL SELECT body FROM {prefix}posts")]
    texts += [r["title"] for r in threads.query("SELECT title FROM {prefix}threads")]
    texts += [r[k] for r in moderation.query("SELECT * FROM {prefix}decisions")
              for k in ("notice", "appeal_statement", "appeal_reasons") if r[k]]
    assert len(texts) > 250
    for body in texts:
        assert body.casefold() not in text, body
    # No id from the ledger: no UUID at all, nor a decision id's hex digits.
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-", text)
    for row in moderation.query("SELECT id FROM {prefix}decisions"):
        assert uuid.UUID(row["id"]).hex not in text


# =========================================================================================
# Stable puids
# =========================================================================================
def test_puids_are_stable_across_exports_and_a_rebuild_and_private_to_the_key(
        demo: Demo) -> None:
    first, _ = export(demo.projector)
    second, _ = export(demo.projector)
    assert first == second
    demo.projector.rebuild()
    rebuilt, _ = export(demo.projector)
    assert rebuilt == first

    puids = [s["puid"] for s in statements_of(first)]
    assert len(set(puids)) == len(puids) == 6
    assert all(PUID_PATTERN.fullmatch(p) and len(p) <= 500 for p in puids)
    expected = {puid(d["id"], KEY) for d in demo.decisions() if d["action"] != "unlock-thread"}
    assert set(puids) == expected
    other_key = DsaOptions(puid_key=b"another-key-that-is-long-enough")
    assert not set(puids) & {s["puid"] for s in statements_of(export(demo.projector,
                                                                      other_key)[0])}


def test_the_puid_key_must_be_set_and_long_enough() -> None:
    with pytest.raises(InvalidInput, match="DIALOGUE_LEDGER_PUID_KEY"):
        puid_key_from_env({})
    with pytest.raises(InvalidInput):
        puid_key_from_env({"DIALOGUE_LEDGER_PUID_KEY": "short"})
    assert puid_key_from_env({"DIALOGUE_LEDGER_PUID_KEY": KEY.decode()}) == KEY
    with pytest.raises(InvalidInput):
        DsaOptions(puid_key=b"short")


def test_a_decision_that_makes_an_invalid_statement_stops_the_export() -> None:
    decisions = [make_decision(Action.HIDE_POST, ReasonCode.SPAM)]
    with pytest.raises(InvalidStatement, match="does not make a valid statement"):
        write_dsa(decisions, io.StringIO(), DsaOptions(puid_key=KEY, reference_url="rules"))
    ancient = make_decision(Action.HIDE_POST, ReasonCode.SPAM, decided_us=0, content_us=0)
    with pytest.raises(InvalidStatement):
        write_dsa([ancient], io.StringIO(), OPTIONS)
