"""Mailing-list archives: mbox files and pipermail (Mailman 2) text archives, plain or
gzipped.

Each message is read as a :class:`mailbox.mboxMessage`, one at a time. Messages are framed
exactly as :class:`mailbox.mbox` frames them (a message starts at every line beginning with
``From `` and the blank line before it is the separator), but by streaming through the file:
``mailbox.mbox`` first indexes every message's offsets, which costs memory and a full read in
proportion to the archive.

- A message is a reply when a message it names in ``In-Reply-To`` or ``References`` (nearest
  first) was imported; failing that, when it reads as a reply (it names a parent, or its
  subject starts ``Re:``) and its normalised subject is that of a thread opened earlier in
  the import, it replies to that thread's opening post; otherwise it opens a thread. So a
  reply whose parent never appears joins its thread by subject, or opens a thread of its own.
- Senders are people; the handle is the address in lower case (pipermail's
  ``alice at example.org`` is read as ``alice@example.org``). Representatives and bots are
  matched by address, domain or display name (:class:`AddressPatterns`).
- The time is the ``Date`` header (a time without a zone is taken as UTC).
- A message without a ``From`` address, a ``Date``, a readable date or a ``Message-ID`` is
  reported and skipped; it never stops the import.
"""

from __future__ import annotations

import email.errors
import email.parser
import email.utils
import gzip
import mailbox
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.header import decode_header, make_header
from email.message import Message
from fnmatch import fnmatchcase
from io import BufferedReader
from pathlib import Path
from uuid import UUID

from ledger.domain import PostKind
from ledger.domain.text import acceptable_handle
from ledger.errors import InvalidInput, LedgerError
from ledger.imports.base import (
    ImportTarget,
    Progress,
    Summary,
    Survey,
    kind_for_words,
    utc_or_assume,
)

#: How many Message-IDs and subjects the import keeps at hand. Older ones are looked up in
#: the ledger (Message-IDs) or no longer matched (subjects); memory does not grow beyond.
MESSAGE_CACHE = 10_000
SUBJECT_CACHE = 10_000

_TAG = re.compile(r"^\[[^\]]*\]\s*")
_REPLY = re.compile(
    r"^(?:re|fwd?|fw|aw|sv|vs|antw|wg|tr|rif|r|odp|ynt)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*", re.I)
_FORWARD = re.compile(r"^(?:fwd?|fw|wg|tr)\b", re.I)
_LEADING_WORD = re.compile(r"^([a-z][a-z -]{0,30}):\s", re.I)
_ID = re.compile(r"<([^<>\s]+)>")
_OBFUSCATED = re.compile(r"(\S+) at (\S+\.\S+)")


def strip_subject(subject: str) -> tuple[str, bool, list[str]]:
    """The subject without leading list tags and reply or forward prefixes; whether it had
    a reply prefix; and the tags found (``[RFC]`` gives ``rfc``)."""
    rest, replied, tags = subject.strip(), False, []
    while True:
        tag = _TAG.match(rest)
        if tag:
            tags.append(tag.group(0).strip()[1:-1].strip().lower())
            rest = rest[tag.end():]
            continue
        prefix = _REPLY.match(rest)
        if prefix:
            replied |= not _FORWARD.match(prefix.group(0))
            rest = rest[prefix.end():]
            continue
        return rest.strip(), replied, tags


def normalise_subject(subject: str) -> str:
    """For matching replies to threads: no list tags, no ``Re:``/``Fwd:`` prefixes, spaces
    collapsed, lower case."""
    return " ".join(strip_subject(subject)[0].split()).lower()


def kind_for_subject(subject: str) -> PostKind:
    """A thread's kind from its subject's tags (``[RFC] ...``) or leading word
    (``Proposal: ...``), as for GitHub labels; a question otherwise."""
    rest, _, tags = strip_subject(subject)
    word = _LEADING_WORD.match(rest)
    return kind_for_words([*tags, word.group(1) if word else ""]) or PostKind.QUESTION


class AddressPatterns:
    """Case-insensitive patterns with ``fnmatch`` wildcards (``*``, ``?``, ``[...]``):

    - ``@example.org``, ``@*.example.org``: a domain (the part of the address after ``@``);
    - ``press@example.org``, ``*-team@example.org``: a whole address;
    - anything without ``@``: the sender's display name (``Mayor *``).
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        self.domains: list[str] = []
        self.addresses: list[str] = []
        self.names: list[str] = []
        for pattern in (p.strip().lower() for p in patterns):
            if not pattern:
                continue
            if pattern.startswith("@"):
                self.domains.append(pattern[1:])
            elif "@" in pattern:
                self.addresses.append(pattern)
            else:
                self.names.append(pattern)

    def __bool__(self) -> bool:
        return bool(self.domains or self.addresses or self.names)

    def match(self, address: str, display_name: str) -> bool:
        address, name = address.lower(), " ".join(display_name.split()).lower()
        domain = address.rpartition("@")[2]
        return (any(fnmatchcase(domain, p) for p in self.domains)
                or any(fnmatchcase(address, p) for p in self.addresses)
                or (bool(name) and any(fnmatchcase(name, p) for p in self.names)))


@dataclass(frozen=True)
class MboxOptions:
    org_addresses: tuple[str, ...] = ()
    bot_addresses: tuple[str, ...] = ()


class Broken(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Mail:
    """What the import uses of a message's headers."""

    message_id: str
    handle: str
    display_name: str
    date: datetime
    subject: str
    parents: tuple[str, ...]  # the Message-IDs it answers, nearest first
    is_reply: bool
    is_bot: bool
    is_representative: bool

    @property
    def source_id(self) -> str:
        return f"message:{self.message_id}"


def _text(value: object) -> str:
    """A header's text, with RFC 2047 encoded words decoded."""
    if value is None:
        return ""
    raw = str(value)
    try:
        return str(make_header(decode_header(raw)))
    except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
        return raw


def _ids(value: object) -> list[str]:
    return _ID.findall(str(value)) if value is not None else []


def read_mail(msg: Message, orgs: AddressPatterns, bots: AddressPatterns) -> Mail:
    """The headers the import needs, or :class:`Broken` with the reason."""
    raw_from = msg.get("From")
    if raw_from is None or not str(raw_from).strip():
        raise Broken("broken message: no From")
    sender = str(raw_from)
    if "@" not in sender:  # pipermail writes addresses as "alice at example.org"
        sender = _OBFUSCATED.sub(r"\1@\2", sender, count=1)
    name, address = email.utils.parseaddr(sender)
    address = address.strip().lower()
    if "@" not in address:
        raise Broken("broken message: no From address")
    handle = address.replace("/", "_")
    if not acceptable_handle(handle):
        raise Broken("broken message: unusable From address")
    display_name = " ".join(_text(name).split()) or address
    raw_date = msg.get("Date")
    if raw_date is None or not str(raw_date).strip():
        raise Broken("broken message: no Date")
    try:
        date = utc_or_assume(email.utils.parsedate_to_datetime(str(raw_date)))
    except (TypeError, ValueError, IndexError, OverflowError):
        raise Broken("broken message: bad Date") from None
    found = _ids(msg.get("Message-ID"))
    message_id = found[0] if found else str(msg.get("Message-ID") or "").strip()
    if not message_id:
        raise Broken("broken message: no Message-ID")
    parents = [*_ids(msg.get("In-Reply-To")), *reversed(_ids(msg.get("References")))]
    subject = " ".join(_text(msg.get("Subject")).split())
    is_bot = bots.match(address, display_name)
    return Mail(
        message_id=message_id, handle=handle, display_name=display_name, date=date,
        subject=subject,
        parents=tuple(p for p in dict.fromkeys(parents) if p != message_id),
        is_reply=bool(parents) or strip_subject(subject)[1], is_bot=is_bot,
        is_representative=not is_bot and orgs.match(address, display_name))


def body_text(msg: Message) -> str:
    """The message's first plain-text part (else its first text part), decoded."""
    parts = [p for p in msg.walk() if not p.is_multipart()
             and p.get_content_maintype() == "text"
             and p.get_content_disposition() != "attachment"]
    part = next((p for p in parts if p.get_content_subtype() == "plain"),
                parts[0] if parts else None)
    if part is None:
        return ""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload())
    try:
        return payload.decode(part.get_content_charset() or "utf-8", "replace")
    except LookupError:
        return payload.decode("latin-1")


# ======================================================================================
# Reading the files
# ======================================================================================
def _open(path: Path) -> gzip.GzipFile | BufferedReader:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return path.open("rb")


def raw_messages(path: Path) -> Iterator[tuple[bytes, bytes]]:
    """Each message of an mbox file as its ``From `` line and the rest, streamed, framed as
    :class:`mailbox.mbox` frames them."""
    with _open(path) as file:
        from_line: bytes | None = None
        lines: list[bytes] = []
        for line in file:
            if line.startswith(b"From "):
                if from_line is not None:
                    yield from_line, _without_separator(lines)
                from_line, lines = line, []
            elif from_line is not None:
                lines.append(line)
        if from_line is not None:
            yield from_line, _without_separator(lines)


def _without_separator(lines: list[bytes]) -> bytes:
    if lines and lines[-1] in (b"\n", b"\r\n"):
        lines = lines[:-1]
    return b"".join(lines)


def to_message(from_line: bytes, text: bytes) -> mailbox.mboxMessage:
    """As ``mailbox.mbox.get_message`` builds it."""
    msg = mailbox.mboxMessage(text)
    msg.set_from(from_line[5:].decode("ascii", "replace").rstrip("\r\n"))
    return msg


class _Recent(OrderedDict[str, UUID]):
    """A bounded map that forgets the least recently used entries."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def recall(self, key: str) -> UUID | None:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value

    def remember(self, key: str, value: UUID) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)


# ======================================================================================
# The archive
# ======================================================================================
class MboxArchive:
    """One or more mbox or pipermail text files, imported in the order given."""

    name = "mbox"

    def __init__(self, paths: Iterable[Path | str], options: MboxOptions | None = None) -> None:
        self.paths = [Path(p) for p in paths]
        missing = [str(p) for p in self.paths if not p.is_file()]
        if missing:
            raise InvalidInput("no such file", path=", ".join(missing))
        self.options = options or MboxOptions()
        self.orgs = AddressPatterns(self.options.org_addresses)
        self.bots = AddressPatterns(self.options.bot_addresses)

    def _messages(self, path: Path, summary: Summary | None) -> Iterator[tuple[int, bytes,
                                                                               bytes]]:
        """Each message of a file with its number (from 1); a file that cannot be read or
        holds no message counts as one skipped item."""
        count = 0
        try:
            for count, (from_line, text) in enumerate(raw_messages(path), start=1):
                yield count, from_line, text
        except (OSError, EOFError) as error:
            if summary is not None:
                summary.skip(f"unreadable file ({type(error).__name__}: {error})", path.name)
            if count == 0:
                yield 0, b"", b""
            return
        if count == 0:
            if summary is not None:
                summary.skip("no messages found (not an mbox file?)", path.name)
            yield 0, b"", b""

    # --- the first pass --------------------------------------------------------------
    def survey(self) -> Survey:
        survey = Survey()
        parser = email.parser.BytesHeaderParser()
        for path in self.paths:
            for number, _, text in self._messages(path, None):
                survey.items += 1
                if number == 0:
                    continue
                try:
                    mail = read_mail(parser.parsebytes(text), self.orgs, self.bots)
                except Broken:
                    continue
                survey.saw(mail.handle, mail.display_name, mail.date, is_bot=mail.is_bot,
                           is_representative=mail.is_representative)
        return survey

    # --- the import ------------------------------------------------------------------
    def feed(self, target: ImportTarget, progress: Progress) -> None:
        posts = _Recent(MESSAGE_CACHE)
        subjects = _Recent(SUBJECT_CACHE)
        for path in self.paths:
            for number, from_line, text in self._messages(path, target.summary):
                progress(1)
                if number:
                    self._message(target, path, number, from_line, text, posts, subjects)

    def _message(self, target: ImportTarget, path: Path, number: int, from_line: bytes,
                 text: bytes, posts: _Recent, subjects: _Recent) -> None:
        ref = f"{path.name} message {number}"
        try:
            msg = to_message(from_line, text)
            mail = read_mail(msg, self.orgs, self.bots)
        except Broken as broken:
            target.summary.skip(broken.reason, ref)
            return
        except Exception as error:  # the email package is lenient; anything else is broken
            target.summary.skip(f"broken message: unreadable ({type(error).__name__})", ref)
            return
        ref = f"<{mail.message_id}> ({ref})"
        topic = normalise_subject(mail.subject)
        try:
            author = target.author(mail.handle, mail.date)
            parent = self._parent(target, mail, topic, posts, subjects)
            body = body_text(msg)
            if parent is None:
                posted = target.open_thread(mail.source_id, author,
                                            kind_for_subject(mail.subject),
                                            mail.subject or "(no subject)", body, mail.date)
            else:
                posted = target.reply(mail.source_id, author, parent, body, mail.date)
        except LedgerError as error:
            target.refused(error, ref)
            return
        posts.remember(mail.message_id, posted.post_id)
        if posted.opens_thread and topic:
            subjects.remember(topic, posted.post_id)

    @staticmethod
    def _parent(target: ImportTarget, mail: Mail, topic: str, posts: _Recent,
                subjects: _Recent) -> UUID | None:
        for message_id in mail.parents:
            post_id = posts.recall(message_id)
            if post_id is None:
                found = target.lookup(f"message:{message_id}")
                if found is not None:
                    post_id = found.post_id
                    posts.remember(message_id, post_id)
            if post_id is not None:
                return post_id
        if mail.is_reply and topic:
            return subjects.recall(topic)
        return None
