"""GitHub issue exports: a folder of REST API JSON.

- ``issues-*.json``: each a JSON array of issue objects as the API returns them (one page
  each), read in natural order (``issues-2.json`` before ``issues-10.json``);
- ``comments-<issue number>.json``: each a JSON array of that issue's comments.

Each issue becomes a thread (opened by its author at its ``created_at``) and each comment a
reply to the issue's opening post (GitHub comments have no reply structure of their own).
Pull requests (objects with a ``pull_request`` key) and their comments are skipped and
counted. Authors become people by login. Representatives are authors whose
``author_association`` is in the configured set (OWNER, MEMBER, COLLABORATOR by default) or
whose login is listed; bots are logins ending in ``[bot]`` or users of type ``Bot``, and are
never appointed representatives. See docs/imports.md for the full mapping.

Files are read one at a time, so memory holds one page and one issue's comments; across the
import only the people and the set of issue numbers are kept.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from ledger.domain import PostKind
from ledger.domain.text import acceptable_handle
from ledger.errors import InvalidInput, LedgerError
from ledger.imports.base import (
    ImportTarget,
    Progress,
    Survey,
    kind_for_words,
    utc_or_assume,
)

#: ``author_association`` values whose authors speak for the organisation, by default.
REPRESENTATIVE_ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})

def label_name(label: object) -> str:
    """A label's name, lower case, without a ``prefix:`` or ``prefix/`` (``type: bug``,
    ``kind/feature``)."""
    name = label.get("name") if isinstance(label, dict) else label
    if not isinstance(name, str):
        return ""
    return re.split(r"[:/]", name)[-1].strip().lower()


def kind_for_labels(labels: Iterable[object]) -> PostKind:
    """A thread's kind from its issue's labels (see :data:`KIND_WORDS`); a question when no
    label names a kind."""
    return kind_for_words(label_name(label) for label in labels) or PostKind.QUESTION


@dataclass(frozen=True)
class GitHubOptions:
    representative_associations: frozenset[str] = REPRESENTATIVE_ASSOCIATIONS
    org_logins: frozenset[str] = frozenset()

    @classmethod
    def of(cls, associations: Iterable[str] | None = None,
           org_logins: Iterable[str] = ()) -> GitHubOptions:
        return cls(
            frozenset(a.strip().upper() for a in associations if a.strip())
            if associations is not None else REPRESENTATIVE_ASSOCIATIONS,
            frozenset(login.strip().lower() for login in org_logins if login.strip()))


class Broken(Exception):
    """An issue or comment that cannot be imported, and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Entry:
    """An issue or a comment, as much of it as the import uses."""

    id: int
    login: str
    is_bot: bool
    is_representative: bool
    created_at: datetime
    body: str | None
    number: int = 0
    title: str = ""
    kind: PostKind = PostKind.COMMENT


def parse_entry(obj: object, options: GitHubOptions, *, issue: bool) -> Entry:
    what = "issue" if issue else "comment"
    if not isinstance(obj, dict):
        raise Broken(f"broken {what}: not a JSON object")
    item_id = obj.get("id")
    if not isinstance(item_id, int) or isinstance(item_id, bool):
        raise Broken(f"broken {what}: no id")
    number = obj.get("number", 0)
    if issue and (not isinstance(number, int) or isinstance(number, bool)):
        raise Broken(f"broken {what}: no number")
    user = obj.get("user")
    login = user.get("login") if isinstance(user, dict) else None
    if not isinstance(login, str) or not login:
        raise Broken(f"broken {what}: no author")
    if not acceptable_handle(login):
        raise Broken(f"broken {what}: unusable login")
    created_at = obj.get("created_at")
    if not isinstance(created_at, str):
        raise Broken(f"broken {what}: no created_at")
    try:
        created = utc_or_assume(datetime.fromisoformat(created_at))
    except ValueError:
        raise Broken(f"broken {what}: bad created_at") from None
    is_bot = login.lower().endswith("[bot]") or (isinstance(user, dict)
                                                  and user.get("type") == "Bot")
    is_representative = not is_bot and (
        obj.get("author_association") in options.representative_associations
        or login.lower() in options.org_logins)
    body = obj.get("body")
    title = obj.get("title")
    labels = obj.get("labels")
    return Entry(
        id=item_id, login=login, is_bot=is_bot, is_representative=is_representative,
        created_at=created, body=body if isinstance(body, str) else None,
        number=number if issue else 0, title=title if isinstance(title, str) else "",
        kind=kind_for_labels(labels if isinstance(labels, list) else ()) if issue
        else PostKind.COMMENT)


def load_array(path: Path) -> list[Any] | str:
    """The JSON array in ``path``, or why it cannot be read."""
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as error:
        return f"unreadable file ({error.strerror or error})"
    except orjson.JSONDecodeError:
        return "unreadable file: not JSON"
    if not isinstance(data, list):
        return "unreadable file: not a JSON array"
    return data


def _natural(path: Path) -> tuple[Any, ...]:
    return tuple(int(part) if part.isdigit() else part
                 for part in re.split(r"(\d+)", path.name))


def _comments_number(name: str) -> int | None:
    match = re.fullmatch(r"comments-(\d+)\.json", name)
    return int(match.group(1)) if match else None


class GitHubArchive:
    """A folder of GitHub issue and comment JSON."""

    name = "github"

    def __init__(self, folder: Path | str, options: GitHubOptions | None = None) -> None:
        self.folder = Path(folder)
        self.options = options or GitHubOptions()
        if not self.folder.is_dir():
            raise InvalidInput("not a folder", path=str(self.folder))

    def issue_files(self) -> list[Path]:
        return sorted(self.folder.glob("issues-*.json"), key=_natural)

    def comments_file(self, number: int) -> Path:
        return self.folder / f"comments-{number}.json"

    def _comments(self, number: int) -> list[Any] | str:
        path = self.comments_file(number)
        return load_array(path) if path.is_file() else []

    def _orphans(self, numbers: set[int]) -> Iterator[tuple[Path, list[Any] | str]]:
        """Comment files of issues that appear nowhere in the issue lists. The folder is
        scanned, not listed, so memory holds only the orphans' names."""
        orphans = []
        with os.scandir(self.folder) as entries:
            for entry in entries:
                if entry.name.startswith("comments-") and entry.name.endswith(".json"):
                    number = _comments_number(entry.name)
                    if number is None or number not in numbers:
                        orphans.append(Path(entry.path))
        for path in sorted(orphans, key=_natural):
            yield path, load_array(path)

    def _issues(self) -> Iterator[tuple[Path, list[Any] | str]]:
        for path in self.issue_files():
            yield path, load_array(path)

    # --- the first pass --------------------------------------------------------------
    def survey(self) -> Survey:
        survey = Survey()
        numbers: set[int] = set()
        for _, issues in self._issues():
            if isinstance(issues, str):
                survey.items += 1
                continue
            for obj in issues:
                survey.items += 1
                number = obj.get("number") if isinstance(obj, dict) else None
                if isinstance(number, int):
                    numbers.add(number)
                try:
                    issue = parse_entry(obj, self.options, issue=True)
                except Broken:
                    issue = None
                comments = self._comments(number) if isinstance(number, int) else []
                survey.items += len(comments) if isinstance(comments, list) else 1
                if issue is None or "pull_request" in obj:
                    continue
                survey.saw(issue.login, issue.login, issue.created_at, is_bot=issue.is_bot,
                           is_representative=issue.is_representative)
                for comment_obj in comments if isinstance(comments, list) else ():
                    try:
                        comment = parse_entry(comment_obj, self.options, issue=False)
                    except Broken:
                        continue
                    survey.saw(comment.login, comment.login, comment.created_at,
                               is_bot=comment.is_bot,
                               is_representative=comment.is_representative)
        for _, comments in self._orphans(numbers):
            survey.items += len(comments) if isinstance(comments, list) else 1
        return survey

    # --- the import ------------------------------------------------------------------
    def feed(self, target: ImportTarget, progress: Progress) -> None:
        summary = target.summary
        numbers: set[int] = set()
        for path, issues in self._issues():
            if isinstance(issues, str):
                summary.skip(issues, path.name)
                progress(1)
                continue
            for obj in issues:
                number = obj.get("number") if isinstance(obj, dict) else None
                if isinstance(number, int):
                    numbers.add(number)
                self._issue(target, obj, number, progress)
        for path, comments in self._orphans(numbers):
            if isinstance(comments, str):
                summary.skip(comments, path.name)
                progress(1)
                continue
            summary.skip("comment of an issue not in the issue lists", path.name,
                         len(comments))
            progress(len(comments))

    def _issue(self, target: ImportTarget, obj: Any, number: object,
               progress: Progress) -> None:
        summary = target.summary
        ref = f"#{number}" if isinstance(number, int) else "an issue without a number"
        comments = self._comments(number) if isinstance(number, int) else []
        progress(1)
        if isinstance(obj, dict) and "pull_request" in obj:
            summary.skip("pull request", f"pull request {ref}")
            self._skip_comments(target, comments, "comment on a pull request", ref, progress)
            return
        try:
            issue = parse_entry(obj, self.options, issue=True)
        except Broken as broken:
            summary.skip(broken.reason, f"issue {ref}")
            self._skip_comments(target, comments, "comment on a skipped issue", ref, progress)
            return
        try:
            author = target.author(issue.login, issue.created_at)
            opening = target.open_thread(f"issue:{issue.id}", author, issue.kind, issue.title,
                                         issue.body or "", issue.created_at)
        except LedgerError as error:
            target.refused(error, f"issue {ref}")
            self._skip_comments(target, comments, "comment on a skipped issue", ref, progress)
            return
        if isinstance(comments, str):
            summary.skip(comments, self.comments_file(issue.number).name)
            progress(1)
            return
        for comment_obj in comments:
            progress(1)
            try:
                comment = parse_entry(comment_obj, self.options, issue=False)
            except Broken as broken:
                summary.skip(broken.reason, f"a comment on {ref}")
                continue
            try:
                author = target.author(comment.login, comment.created_at)
                target.reply(f"comment:{comment.id}", author, opening.post_id,
                             comment.body or "", comment.created_at)
            except LedgerError as error:
                target.refused(error, f"comment {comment.id} on {ref}")

    @staticmethod
    def _skip_comments(target: ImportTarget, comments: list[Any] | str, reason: str,
                       ref: str, progress: Progress) -> None:
        count = len(comments) if isinstance(comments, list) else 1
        target.summary.skip(reason, f"comments on {ref}", count)
        progress(count)
