"""Acceptable text (ledger.domain.text): handles by PRECIS with look-alikes refused, names by
the PRECIS Nickname profile, free text without controls, bidi overrides or invisible
characters and stored NFC. Checked by the commands, before any event: on SQLite and
PostgreSQL alike, a refusal records nothing."""

from __future__ import annotations

import json
import threading
import unicodedata
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError

from ledger.application import DialogueLedger
from ledger.domain import Act, HandleClaim, Person, PostKind, Thread
from ledger.domain.base import deterministic_id, now_utc
from ledger.domain.text import check_free_text, check_handle, check_name, claim_key
from ledger.errors import HandleConfusable, HandleTaken, InvalidInput, NotFound
from ledger.imports.base import import_archive
from ledger.imports.github import GitHubArchive, GitHubOptions
from tests.conftest import Cli


def refusal(error: pytest.ExceptionInfo[InvalidInput]) -> tuple[str, str]:
    return error.value.details["field"], error.value.details["rule"]


# --- handles ---------------------------------------------------------------------------
def test_an_ascii_handle_keeps_the_person_id_it_always_had() -> None:
    for handle in ("ruth", "Ruth", "ledger-importer", "dependabot[bot]", "a.b@example.org"):
        assert Person.create_id(handle) == deterministic_id("person", handle.lower())


def test_a_handle_is_stored_in_its_precis_form_and_case_width_and_nfc_variants_are_one(
        ledger: DialogueLedger) -> None:
    ruth = ledger.register_person("Ruth", "Ruth Adeyemi")
    assert ledger.get(Person, ruth.id).handle == "Ruth"
    for same in ("ruth", "RUTH", "\uff52\uff55\uff54\uff48"):  # fullwidth ruth
        with pytest.raises(HandleTaken):
            ledger.register_person(same, "Someone Else")
        assert ledger.person_id(same) == ruth.id
    zoe = ledger.register_person("Zoe\u0308", "Zoë")  # decomposed: stored composed
    assert ledger.get(Person, zoe.id).handle == "Zo\u00eb"
    assert ledger.person_id("zo\u00eb") == zoe.id


@pytest.mark.parametrize(("handle", "rule"), [
    ("nul\x00x", "precis-username"), ("esc\x1bx", "precis-username"),
    ("del\x7fx", "precis-username"), ("c1\x85x", "precis-username"),
    ("ruth\u200b", "precis-username"), ("\u202eruth", "precis-username"),
    ("two words", "precis-username"), ("a/b", "slash"), ("r\u0443th", "mixed-script"),
    ("6f1c1f0e-9a53-4d5e-9a51-0d1a1e6c2b7a", "looks-like-id"), ("x" * 101, "too-long"),
    ("", "precis-username"),
])
def test_an_unacceptable_handle_is_refused_naming_the_rule(handle: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as error:
        check_handle(handle)
    assert refusal(error) == ("handle", rule)


def test_handles_of_one_script_or_an_allowed_mix_are_accepted() -> None:
    for handle in ("ruth", "\u0440\u0443\u0442", "\u65e5\u672c\u3072\u3089abc", "n\u00f8rd",
                   "\u03c3\u03bf\u03c6\u03af\u03b1", "alice@example.org"):
        assert check_handle(handle)


#: "pace" in Cyrillic letters (er, a, es, ie): one script, and it looks like Latin "pace".
CYRILLIC_PACE = "\u0440\u0430\u0441\u0435"


def test_look_alikes_share_a_claim_key() -> None:
    assert claim_key("ruth") == claim_key("r\u057dth") == claim_key("r\u03c5th")
    assert claim_key("pace") == claim_key(CYRILLIC_PACE)
    assert claim_key("r0th") == claim_key("roth")
    assert claim_key("emma") == claim_key("ernrna")
    assert claim_key("ruth") != claim_key("ryth")


def test_a_look_alike_of_a_registered_handle_is_refused_and_records_nothing(
        ledger: DialogueLedger) -> None:
    ledger.register_person("pace", "Pace")
    ledger.register_person("roth", "Roth")
    emma = ledger.register_person("emma", "Emma")  # m looks like rn: a claim is saved too
    position = ledger.position
    for look_alike in (CYRILLIC_PACE, "r0th", "ernrna", "emrna", "ernma"):
        with pytest.raises(HandleConfusable):
            ledger.register_person(look_alike, "Impostor")
    assert ledger.position == position
    assert ledger.get(HandleClaim, HandleClaim.create_id("ernrna")).person_id == emma.id


def test_the_handle_a_look_alike_claimed_first_is_refused_too(ledger: DialogueLedger) -> None:
    ledger.register_person(CYRILLIC_PACE, "Cyrillic")
    with pytest.raises(HandleConfusable):
        ledger.register_person("pace", "Latin")
    with pytest.raises(NotFound):  # a claim is no person
        ledger.person_id("pace")


def test_two_look_alikes_saved_at_once_conflict_in_the_store(
        ledger: DialogueLedger) -> None:
    act = Act(actor_id=Person.create_id("ruth"), occurred_at=now_utc())
    key = claim_key(CYRILLIC_PACE)
    first = Person(handle=CYRILLIC_PACE, display_name="One", is_bot=False, act=act)
    second = Person(handle="p\u0430\u0441\u0435", display_name="Two", is_bot=False, act=act)
    ledger.save(first, HandleClaim(key=key, person_id=first.id, act=act))
    with pytest.raises(IntegrityError):
        ledger.save(second, HandleClaim(key=key, person_id=second.id, act=act))


def test_concurrent_registrations_of_look_alikes_register_exactly_one(
        make_ledger: type[DialogueLedger]) -> None:
    apps = [make_ledger() for _ in range(3)]
    handles = [CYRILLIC_PACE, "pace", "Pace"]
    start = threading.Barrier(len(apps))
    outcomes: list[str] = []

    def register(app: DialogueLedger, handle: str) -> None:
        start.wait()
        try:
            app.register_person(handle, "Contender")
            outcomes.append("registered")
        except (HandleConfusable, HandleTaken):
            outcomes.append("refused")

    threads = [threading.Thread(target=register, args=pair) for pair in zip(apps, handles,
                                                                            strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "refused", "registered"]


def test_a_person_registered_before_claims_blocks_look_alikes_of_a_plain_handle(
        ledger: DialogueLedger) -> None:
    """Persons from before this change hold no claim; a handle that is its own claim key
    (most ASCII handles: no m, 0 or 1) is still found, since its person holds the place."""
    act = Act(actor_id=Person.create_id("pace"), occurred_at=now_utc())
    ledger.save(Person(handle="pace", display_name="Old Pace", is_bot=False, act=act))
    with pytest.raises(HandleConfusable):
        ledger.register_person(CYRILLIC_PACE, "Impostor")


def test_a_person_stored_under_older_rules_still_loads_and_is_found_by_handle(
        ledger: DialogueLedger) -> None:
    """A handle the PRECIS rules refuse, recorded by older code, loads as it was."""
    old = "esc\x1b\u200b"
    act = Act(actor_id=Person.legacy_id(old), occurred_at=now_utc())
    person = Person(handle=old, display_name="\u202eold", is_bot=False, act=act)
    ledger.save(person)
    assert ledger.person_id(old) == Person.legacy_id(old)
    assert ledger.get(Person, Person.legacy_id(old)).display_name == "\u202eold"


# --- names -----------------------------------------------------------------------------
def test_names_are_stored_as_the_nickname_profile_enforces_them(
        ledger: DialogueLedger) -> None:
    assert check_name("name", "  Ruth   Adeyemi ") == "Ruth Adeyemi"
    person = ledger.register_person("ruth", "  Ruth   Adeyemi ")
    assert ledger.get(Person, person.id).display_name == "Ruth Adeyemi"


@pytest.mark.parametrize("name", ["\u202eevil", "red\x1b[31m", "nul\x00", "tab\there",
                                  "zero\u200bwidth", "   ", "x" * 201])
def test_an_unacceptable_name_is_refused_and_records_nothing(
        ledger: DialogueLedger, name: str) -> None:
    with pytest.raises(InvalidInput) as error:
        ledger.register_person("ruth", name)
    assert refusal(error)[0] == "display_name"
    assert ledger.position == 0


# --- free text -------------------------------------------------------------------------
REFUSED_IN_FREE_TEXT = [
    *[(chr(c), "control-character") for c in range(0x20) if chr(c) not in "\t\n\r"],
    ("\x7f", "control-character"), ("\x80", "control-character"),
    ("\x85", "control-character"), ("\x9b", "control-character"),
    ("\ud800", "unpaired-surrogate"), ("\udfff", "unpaired-surrogate"),
    *[(chr(c), "bidi-control") for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))],
    ("\u200b", "invisible-character"), ("\ufeff", "invisible-character"),
]


@pytest.mark.parametrize(("char", "rule"), REFUSED_IN_FREE_TEXT,
                         ids=[f"U+{ord(c):04X}" for c, _ in REFUSED_IN_FREE_TEXT])
def test_free_text_refuses_controls_surrogates_bidi_controls_and_invisibles(
        char: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as error:
        check_free_text("body", f"before{char}after", 100)
    assert refusal(error) == ("body", rule)
    assert error.value.details["codepoint"] == f"U+{ord(char):04X}"


def test_free_text_keeps_tabs_newlines_marks_and_joiners_and_is_stored_nfc_with_lf(
        ledger: DialogueLedger) -> None:
    kept = "a\tb\nc \u200f\u05e9\u05dc\u05d5\u05dd\u200e \U0001f469\u200d\U0001f52c"
    assert check_free_text("body", kept, 100) == kept
    assert check_free_text("body", "one\r\ntwo\rthree", 100) == "one\ntwo\nthree"
    maya = ledger.register_person("maya", "Maya")
    org = ledger.found_organisation("Northwind", "northwind", actor_id=maya.id).id
    from ledger.domain import Access

    community = ledger.create_community(org, "Voices", "voices", access=Access.OPEN,
                                        actor_id=maya.id).id
    thread = ledger.open_thread(community, PostKind.QUESTION, "Cafe\u0301?",
                                "Line one\r\nline two: cafe\u0301", actor_id=maya.id).id
    opened = ledger.get(Thread, thread)
    assert opened.title == "Caf\u00e9?"
    from ledger.domain import Post

    body = ledger.get(Post, opened.opening_post_id).body
    assert body == "Line one\nline two: caf\u00e9"
    assert unicodedata.is_normalized("NFC", body)


def test_a_refused_free_text_records_nothing(ledger: DialogueLedger) -> None:
    maya = ledger.register_person("maya", "Maya")
    org = ledger.found_organisation("Northwind", "northwind", actor_id=maya.id).id
    from ledger.domain import Access

    community = ledger.create_community(org, "Voices", "voices", access=Access.OPEN,
                                        actor_id=maya.id).id
    position = ledger.position
    with pytest.raises(InvalidInput) as error:
        ledger.open_thread(community, PostKind.QUESTION, "Fine", "nul\x00here",
                           actor_id=maya.id)
    assert refusal(error) == ("body", "control-character")
    with pytest.raises(InvalidInput):
        ledger.open_thread(community, PostKind.QUESTION, "\u202eevil", "fine",
                           actor_id=maya.id)
    assert ledger.position == position


# --- importers -------------------------------------------------------------------------
def _issue(number: int, login: str, title: str, body: str) -> dict[str, object]:
    return {"id": 9000 + number, "number": number, "title": title, "body": body,
            "user": {"login": login, "type": "User"}, "labels": [],
            "created_at": f"2024-03-0{number}T10:00:00Z", "author_association": "NONE"}


def test_an_import_skips_unacceptable_and_look_alike_logins_and_cleans_free_text(
        ledger: DialogueLedger, tmp_path: Path) -> None:
    ledger.register_person("ruth", "Ruth")
    ledger.register_person("pace", "Pace")
    issues = [_issue(1, "frank", "Fine\u202e title", "Body with\x1b[31m escape\r\nand CRLF"),
              _issue(2, "nul\u0000login", "Broken", "A login with NUL"),
              _issue(3, CYRILLIC_PACE, "Impostor", "A look-alike of pace"),
              _issue(4, "r\u0443th", "Mixed", "A Latin and Cyrillic login")]
    (tmp_path / "issues-1.json").write_text(json.dumps(issues))
    summary = import_archive(ledger, GitHubArchive(tmp_path, GitHubOptions.of(None, ())),
                             "imported")
    assert summary.threads == 1
    assert summary.skipped_total == 3
    reasons = " ".join(summary.skipped)
    assert "unusable login" in reasons and "handle-confusable" in reasons
    frank = ledger.get(Person, ledger.person_id("frank"))
    assert frank.handle == "frank"
    from ledger.domain import Post
    from ledger.imports.base import imported_post

    assert summary.community_id is not None
    found = imported_post(ledger, summary.source, summary.community_id, "issue:9001")
    assert found is not None
    post = ledger.get(Post, found.post_id)
    assert post.body == "Body with[31m escape\nand CRLF"


def test_a_token_label_is_free_text_and_a_refused_one_records_nothing(
        ledger: DialogueLedger) -> None:
    from api.tokens import issue_token

    ledger.register_person("ruth", "Ruth")
    position = ledger.position
    with pytest.raises(InvalidInput) as error:
        issue_token(ledger, "ruth", "member", "laptop\x00")
    assert refusal(error) == ("label", "control-character")
    assert ledger.position == position
    issue_token(ledger, "ruth", "member", "")  # no label at all stays allowed
    assert ledger.position == position + 1


def test_an_mbox_import_records_acceptable_names_and_cleans_bodies(
        ledger: DialogueLedger, tmp_path: Path) -> None:
    from ledger.domain import Post
    from ledger.imports import MboxArchive, MboxOptions
    from ledger.imports.base import imported_post

    mbox = tmp_path / "hostile.mbox"
    mbox.write_bytes(
        b"From eve@example.org Fri Mar  1 10:00:00 2024\n"
        b"From: =?utf-8?q?Eve_=E2=80=AE_Reversed?= <eve@example.org>\n"
        b"Date: Fri, 01 Mar 2024 10:00:00 +0000\n"
        b"Message-ID: <m1@example.org>\n"
        b"Subject: A bell\x07 in the subject\n"
        b"Content-Type: text/plain; charset=utf-8\n\n"
        b"Ring\x07 ring, with a \xe2\x80\xae bidi override.\n\n")
    summary = import_archive(ledger, MboxArchive((mbox,), MboxOptions((), ())), "mail")
    assert (summary.threads, summary.skipped_total) == (1, 0)
    eve = ledger.get(Person, ledger.person_id("eve@example.org"))
    assert "\u202e" not in eve.display_name
    assert check_name("display_name", eve.display_name) == eve.display_name
    assert summary.community_id is not None
    found = imported_post(ledger, summary.source, summary.community_id, "message:m1@example.org")
    assert found is not None
    assert ledger.get(Post, found.post_id).body == "Ring ring, with a  bidi override."


def test_claiming_the_handles_of_people_registered_before_claims_refuses_their_look_alikes(
        ledger: DialogueLedger) -> None:
    """People recorded by older code hold no claim: ``claim-handles`` gives them one, and
    reports handles that already look alike; run again, it records nothing."""
    now = now_utc()
    old = [Person(handle=h, display_name=h, is_bot=False,
                  act=Act(actor_id=Person.legacy_id(h), occurred_at=now))
           for h in ("emma", "ernma", "ruth")]  # ernma looks like emma: no rule then
    ledger.save(*old)
    emma, ernma = old[0].id, old[1].id
    found = ledger.claim_registered_handles(batch_size=2)
    assert found.claimed == 1  # emma's; ruth holds her own place
    assert found.look_alikes == [("ernma", emma)]
    assert ledger.get(HandleClaim, HandleClaim.create_id("ernrna")).person_id == emma
    position = ledger.position
    again = ledger.claim_registered_handles()
    assert (again.claimed, again.look_alikes) == (0, [("ernma", emma)])
    assert ledger.position == position
    with pytest.raises(HandleConfusable):
        ledger.register_person("ernrna", "Impostor")
    assert ernma != emma


def test_the_command_line_claims_the_handles_and_lists_the_look_alikes(
        cli: Cli, store_env: dict[str, str]) -> None:
    app = DialogueLedger(store_env)
    try:
        now = now_utc()
        app.save(*[Person(handle=h, display_name=h, is_bot=False,
                          act=Act(actor_id=Person.legacy_id(h), occurred_at=now))
                   for h in ("emma", "ernma")])
    finally:
        app.close()
    code, out, _ = cli("claim-handles")
    assert code == 0
    assert "1 look-alike claims recorded" in out
    assert "'ernma' looks like the handle of person" in out
    code, out, _ = cli("claim-handles")
    assert (code, "0 look-alike claims recorded" in out) == (0, True)
