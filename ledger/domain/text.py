"""What text the ledger accepts: one definition, checked by every command before it records
anything (the API, the command line and the importers all go through the commands).

- **Handles** follow PRECIS UsernameCasePreserved (RFC 8265, via ``precis-i18n``) and are
  stored in that enforced form (width-mapped, NFC, case kept). A person's id derives from the
  UsernameCaseMapped form (lower case), so ``Ruth``, ``ruth`` and a fullwidth ``ruth`` are
  one handle; for an ASCII handle that form is ``handle.lower()``, the id it always had.
  A handle may not contain ``/``, look like an id, or mix scripts (beyond Common/Inherited and the
  Han-with-kana/Hangul/Bopomofo mixes of UTS #39's "highly restrictive" level).
- **Look-alikes**: a handle's *claim key* is the UTS #39 confusable skeleton of its
  case-mapped form (lower-cased, NFC). Two handles with one claim key are confusable; the
  second is refused (:class:`~ledger.errors.HandleConfusable`).
- **Names** (display names, organisation and community names) follow PRECIS
  NicknameCasePreserved (RFC 8266) and are stored as enforced (spaces trimmed and
  collapsed, NFKC).
- **Free text** (titles, bodies, statements, reasons, notes, notices) refuses NUL and every
  other C0/C1 control but tab and newline, unpaired surrogates, bidi embeddings, overrides
  and isolates, and invisible zero-width spaces; CRLF and lone CR become LF; it is stored NFC.

Every refusal is :class:`~ledger.errors.InvalidInput` (HTTP 422) naming the ``field`` and
the ``rule`` it broke.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from uuid import UUID

from confusable_homoglyphs import categories
from confusable_homoglyphs.utils import load as load_confusables
from precis_i18n import get_profile

from ledger.errors import InvalidInput

MAX_HANDLE = 100
MAX_NAME = 200

_USERNAME = get_profile("UsernameCasePreserved")
_USERNAME_KEY = get_profile("UsernameCaseMapped")
_NICKNAME = get_profile("NicknameCasePreserved")

#: Bidi embeddings, overrides (U+202A-202E) and isolates (U+2066-2069): they reorder what
#: follows them. The marks (U+200E, U+200F, U+061C) are allowed in free text: right-to-left
#: writing needs them, and they reorder nothing beyond neutral characters next to them.
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
#: Invisible characters that only hide differences: zero-width space, word joiner,
#: zero-width no-break space (a byte order mark). ZWJ and ZWNJ stay: scripts and emoji need
#: them.
INVISIBLE = frozenset("\u200b\u2060\ufeff")
#: Scripts that may be mixed in one handle (UTS #39 "highly restrictive"), besides Common
#: and Inherited characters, which go with any script.
_NEUTRAL_SCRIPTS = frozenset({"COMMON", "INHERITED"})
_SCRIPT_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
)


def _refuse(field: str, rule: str, message: str, **details: object) -> InvalidInput:
    return InvalidInput(message, field=field, rule=rule, **details)


# ======================================================================================
# Free text
# ======================================================================================
def _refused_character(char: str) -> str | None:
    """The rule a single character of free text breaks, or None."""
    code = ord(char)
    if (code < 0x20 and char not in "\t\n") or 0x7F <= code <= 0x9F:
        return "control-character"
    if 0xD800 <= code <= 0xDFFF:
        return "unpaired-surrogate"
    if char in BIDI_CONTROLS:
        return "bidi-control"
    if char in INVISIBLE:
        return "invisible-character"
    return None


#: Every character refused in free text (a carriage return is made a line end first).
_REFUSED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e"
                      "\u2066-\u2069\u200b\u2060\ufeff]")


def _first_refused(value: str) -> tuple[int, str, str] | None:
    """Where the first refused character of free text stands, which it is and why."""
    found = _REFUSED.search(value)
    if found is None:
        return None
    char = found.group()
    rule = _refused_character(char)
    assert rule is not None
    return found.start(), char, rule


def check_free_text(field: str, value: str, max_length: int) -> str:
    """``value`` as the ledger stores it (line ends as LF, NFC), or :class:`InvalidInput`
    naming the rule it breaks: not blank, no more than ``max_length`` characters (once
    normalised), and none of the characters refused in free text."""
    if not isinstance(value, str):
        raise _refuse(field, "not-text", f"{field} must be text")
    if len(value) > 4 * max_length:  # refuse the absurd before any work on it
        raise _too_long(field, max_length)
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    _check_characters(field, value)
    if not value.strip():
        raise _refuse(field, "empty", f"{field} must not be empty")
    value = unicodedata.normalize("NFC", value)
    if len(value) > max_length:
        raise _too_long(field, max_length)
    return value


def check_token_text(field: str, value: str, max_length: int) -> str:
    """An opaque client token (a command id): refused like free text (a carriage return
    too), but kept exactly as given (it is compared as it is)."""
    if not isinstance(value, str) or not value.strip():
        raise _refuse(field, "empty", f"{field} must not be empty")
    if len(value) > max_length:
        raise _too_long(field, max_length)
    _check_characters(field, value)
    return value


def _check_characters(field: str, value: str) -> None:
    found = _first_refused(value)
    if found is not None:
        index, char, rule = found
        raise _refuse(field, rule, f"{field} must not contain {_describe(rule)} "
                      f"(U+{ord(char):04X} at {index})", codepoint=f"U+{ord(char):04X}",
                      index=index)


def _too_long(field: str, max_length: int) -> InvalidInput:
    return _refuse(field, "too-long", f"{field} is longer than {max_length} characters",
                   max=max_length)


def clean_free_text(value: str) -> str:
    """Free text from an archive made acceptable: line ends as LF, refused characters left
    out, NFC (importers use it; the command still checks the result)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _REFUSED.sub("", value)
    return unicodedata.normalize("NFC", value)


def _describe(rule: str) -> str:
    return {"control-character": "control characters other than tab and newline",
            "unpaired-surrogate": "unpaired surrogates",
            "bidi-control": "bidi embeddings, overrides or isolates",
            "invisible-character": "zero-width spaces or byte order marks"}[rule]


# ======================================================================================
# Names
# ======================================================================================
def check_name(field: str, value: str, max_length: int = MAX_NAME) -> str:
    """A display name or the name of an organisation or community, as PRECIS
    NicknameCasePreserved (RFC 8266) enforces it, or :class:`InvalidInput`."""
    if not isinstance(value, str):
        raise _refuse(field, "not-text", f"{field} must be text")
    if len(value) > 4 * max_length:  # enforcement is linear, but refuse the absurd at once
        raise _refuse(field, "too-long", f"{field} is longer than {max_length} characters",
                      max=max_length)
    try:
        enforced = str(_NICKNAME.enforce(value))
    except UnicodeEncodeError as error:
        raise _refuse(field, "precis-nickname",
                      f"{field} is not an acceptable name ({error.reason})",
                      reason=str(error.reason)) from None
    if len(enforced) > max_length:
        raise _refuse(field, "too-long", f"{field} is longer than {max_length} characters",
                      max=max_length)
    return enforced


def acceptable_name(value: str, max_length: int = MAX_NAME) -> bool:
    try:
        check_name("name", value, max_length)
    except InvalidInput:
        return False
    return True


# ======================================================================================
# Handles
# ======================================================================================
def check_handle(value: str, field: str = "handle") -> str:
    """A handle as the ledger stores it (PRECIS UsernameCasePreserved), or
    :class:`InvalidInput` naming the rule it breaks."""
    if not isinstance(value, str):
        raise _refuse(field, "not-text", f"a {field} must be text")
    if len(value) > 4 * MAX_HANDLE:
        raise _refuse(field, "too-long", f"a {field} is at most {MAX_HANDLE} characters",
                      max=MAX_HANDLE)
    try:
        enforced = str(_USERNAME.enforce(value))
    except UnicodeEncodeError as error:
        raise _refuse(field, "precis-username",
                      f"a {field} is 1-{MAX_HANDLE} letters, digits and symbols without "
                      f"spaces, controls or invisible characters ({error.reason})",
                      reason=str(error.reason)) from None
    if len(enforced) > MAX_HANDLE:
        raise _refuse(field, "too-long", f"a {field} is at most {MAX_HANDLE} characters",
                      max=MAX_HANDLE)
    if "/" in enforced:
        raise _refuse(field, "slash", f"a {field} must not contain a slash")
    check_single_script(field, enforced)
    try:
        UUID(enforced)
    except ValueError:
        return enforced
    raise _refuse(field, "looks-like-id", f"a {field} must not look like an id",
                  value=enforced)


def acceptable_handle(value: str) -> bool:
    try:
        check_handle(value)
    except InvalidInput:
        return False
    return True


def check_single_script(field: str, value: str) -> None:
    """Letters of one script (Common and Inherited characters go with any), or one of the
    mixes UTS #39 allows at its "highly restrictive" level."""
    scripts = categories.unique_aliases(value) - _NEUTRAL_SCRIPTS
    if len(scripts) <= 1 or any(scripts <= mix for mix in _SCRIPT_MIXES):
        return
    raise _refuse(field, "mixed-script", f"a {field} must not mix scripts "
                  f"({', '.join(sorted(s.lower() for s in scripts))})",
                  scripts=",".join(sorted(scripts)))


def handle_key(handle: str) -> str:
    """What a handle is compared (and a person's id derived) by: its PRECIS
    UsernameCaseMapped form; a stored handle from before the PRECIS rules that they refuse
    falls back to ``handle.lower()``, which is what ids derived from before."""
    try:
        return str(_USERNAME_KEY.enforce(handle))
    except UnicodeEncodeError:
        return handle.lower()


def claim_key(handle: str) -> str:
    """A handle's confusable skeleton (UTS #39) of its key, lower-cased and NFC: two
    handles with one claim key look alike."""
    return unicodedata.normalize("NFC", skeleton(handle_key(handle)).lower())


def skeleton(value: str) -> str:
    """UTS #39's ``skeleton``: NFD, each character replaced by its prototype from the
    Unicode confusables data, NFD again."""
    prototypes = _prototypes()
    mapped = "".join(prototypes.get(c, c) for c in unicodedata.normalize("NFD", value))
    return unicodedata.normalize("NFD", mapped)


@cache
def _prototypes() -> dict[str, str]:
    """Each confusable character's prototype, from the confusables data that the
    ``confusable-homoglyphs`` package ships. That package stores UTS #39's mapping both
    ways (source to prototype, and prototype to each of its sources), so the prototype of
    each class is found again: the one entry every source points to. Sources are single
    characters and never prototypes themselves, so each class is a star around its
    prototype; a class of just two characters has no visible centre, and its smaller
    character stands for it (equal skeletons stay equal, which is all that is compared)."""
    raw: dict[str, list[dict[str, str]]] = load_confusables("confusables.json")
    links: dict[str, list[str]] = {}
    for key, entries in raw.items():
        links[_bare(key)] = [_bare(e["c"]) for e in entries]
    prototypes: dict[str, str] = {}
    for key, others in links.items():
        if len(key) != 1:  # a sequence is always a prototype
            for other in others:
                if len(other) == 1:
                    prototypes[other] = key
        elif len(others) > 1:  # a centre: every entry is one of its sources
            for other in others:
                if len(other) == 1:
                    prototypes.setdefault(other, key)
        elif len(others) == 1:
            other = others[0]
            if len(other) != 1:
                prototypes[key] = other
            elif len(links.get(other, ())) == 1:  # a class of two
                prototypes[key] = min(key, other)
    return prototypes


def _bare(text: str) -> str:
    """The data marks right-to-left characters with LRMs around them; drop those."""
    if len(text) > 1:
        return text.strip("\u200e")
    return text
