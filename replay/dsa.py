"""EU DSA Transparency Database: a moderation decision as a Statement of Reasons (SoR), and
the database's validation rules, so that a batch we produce is never refused.

The rules are encoded here from the database's API documentation and its request validation
(``StatementStoreRequest`` / ``StatementsStoreRequest``, schema of 1 July 2025):

* required fields, the enumerations, the maximum lengths;
* ``YYYY-MM-DD`` dates, ``content_date`` from 2000-01-01, ``application_date`` from
  2020-01-01, every date until 2038-01-01, every ``end_date_*`` not before the
  application date;
* ``puid`` matching ``^[a-zA-Z0-9-_]+$``;
* the conditional fields: the illegal-content fields with ``DECISION_GROUND_ILLEGAL_CONTENT``,
  the incompatible-content fields with ``DECISION_GROUND_INCOMPATIBLE_CONTENT``, every
  ``*_other`` field with its ``*_OTHER`` value, and at least one ``decision_*`` field.

:func:`validate_statement` is a little stricter than the database in two ways, both to catch
mistakes in our own mapping: it rejects fields the database does not know (it would ignore
them), and conditional fields sent without their condition (it would silently drop them).
It checks ``category_specification`` keywords and ``content_language`` by their form
(``KEYWORD_*``, two upper-case letters), not against the full lists.

**No personal data.** A statement carries no name, handle, e-mail address, post body or id
from the ledger. ``puid`` is a keyed hash of the decision id (see :func:`puid`): the public
thread views show a hidden post's decision id beside its author, so the raw id would let
anyone link a published statement to a person. ``decision_facts`` is the moderator's
statement of reasons: moderators must write it without naming anyone (see
``docs/compliance-exports.md``); as a safety net, e-mail addresses and ``@handles`` are
replaced (:func:`redact`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ledger.domain.moderation import Action, ReasonCode
from ledger.errors import InvalidInput

if TYPE_CHECKING:
    from replay.moderation_export import Decision

Statement = dict[str, Any]

# =========================================================================================
# The database's vocabulary
# =========================================================================================
DECISION_VISIBILITIES = frozenset({
    "DECISION_VISIBILITY_CONTENT_REMOVED", "DECISION_VISIBILITY_CONTENT_DISABLED",
    "DECISION_VISIBILITY_CONTENT_DEMOTED", "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED", "DECISION_VISIBILITY_CONTENT_LABELLED",
    "DECISION_VISIBILITY_OTHER"})
DECISION_MONETARIES = frozenset({
    "DECISION_MONETARY_SUSPENSION", "DECISION_MONETARY_TERMINATION", "DECISION_MONETARY_OTHER"})
DECISION_PROVISIONS = frozenset({
    "DECISION_PROVISION_PARTIAL_SUSPENSION", "DECISION_PROVISION_TOTAL_SUSPENSION",
    "DECISION_PROVISION_PARTIAL_TERMINATION", "DECISION_PROVISION_TOTAL_TERMINATION"})
DECISION_ACCOUNTS = frozenset({"DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED"})
ACCOUNT_TYPES = frozenset({"ACCOUNT_TYPE_BUSINESS", "ACCOUNT_TYPE_PRIVATE"})
ILLEGAL = "DECISION_GROUND_ILLEGAL_CONTENT"
INCOMPATIBLE = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
DECISION_GROUNDS = frozenset({ILLEGAL, INCOMPATIBLE})
CONTENT_TYPES = frozenset(f"CONTENT_TYPE_{t}" for t in (
    "APP", "AUDIO", "IMAGE", "PRODUCT", "SYNTHETIC_MEDIA", "TEXT", "VIDEO", "OTHER"))
CATEGORIES = frozenset(f"STATEMENT_CATEGORY_{c}" for c in (
    "ANIMAL_WELFARE", "CONSUMER_INFORMATION", "CYBER_VIOLENCE", "CYBER_VIOLENCE_AGAINST_WOMEN",
    "DATA_PROTECTION_AND_PRIVACY_VIOLATIONS", "ILLEGAL_OR_HARMFUL_SPEECH",
    "INTELLECTUAL_PROPERTY_INFRINGEMENTS", "NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
    "NOT_SPECIFIED_NOTICE", "OTHER_VIOLATION_TC", "PROTECTION_OF_MINORS",
    "RISK_FOR_PUBLIC_SECURITY", "SCAMS_AND_FRAUD", "SELF_HARM",
    "UNSAFE_AND_PROHIBITED_PRODUCTS", "VIOLENCE"))
SOURCE_TYPES = frozenset({"SOURCE_ARTICLE_16", "SOURCE_TRUSTED_FLAGGER",
                          "SOURCE_TYPE_OTHER_NOTIFICATION", "SOURCE_VOLUNTARY"})
AUTOMATED_DECISIONS = frozenset({"AUTOMATED_DECISION_FULLY", "AUTOMATED_DECISION_PARTIALLY",
                                 "AUTOMATED_DECISION_NOT_AUTOMATED"})
YES_NO = frozenset({"Yes", "No"})
#: The EU member states and the other EEA countries (Iceland, Liechtenstein, Norway).
EU_EEA_COUNTRIES = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
    "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO"})

#: One value from a list.
ENUMS: dict[str, frozenset[str]] = {
    "decision_monetary": DECISION_MONETARIES, "decision_provision": DECISION_PROVISIONS,
    "decision_account": DECISION_ACCOUNTS, "account_type": ACCOUNT_TYPES,
    "decision_ground": DECISION_GROUNDS, "category": CATEGORIES,
    "incompatible_content_illegal": YES_NO, "source_type": SOURCE_TYPES,
    "automated_detection": YES_NO, "automated_decision": AUTOMATED_DECISIONS,
}
#: An array of values from a list.
ARRAY_ENUMS: dict[str, frozenset[str]] = {
    "decision_visibility": DECISION_VISIBILITIES, "content_type": CONTENT_TYPES,
    "category_addition": CATEGORIES, "territorial_scope": EU_EEA_COUNTRIES,
}
MAX_LENGTHS: dict[str, int] = {
    "decision_visibility_other": 500, "decision_monetary_other": 500,
    "decision_ground_reference_url": 500, "illegal_content_legal_ground": 500,
    "illegal_content_explanation": 2_000, "incompatible_content_ground": 500,
    "incompatible_content_explanation": 2_000, "content_type_other": 500,
    "category_specification_other": 500, "decision_facts": 5_000, "source_identity": 500,
    "puid": 500,
}
REQUIRED = ("decision_ground", "content_type", "category", "content_date", "application_date",
            "decision_facts", "source_type", "automated_detection", "automated_decision", "puid")
DECISIONS = ("decision_visibility", "decision_monetary", "decision_provision",
             "decision_account")
DATES = ("content_date", "application_date", "end_date_account_restriction",
         "end_date_monetary_restriction", "end_date_service_restriction",
         "end_date_visibility_restriction")
END_DATES = DATES[2:]
#: The earliest date each date field accepts; every date must be on or before MAX_DATE.
MIN_DATES = {"content_date": date(2000, 1, 1), "application_date": date(2020, 1, 1)}
MAX_DATE = date(2038, 1, 1)
FIELDS = frozenset({*REQUIRED, *DECISIONS, *ENUMS, *ARRAY_ENUMS, *MAX_LENGTHS, *DATES,
                    "category_specification", "content_language"})
#: Conditional fields: (field, the field it depends on, the value that allows it).
CONDITIONAL = (
    ("decision_visibility_other", "decision_visibility", "DECISION_VISIBILITY_OTHER"),
    ("decision_monetary_other", "decision_monetary", "DECISION_MONETARY_OTHER"),
    ("content_type_other", "content_type", "CONTENT_TYPE_OTHER"),
    ("illegal_content_legal_ground", "decision_ground", ILLEGAL),
    ("illegal_content_explanation", "decision_ground", ILLEGAL),
    ("incompatible_content_ground", "decision_ground", INCOMPATIBLE),
    ("incompatible_content_explanation", "decision_ground", INCOMPATIBLE),
    ("incompatible_content_illegal", "decision_ground", INCOMPATIBLE),
)
#: Conditional fields that are required (not just allowed) when their condition holds.
REQUIRED_IF = frozenset(f for f, _, _ in CONDITIONAL) - {"incompatible_content_illegal"}
PUID_PATTERN = re.compile(r"^[a-zA-Z0-9-_]+$")
# Matched with fullmatch: "$" alone would also match before a final newline.
_DATE_FORM = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_KEYWORD_FORM = re.compile(r"KEYWORD_[A-Z0-9_]+")
_LANGUAGE_FORM = re.compile(r"[A-Z]{2}")
#: How many statements one ``POST /api/v1/statements`` accepts.
MAX_BATCH = 100


# =========================================================================================
# Validation
# =========================================================================================
def validate_statement(sor: Mapping[str, Any]) -> list[str]:
    """Every rule of the database ``sor`` breaks, as ``"field: problem"`` messages; empty if
    the database would accept it."""
    if not isinstance(sor, Mapping):
        return ["statement: must be a JSON object"]
    errors: list[str] = []
    for name in sorted(set(sor) - FIELDS):
        errors.append(f"{name}: not a field of a statement of reasons")
    for name in REQUIRED:
        if _blank(sor.get(name)):
            errors.append(f"{name}: required")
    if all(_blank(sor.get(name)) for name in DECISIONS):
        errors.append(f"{', '.join(DECISIONS)}: at least one is required")
    for name, allowed in ENUMS.items():
        value = sor.get(name)
        if not _blank(value) and (not isinstance(value, str) or value not in allowed):
            errors.append(f"{name}: {value!r} is not one of the allowed values")
    for name, allowed in ARRAY_ENUMS.items():
        value = sor.get(name)
        if _blank(value):
            continue
        if not isinstance(value, list):
            errors.append(f"{name}: must be an array")
            continue
        for item in value:
            if not isinstance(item, str) or item not in allowed:
                errors.append(f"{name}: {item!r} is not one of the allowed values")
    _check_forms(sor, errors)
    for name, limit in MAX_LENGTHS.items():
        value = sor.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            errors.append(f"{name}: must be a string")
        elif len(value) > limit:
            errors.append(f"{name}: longer than {limit} characters ({len(value)})")
    for name, depends_on, value in CONDITIONAL:
        holds = _has(sor.get(depends_on), value)
        if holds and name in REQUIRED_IF and _blank(sor.get(name)):
            errors.append(f"{name}: required when {depends_on} is {value}")
        elif not holds and not _blank(sor.get(name)):
            errors.append(f"{name}: only allowed when {depends_on} is {value}")
    _check_dates(sor, errors)
    puid = sor.get("puid")
    if isinstance(puid, str) and puid and not PUID_PATTERN.fullmatch(puid):
        errors.append(f"puid: must match {PUID_PATTERN.pattern}")
    return errors


def _check_forms(sor: Mapping[str, Any], errors: list[str]) -> None:
    keywords = sor.get("category_specification")
    if not _blank(keywords):
        if not isinstance(keywords, list):
            errors.append("category_specification: must be an array")
        else:
            errors.extend(f"category_specification: {k!r} is not a KEYWORD_* value"
                          for k in keywords if not isinstance(k, str)
                          or not _KEYWORD_FORM.fullmatch(k))
    language = sor.get("content_language")
    if not _blank(language) and (not isinstance(language, str)
                                 or not _LANGUAGE_FORM.fullmatch(language)):
        errors.append(f"content_language: {language!r} is not an upper-case ISO 639-1 code")
    url = sor.get("decision_ground_reference_url")
    if isinstance(url, str) and url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors.append(f"decision_ground_reference_url: {url!r} is not a URL")


def _check_dates(sor: Mapping[str, Any], errors: list[str]) -> None:
    dates: dict[str, date] = {}
    for name in DATES:
        value = sor.get(name)
        if _blank(value):
            continue
        if not isinstance(value, str) or not _DATE_FORM.fullmatch(value):
            errors.append(f"{name}: {value!r} is not a date in the form YYYY-MM-DD")
            continue
        try:
            day = date.fromisoformat(value)
        except ValueError:
            errors.append(f"{name}: {value!r} is not a date")
            continue
        earliest = MIN_DATES.get(name)
        if earliest is not None and day < earliest:
            errors.append(f"{name}: must be on or after {earliest.isoformat()}")
        if day > MAX_DATE:
            errors.append(f"{name}: must be on or before {MAX_DATE.isoformat()}")
        dates[name] = day
    applied = dates.get("application_date")
    for name in END_DATES:
        if applied is not None and name in dates and dates[name] < applied:
            errors.append(f"{name}: must not be before application_date")


def _blank(value: Any) -> bool:
    """Laravel's "required" fails for null, empty or whitespace-only strings, and empty
    arrays."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict):
        return not value
    return False


def _has(value: Any, wanted: str) -> bool:
    return value == wanted or (isinstance(value, list) and wanted in value)


# =========================================================================================
# The mapping
# =========================================================================================
@dataclass(frozen=True)
class Grounds:
    """How one reason code is reported: its category, and the ground and explanation texts
    (for the illegal ground: the legal ground)."""

    category: str
    ground: str
    explanation: str


#: The reason codes. Our rules are the organisation's community rules; the ledger does not
#: hold their text, so the grounds name the rule by its subject. Organisations should align
#: these with their published rules (``DsaOptions.grounds``) and link them
#: (``DsaOptions.reference_url``).
DEFAULT_GROUNDS: dict[ReasonCode, Grounds] = {
    # Our "spam" is advertising, self-promotion and repetition: a breach of the terms, not
    # proven fraud. Reporting it as SCAMS_AND_FRAUD would inflate fraud figures in a public
    # database; a moderator who finds fraud records the decision as illegal content.
    ReasonCode.SPAM: Grounds(
        "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
        "Community rules: no spam (advertising, unsolicited promotion or repetitive "
        "posting).",
        "A moderator found that the content was spam, which the community rules forbid."),
    ReasonCode.HARASSMENT: Grounds(
        "STATEMENT_CATEGORY_CYBER_VIOLENCE",
        "Community rules: no harassment (personal attacks, intimidation or targeted abuse).",
        "A moderator found that the content harassed or attacked a person, which the "
        "community rules forbid."),
    ReasonCode.OFF_TOPIC: Grounds(
        "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
        "Community rules: contributions must be on the topic of the community and of the "
        "thread.",
        "A moderator found that the content was off topic, which the community rules do not "
        "allow."),
    ReasonCode.CONFIDENTIAL: Grounds(
        "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
        "Community rules: no publication of confidential information or of information "
        "about identifiable people without their consent.",
        "A moderator found that the content disclosed confidential information, which the "
        "community rules forbid."),
    ReasonCode.OTHER: Grounds(
        "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
        "Community rules and terms of use of the community.",
        "A moderator found that the content breached the community rules."),
    # The ledger records "illegal" without the law relied on; in a text-only discussion
    # community illegal content is, overwhelmingly, speech (defamation, hate speech,
    # threats). Moderators name the provision in their statement (decision_facts).
    ReasonCode.ILLEGAL: Grounds(
        "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
        "Applicable Union or Member State law. The provision relied on is named in the "
        "facts of the decision.",
        "A moderator found that the content was illegal under the applicable law."),
}

#: What each restrictive action restricts; lifting actions are not statements of reasons.
VISIBILITY = {
    Action.HIDE_POST: "DECISION_VISIBILITY_CONTENT_DISABLED",
    Action.REMOVE_POST: "DECISION_VISIBILITY_CONTENT_REMOVED",
    Action.LOCK_THREAD: "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
}
ACCOUNT = {Action.SUSPEND_MEMBER: "DECISION_ACCOUNT_SUSPENDED"}
LIFTING = frozenset({Action.RESTORE_POST, Action.UNLOCK_THREAD, Action.REINSTATE_MEMBER})
_WHAT_WAS_DONE = {
    Action.HIDE_POST: "The post was hidden from the community.",
    Action.REMOVE_POST: "The post was removed.",
    Action.LOCK_THREAD: "The thread was locked: no further replies could be posted.",
    Action.SUSPEND_MEMBER: "The member's participation in the community was suspended.",
}
_FALLBACK_FACTS = "The moderator's statement of reasons could not be published."

PUID_KEY_VARIABLE = "DIALOGUE_LEDGER_PUID_KEY"
MIN_PUID_KEY_BYTES = 16


@dataclass(frozen=True)
class DsaOptions:
    """``puid_key``: the secret puids are derived with (:func:`puid`); never change it, or
    every decision gets a new puid. ``reference_url``: the published community rules, sent
    as ``decision_ground_reference_url``. ``grounds``: the texts per reason code."""

    puid_key: bytes
    reference_url: str | None = None
    grounds: Mapping[ReasonCode, Grounds] = field(default_factory=lambda: DEFAULT_GROUNDS)

    def __post_init__(self) -> None:
        if len(self.puid_key) < MIN_PUID_KEY_BYTES:
            raise InvalidInput(f"the puid key must be at least {MIN_PUID_KEY_BYTES} bytes",
                               field="puid_key")


def puid_key_from_env(environ: Mapping[str, str] | None = None) -> bytes:
    """The puid key from ``DIALOGUE_LEDGER_PUID_KEY``; InvalidInput if unset or short."""
    value = (os.environ if environ is None else environ).get(PUID_KEY_VARIABLE, "")
    key = value.encode()
    if len(key) < MIN_PUID_KEY_BYTES:
        raise InvalidInput(
            f"set {PUID_KEY_VARIABLE} to a secret of at least {MIN_PUID_KEY_BYTES} characters "
            "(e.g. python -c 'import secrets; print(secrets.token_hex(32))'), and keep it: "
            "the DSA puids are derived from it", field=PUID_KEY_VARIABLE)
    return key


def puid(decision_id: str, key: bytes) -> str:
    """The decision's Platform Unique IDentifier: ``dl-`` and 32 hex digits of
    HMAC-SHA256(key, decision id). Stable for as long as the key is kept; without the key
    nobody can link it to the decision (or through the decision to a person)."""
    digest = hmac.new(key, f"moderation-decision:{decision_id}".encode(), hashlib.sha256)
    return "dl-" + digest.hexdigest()[:32]


_LOCAL = r"[\w.!#$%&'*+/=?^`{|}~-]"
# The lookbehind lets a match start only where a run of local-part characters starts, so a
# long run without an "@" is scanned once, not once per character (linear, not quadratic).
_EMAIL = re.compile(
    rf"(?<!{_LOCAL}){_LOCAL}+@\w(?:[\w-]*\w)?(?:\.\w(?:[\w-]*\w)?)+")
_HANDLE = re.compile(r"(?<![\w@])@\w(?:[\w.-]*\w)?")


def redact(text: str) -> str:
    """Replace e-mail addresses and ``@handles``. A safety net only: names written without
    an ``@`` cannot be told from other words."""
    if "@" not in text:
        return text
    return _HANDLE.sub("[handle removed]", _EMAIL.sub("[e-mail removed]", text))


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a word boundary where one is near,
    ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit - 200:
        cut = cut[:space]
    return cut.rstrip() + "…"


def to_statement(decision: Decision, options: DsaOptions) -> Statement | None:
    """The Statement of Reasons for a decision; None for a lifting decision."""
    action = Action(decision.action)
    if action in LIFTING:
        return None
    grounds = options.grounds[ReasonCode(decision.reason_code)]
    applied = _day(decision.decided_us)
    content_us = decision.content_us if decision.content_us is not None else decision.decided_us
    explanation = f"{grounds.explanation} {_WHAT_WAS_DONE[action]}"
    if decision.appeal_status in ("upheld", "reversed"):
        explanation += f" The decision was {decision.appeal_status} on appeal."
    sor: Statement = {}
    if action in VISIBILITY:
        sor["decision_visibility"] = [VISIBILITY[action]]
    else:
        sor["decision_account"] = ACCOUNT[action]
    if ReasonCode(decision.reason_code) is ReasonCode.ILLEGAL:
        sor["decision_ground"] = ILLEGAL
        sor["illegal_content_legal_ground"] = truncate(grounds.ground, 500)
        sor["illegal_content_explanation"] = truncate(explanation, 2_000)
    else:
        sor["decision_ground"] = INCOMPATIBLE
        sor["incompatible_content_ground"] = truncate(grounds.ground, 500)
        sor["incompatible_content_explanation"] = truncate(explanation, 2_000)
    if options.reference_url:
        sor["decision_ground_reference_url"] = options.reference_url
    facts = redact(decision.statement).strip() or _FALLBACK_FACTS
    sor.update({
        "category": grounds.category,
        "content_type": ["CONTENT_TYPE_TEXT"],
        "content_date": _day(content_us),
        "application_date": applied,
        "decision_facts": truncate(facts, 5_000),
        "source_type": "SOURCE_VOLUNTARY",
        "automated_detection": "Yes" if decision.automated_detection else "No",
        "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
        "puid": puid(decision.id, options.puid_key),
    })
    if decision.appeal_status == "reversed" and decision.appeal_decided_us is not None:
        # The restriction ended when the appeal reversed it (never before it applied).
        ended = max(_day(decision.appeal_decided_us), applied)
        end_field = ("end_date_visibility_restriction" if action in VISIBILITY
                     else "end_date_account_restriction")
        sor[end_field] = ended
    return sor


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _day(us: int) -> str:
    """Microseconds since the epoch as a UTC date, YYYY-MM-DD."""
    return (_EPOCH + timedelta(microseconds=us)).date().isoformat()
