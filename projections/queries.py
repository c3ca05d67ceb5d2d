"""Typed reads over the views, for the CLI and the HTTP API.

:class:`ViewReader` answers the questions people ask of the ledger (the directory, a
roster, the nomination board, threads and their reply trees, the moderation log, the
commitments) from the view tables a :class:`~projections.runner.Projector` keeps. It never
touches the event log and never writes.

Every answer is plain JSON-ready data: ids are strings, times ISO 8601 UTC strings
(``"2026-09-01T08:30:00Z"``), flags booleans. A person appears everywhere as
``{"id", "handle", "name"}`` (the display name). Unknown communities, nominations and
threads raise :class:`~ledger.errors.NotFound`; bad arguments (a cursor that is not one of
ours, a limit out of range, an unknown status) raise :class:`~ledger.errors.InvalidInput`.

All view tables live in the ledger's database under one prefix, so a query may join the
tables of several views; the projector applies a batch to every view in one transaction,
so such joins are consistent. Values always travel as SQL parameters.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, Literal, Protocol
from uuid import UUID

import orjson

from ledger.errors import InvalidInput, NotFound
from projections.change import from_us
from projections.store import Row, ViewStore

Json = dict[str, Any]
Ref = str | UUID
Audience = Literal["public", "auditor"]

NOMINATION_STATUSES = ("open", "admitted", "declined", "expired")
COMMITMENT_STATUSES = ("open", "fulfilled", "abandoned")
#: The largest page a paginated read returns.
MAX_LIMIT = 1_000
#: How many ids go into one ``IN (...)`` lookup.
_CHUNK = 500
_INT64 = 2**63


class ViewSource(Protocol):
    """Where a reader finds the views' tables: the live :class:`Projector`, or a view
    snapshot as of an earlier point (``replay.point_in_time``)."""

    def store(self, name: str) -> ViewStore: ...


class ViewReader:
    """Read functions over the views a projector keeps (see the module's docstring)."""

    def __init__(self, projector: ViewSource) -> None:
        self.projector = projector

    # ==================================================================================
    # The directory
    # ==================================================================================
    def communities(self, organisation_id: Ref | None = None) -> list[Json]:
        """Every community (or the organisation's), sorted by name.

        Each: ``id``, ``slug``, ``name``, ``organisation`` (``id``, ``slug``, ``name``),
        ``access`` (``open`` or ``invitation-only``), ``rule`` (the admission rule:
        ``quorum``, ``threshold``, ``min_community_votes``, ``deadline_days``,
        ``direct_invitations``), ``member_count`` (active and suspended members) and
        ``created_at``.
        """
        sql = _COMMUNITY_SELECT
        params: list[Any] = []
        if organisation_id is not None:
            sql += " WHERE c.organisation_id = ?"
            params.append(str(organisation_id))
        rows = self._query("directory", sql, params)
        items = [_community(row) for row in rows]
        items.sort(key=lambda c: (c["name"].casefold(), c["slug"], c["id"]))
        return items

    def community(self, ref: Ref) -> Json:
        """One community by id or slug, shaped as in :meth:`communities`; NotFound if there
        is none."""
        return _community(self._community_row(ref))

    def roster(self, community_id: Ref, *, include_former: bool = False) -> list[Json]:
        """The members of a community (by id or slug), sorted by display name.

        Each: ``person_id``, ``membership_id``, ``handle``, ``display_name``, ``is_bot``,
        ``status`` (``active``, ``suspended``; ``left`` too with ``include_former``),
        ``roles`` (sorted list: ``auditor``, ``member``, ``moderator``, ``representative``),
        ``moderator_side`` (``organisation``, ``community`` or None), ``joined_via``
        (``founding``, ``open``, ``nomination``, ``direct-invitation``, ``appointment``) and
        ``joined_at``. People who were only nominated or invited are not members.
        """
        community = self._community_row(community_id)
        statuses = ["active", "suspended", *(["left"] if include_former else [])]
        marks = ", ".join("?" for _ in statuses)
        rows = self._query(
            "directory",
            "SELECT m.id, m.person_id, m.status, m.roles, m.moderator_side, m.joined_via, "
            "m.joined_us, p.handle, p.display_name, p.is_bot "
            "FROM {prefix}memberships m LEFT JOIN {prefix}people p ON p.id = m.person_id "
            f"WHERE m.community_id = ? AND m.status IN ({marks})",
            [community["id"], *statuses])
        members = [{
            "person_id": row["person_id"],
            "membership_id": row["id"],
            "handle": row["handle"],
            "display_name": row["display_name"],
            "is_bot": bool(row["is_bot"]),
            "status": row["status"],
            "roles": sorted(filter(None, (row["roles"] or "").split(","))),
            "moderator_side": row["moderator_side"],
            "joined_via": row["joined_via"],
            "joined_at": from_us(row["joined_us"]),
        } for row in rows]
        members.sort(key=lambda m: ((m["display_name"] or "").casefold(),
                                    (m["handle"] or "").casefold(), m["person_id"]))
        return members

    # ==================================================================================
    # The nomination board
    # ==================================================================================
    def nominations(self, community_id: Ref, status: str | None = None) -> list[Json]:
        """A community's nominations (optionally of one ``status``: ``open``, ``admitted``,
        ``declined``, ``expired``), newest first.

        Each: ``id``, ``community_id``, ``nominee`` and ``nominator`` (people),
        ``statement``, ``status``, ``made_at``, ``deadline``, ``decided_at``,
        ``votes_cast``, ``admit_votes``, ``decline_votes``, ``rule`` (``quorum``,
        ``threshold``, ``min_community_votes``: the rule the nomination was made under) and
        ``debate_thread`` (``id``, ``post_count``, ``visible_post_count``).
        """
        community = self._community_row(community_id)
        sql = _NOMINATION_SELECT + " WHERE n.community_id = ?"
        params: list[Any] = [community["id"]]
        if status is not None:
            if status not in NOMINATION_STATUSES:
                raise InvalidInput("unknown nomination status", field="status", value=status,
                                   allowed=", ".join(NOMINATION_STATUSES))
            sql += " AND n.status = ?"
            params.append(status)
        rows = self._query("nominations", sql + " ORDER BY n.position DESC", params)
        people = self._people(p for row in rows for p in (row["nominee_id"],
                                                          row["nominator_id"]))
        return [_nomination(row, people) for row in rows]

    def nomination(self, nomination_id: Ref) -> Json:
        """One nomination, shaped as in :meth:`nominations`, with its ``ballots`` in the
        order they were first cast: ``voter`` (a person), ``choice`` (``admit`` or
        ``decline``), ``reason``, ``for_organisation`` (the voter spoke for the
        organisation), ``cast_at``, ``changed_at`` (None if never changed) and ``changes``
        (how many times it was changed). NotFound if there is none."""
        rows = self._query("nominations", _NOMINATION_SELECT + " WHERE n.id = ?",
                           [str(nomination_id)])
        if not rows:
            raise NotFound("no such nomination", id=str(nomination_id))
        ballots = self._query(
            "nominations",
            "SELECT * FROM {prefix}ballots WHERE nomination_id = ? "
            "ORDER BY cast_us, voter_id", [rows[0]["id"]])
        people = self._people([rows[0]["nominee_id"], rows[0]["nominator_id"],
                               *(b["voter_id"] for b in ballots)])
        item = _nomination(rows[0], people)
        item["ballots"] = [{
            "voter": _person(people, b["voter_id"]),
            "choice": b["choice"],
            "reason": b["reason"],
            "for_organisation": bool(b["for_organisation"]),
            "cast_at": from_us(b["cast_us"]),
            "changed_at": from_us(b["changed_us"]),
            "changes": b["changes"],
        } for b in ballots]
        return item

    # ==================================================================================
    # Threads
    # ==================================================================================
    def threads(self, community_id: Ref, *, limit: int = 50,
                after: str | None = None) -> Json:
        """A page of a community's threads, most recently active first (ties by id).

        Answers ``{"items": [...], "next": cursor or None}``; pass ``next`` as ``after``
        for the following page. Each item: ``id``, ``community_id``, ``title``, ``kind``,
        ``opener`` (a person), ``opened_at``, ``last_activity_at``, ``post_count`` (every
        post ever published), ``visible_post_count`` (not retracted, hidden or removed),
        ``org_reply_count``, ``org_responded`` (a visible reply spoke for the
        organisation), ``locked`` and ``nomination_id`` (for a nomination's debate).
        A cursor is opaque; one that is not ours raises InvalidInput.
        """
        community = self._community_row(community_id)
        _check_limit(limit)
        sql = "SELECT * FROM {prefix}threads WHERE community_id = ?"
        params: list[Any] = [community["id"]]
        if after is not None:
            activity_us, thread_id = _thread_cursor(after)
            sql += " AND (last_activity_us < ? OR (last_activity_us = ? AND id > ?))"
            params += [activity_us, activity_us, thread_id]
        rows = self._query("threads",
                           sql + " ORDER BY last_activity_us DESC, id ASC LIMIT ?",
                           [*params, limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
        people = self._people(row["opener_id"] for row in rows)
        return {
            "items": [_thread(row, people) for row in rows],
            "next": (_encode("threads", rows[-1]["last_activity_us"], rows[-1]["id"])
                     if more else None),
        }

    def thread(self, thread_id: Ref, *, audience: Audience = "public") -> Json:
        """A thread, shaped as in :meth:`threads`, with its reply tree under ``posts``: the
        opening post, each post's ``replies`` ordered as they were published.

        Every post: ``id``, ``parent_id``, ``kind``, ``author`` (a person),
        ``for_organisation``, ``published_at``, ``edited_at``, ``acknowledgement_count``,
        ``state`` (``visible``, ``retracted``, ``hidden`` or ``removed``; moderation wins
        over retraction), ``body`` and ``replies``.

        ``audience="public"``: a retracted, hidden or removed post keeps its place but its
        ``body`` is None, and ``placeholder`` says why: ``{"state", "by"`` (who acted: the
        author, or the moderator), ``"reason_code"`` (None for a retraction),
        ``"decision_id"`` (None for a retraction), ``"at"}``; ``placeholder`` is None for
        a visible post. No versions are shown.

        ``audience="auditor"``: nothing is withheld. Every post has its latest ``body``,
        ``versions`` (``version``, ``body``, ``actor``, ``occurred_at``), ``history`` (each
        retraction, hiding, removal and restoration: ``change``, ``actor``,
        ``decision_id``, ``reason_code``, ``occurred_at``), ``acknowledgements`` (``by``,
        ``at``), ``retracted`` and ``moderation`` (the last moderation act: ``state``
        (``hidden``, ``removed`` or ``restored``), ``decision_id``,
        ``reason_code``, ``by``, ``at``; None if never moderated).
        """
        if audience not in ("public", "auditor"):
            raise InvalidInput("audience is public or auditor", field="audience",
                               value=str(audience))
        rows = self._query("threads", "SELECT * FROM {prefix}threads WHERE id = ?",
                           [str(thread_id)])
        if not rows:
            raise NotFound("no such thread", id=str(thread_id))
        head = rows[0]
        posts = self._query("threads",
                            "SELECT * FROM {prefix}posts WHERE thread_id = ? ORDER BY position",
                            [head["id"]])
        changes = self._query(
            "threads",
            "SELECT c.* FROM {prefix}post_changes c JOIN {prefix}posts p ON p.id = c.post_id "
            "WHERE p.thread_id = ? ORDER BY c.position", [head["id"]])
        versions: list[Row] = []
        acks: list[Row] = []
        if audience == "auditor":
            versions = self._query(
                "threads",
                "SELECT v.* FROM {prefix}post_versions v JOIN {prefix}posts p "
                "ON p.id = v.post_id WHERE p.thread_id = ? ORDER BY v.post_id, v.version",
                [head["id"]])
            acks = self._query(
                "threads",
                "SELECT a.* FROM {prefix}acknowledgements a JOIN {prefix}posts p "
                "ON p.id = a.post_id WHERE p.thread_id = ? ORDER BY a.position",
                [head["id"]])
        people = self._people([
            head["opener_id"],
            *(p for post in posts for p in (post["author_id"], post["moderation_actor_id"])),
            *(c["actor_id"] for c in changes), *(v["actor_id"] for v in versions),
            *(a["by_id"] for a in acks)])
        history = _group(changes, "post_id")
        by_version = _group(versions, "post_id")
        by_ack = _group(acks, "post_id")

        nodes: dict[str, Json] = {}
        for post in posts:
            node = _post(post, people)
            if audience == "public":
                _withhold(node, post, history.get(post["id"], []), people)
            else:
                _reveal(node, post, history.get(post["id"], []),
                        by_version.get(post["id"]) or [_first_version(post)],
                        by_ack.get(post["id"], []), people)
            node["replies"] = []
            nodes[post["id"]] = node
        roots: list[Json] = []
        for post in posts:  # in position order, so replies come in publishing order
            parent = nodes.get(post["parent_id"]) if post["parent_id"] else None
            (parent["replies"] if parent is not None else roots).append(nodes[post["id"]])
        item = _thread(head, people)
        item["audience"] = audience
        item["posts"] = roots
        return item

    # ==================================================================================
    # Moderation
    # ==================================================================================
    def moderation_log(self, community_id: Ref, *, limit: int = 100,
                       after: str | None = None) -> Json:
        """A page of a community's moderation decisions, in the order they were taken.

        Answers ``{"items": [...], "next": cursor or None}``. Each item: ``id``,
        ``position``, ``moderator`` (a person), ``side`` (``organisation`` or
        ``community``), ``action``, ``reason_code``, ``statement``, ``post_ids``,
        ``thread_id``, ``member_id`` and ``member`` (a person; for member actions),
        ``affected_person_ids``,
        ``automated_detection``, ``author_notified``, ``notice``, ``notified_at``,
        ``decided_at`` and ``appeal``: ``status`` (``none``, ``lodged``, ``upheld``,
        ``reversed``), ``appellant`` and ``reviewer`` (people), ``statement``, ``reasons``,
        ``lodged_at``, ``decided_at``.
        """
        community = self._community_row(community_id)
        _check_limit(limit)
        start = 0 if after is None else _position_cursor(after)
        rows = self._query(
            "moderation",
            "SELECT * FROM {prefix}decisions WHERE community_id = ? AND position > ? "
            "ORDER BY position LIMIT ?", [community["id"], start, limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
        people = self._people(p for row in rows for p in (
            row["moderator_id"], row["member_id"], row["appellant_id"],
            row["appeal_reviewer_id"]))
        return {
            "items": [_decision(row, people) for row in rows],
            "next": _encode("moderation", rows[-1]["position"]) if more else None,
        }

    # ==================================================================================
    # Commitments
    # ==================================================================================
    def commitments(self, community_id: Ref, status: str | None = None, *,
                    today: date | None = None) -> list[Json]:
        """The organisation's commitments in a community (optionally of one ``status``:
        ``open``, ``fulfilled``, ``abandoned``), in the order they were made.

        Each: ``id``, ``text``, ``made_by`` (a person), ``made_at``, ``due_on`` (an ISO
        date or None), ``status``, ``overdue`` (still open and due before ``today``, by
        default today in UTC), ``progress`` (notes in order: ``note``, ``by``, ``at``),
        ``closed_by``, ``closed_at``, ``closing_statement`` and ``post_ids`` (the posts it
        answers, in publishing order).
        """
        community = self._community_row(community_id)
        today = today or datetime.now(UTC).date()
        sql = "SELECT * FROM {prefix}commitments WHERE community_id = ?"
        params: list[Any] = [community["id"]]
        if status is not None:
            if status not in COMMITMENT_STATUSES:
                raise InvalidInput("unknown commitment status", field="status", value=status,
                                   allowed=", ".join(COMMITMENT_STATUSES))
            sql += " AND status = ?"
            params.append(status)
        rows = self._query("commitments", sql + " ORDER BY position", params)
        notes = _group(self._query(
            "commitments",
            "SELECT p.* FROM {prefix}commitment_progress p JOIN {prefix}commitments c "
            "ON c.id = p.commitment_id WHERE c.community_id = ? "
            "ORDER BY p.commitment_id, p.seq", [community["id"]]), "commitment_id")
        links = _group(self._query(
            "commitments",
            "SELECT cp.commitment_id, cp.post_id, "
            "COALESCE(p.position, 0) AS post_position "
            "FROM {prefix}commitment_posts cp "
            "JOIN {prefix}commitments c ON c.id = cp.commitment_id "
            "LEFT JOIN {prefix}posts p ON p.id = cp.post_id WHERE c.community_id = ? "
            "ORDER BY cp.commitment_id, post_position, cp.post_id",
            [community["id"]]), "commitment_id")
        people = self._people([
            *(p for row in rows for p in (row["made_by"], row["closed_by"])),
            *(n["by_id"] for group in notes.values() for n in group)])
        items = []
        for row in rows:
            due_on = row["due_on"]
            items.append({
                "id": row["id"],
                "text": row["text"],
                "made_by": _person(people, row["made_by"]),
                "made_at": from_us(row["made_us"]),
                "due_on": due_on,
                "status": row["status"],
                "overdue": (row["status"] == "open" and due_on is not None
                            and date.fromisoformat(due_on) < today),
                "progress": [{"note": n["note"], "by": _person(people, n["by_id"]),
                              "at": from_us(n["occurred_us"])}
                             for n in notes.get(row["id"], [])],
                "closed_by": _person(people, row["closed_by"]),
                "closed_at": from_us(row["closed_us"]),
                "closing_statement": row["closing_statement"],
                "post_ids": [link["post_id"] for link in links.get(row["id"], [])],
            })
        return items

    # ==================================================================================
    # Names, for printing
    # ==================================================================================
    def names(self, ids: Iterable[Ref] | None = None) -> dict[str, str]:
        """A readable name for ids: a person's display name, a thread's title, a
        community's or organisation's name. Only the given ``ids`` (every one known by
        default); ids the views do not know are left out."""
        wanted = None if ids is None else sorted({str(i) for i in ids})
        found: dict[str, str] = {}
        for view, table, column in (("directory", "organisations", "name"),
                                    ("directory", "communities", "name"),
                                    ("directory", "people", "display_name"),
                                    ("threads", "threads", "title")):
            sql = f"SELECT id, {column} AS label FROM {{prefix}}{table}"
            if wanted is None:
                found.update((r["id"], r["label"]) for r in self._query(view, sql))
                continue
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start:start + _CHUNK]
                marks = ", ".join("?" for _ in chunk)
                found.update((r["id"], r["label"]) for r in self._query(
                    view, f"{sql} WHERE id IN ({marks})", chunk))
        return found

    # ==================================================================================
    # Helpers
    # ==================================================================================
    def _query(self, view: str, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.projector.store(view).query(sql, params)

    def _community_row(self, ref: Ref) -> Row:
        """A community's row by id, ``organisation-slug:community-slug``, or slug alone (an
        id wins over a slug that looks like one; of the communities bearing a slug, the first
        created)."""
        text = str(ref)
        organisation, qualified, slug = text.rpartition(":")
        if qualified:
            rows = self._query("directory", _COMMUNITY_SELECT + " WHERE o.slug = ? AND "
                               "c.slug = ?", [organisation, slug])
        else:
            rows = self._query(
                "directory",
                _COMMUNITY_SELECT + " WHERE c.id = ? OR c.slug = ? "
                "ORDER BY CASE WHEN c.id = ? THEN 0 ELSE 1 END, c.position",
                [text, text, text])
        if not rows:
            raise NotFound("no such community", ref=text)
        return rows[0]

    def _people(self, ids: Iterable[str | None]) -> dict[str, Json]:
        """``{"id", "handle", "name"}`` of each person named, by id."""
        wanted = sorted({i for i in ids if i})
        found: dict[str, Json] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start:start + _CHUNK]
            marks = ", ".join("?" for _ in chunk)
            for row in self._query(
                    "directory",
                    f"SELECT id, handle, display_name FROM {{prefix}}people WHERE id IN ({marks})",
                    chunk):
                found[row["id"]] = {"id": row["id"], "handle": row["handle"],
                                    "name": row["display_name"]}
        return found


# ======================================================================================
# Shaping rows
# ======================================================================================
_COMMUNITY_SELECT = (
    "SELECT c.*, o.slug AS organisation_slug, o.name AS organisation_name "
    "FROM {prefix}communities c LEFT JOIN {prefix}organisations o ON o.id = c.organisation_id")

_NOMINATION_SELECT = (
    "SELECT n.*, t.post_count AS thread_post_count, "
    "t.visible_post_count AS thread_visible_post_count "
    "FROM {prefix}nominations n LEFT JOIN {prefix}threads t ON t.id = n.thread_id")


def _person(people: dict[str, Json], person_id: str | None) -> Json | None:
    if person_id is None:
        return None
    return people.get(person_id) or {"id": person_id, "handle": None, "name": None}


def _group(rows: list[Row], key: str) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    return groups


def _community(row: Row) -> Json:
    return {
        "id": row["id"],
        "slug": row["slug"],
        "name": row["name"],
        "organisation": {"id": row["organisation_id"], "slug": row["organisation_slug"],
                         "name": row["organisation_name"]},
        "access": row["access"],
        "rule": {
            "quorum": row["quorum"],
            "threshold": float(row["threshold"]),
            "min_community_votes": row["min_community_votes"],
            "deadline_days": row["deadline_days"],
            "direct_invitations": bool(row["direct_invitations"]),
        },
        "member_count": row["member_count"],
        "created_at": from_us(row["created_us"]),
    }


def _nomination(row: Row, people: dict[str, Json]) -> Json:
    return {
        "id": row["id"],
        "community_id": row["community_id"],
        "nominee": _person(people, row["nominee_id"]),
        "nominator": _person(people, row["nominator_id"]),
        "statement": row["statement"],
        "status": row["status"],
        "made_at": from_us(row["made_us"]),
        "deadline": from_us(row["deadline_us"]),
        "decided_at": from_us(row["decided_us"]),
        "votes_cast": row["votes_cast"],
        "admit_votes": row["admit_votes"],
        "decline_votes": row["votes_cast"] - row["admit_votes"],
        "rule": {"quorum": row["quorum"], "threshold": float(row["threshold"]),
                 "min_community_votes": row["min_community_votes"]},
        "debate_thread": {"id": row["thread_id"],
                          "post_count": row["thread_post_count"] or 0,
                          "visible_post_count": row["thread_visible_post_count"] or 0},
    }


def _thread(row: Row, people: dict[str, Json]) -> Json:
    return {
        "id": row["id"],
        "community_id": row["community_id"],
        "title": row["title"],
        "kind": row["kind"],
        "opener": _person(people, row["opener_id"]),
        "opened_at": from_us(row["opened_us"]),
        "last_activity_at": from_us(row["last_activity_us"]),
        "post_count": row["post_count"],
        "visible_post_count": row["visible_post_count"],
        "org_reply_count": row["org_reply_count"],
        "org_responded": row["org_reply_count"] > 0,
        "locked": bool(row["locked"]),
        "nomination_id": row["nomination_id"],
    }


def _state(post: Row) -> str:
    if post["moderation"] in ("removed", "hidden"):
        return str(post["moderation"])
    return "retracted" if post["retracted"] else "visible"


def _post(post: Row, people: dict[str, Json]) -> Json:
    return {
        "id": post["id"],
        "parent_id": post["parent_id"],
        "kind": post["kind"],
        "author": _person(people, post["author_id"]),
        "for_organisation": bool(post["for_organisation"]),
        "published_at": from_us(post["published_us"]),
        "edited_at": from_us(post["edited_us"]),
        "acknowledgement_count": post["ack_count"],
        "state": _state(post),
        "body": post["body"],
    }


def _withhold(node: Json, post: Row, history: list[Row], people: dict[str, Json]) -> None:
    """The public face of a post: a placeholder instead of a withheld body."""
    state = node["state"]
    node["placeholder"] = None
    if state == "visible":
        return
    node["body"] = None
    if state == "retracted":
        retraction = next((c for c in reversed(history) if c["change"] == "retracted"), None)
        actor = retraction["actor_id"] if retraction is not None else post["author_id"]
        node["placeholder"] = {
            "state": state, "by": _person(people, actor), "reason_code": None,
            "decision_id": None,
            "at": from_us(retraction["occurred_us"]) if retraction is not None else None}
    else:
        node["placeholder"] = {
            "state": state, "by": _person(people, post["moderation_actor_id"]),
            "reason_code": post["moderation_reason"],
            "decision_id": post["moderation_decision_id"],
            "at": from_us(post["moderation_us"])}


def _first_version(post: Row) -> Row:
    """A post never edited: its one version is the post as published (the threads view keeps
    versions only for edited posts)."""
    return {"version": 1, "body": post["body"], "actor_id": post["author_id"],
            "occurred_us": post["published_us"]}


def _reveal(node: Json, post: Row, history: list[Row], versions: list[Row],
            acks: list[Row], people: dict[str, Json]) -> None:
    """The auditor's view of a post: everything."""
    node["retracted"] = bool(post["retracted"])
    node["moderation"] = None if post["moderation_decision_id"] is None else {
        "state": post["moderation"] or "restored",
        "decision_id": post["moderation_decision_id"],
        "reason_code": post["moderation_reason"],
        "by": _person(people, post["moderation_actor_id"]),
        "at": from_us(post["moderation_us"]),
    }
    node["versions"] = [{"version": v["version"], "body": v["body"],
                         "actor": _person(people, v["actor_id"]),
                         "occurred_at": from_us(v["occurred_us"])} for v in versions]
    node["history"] = [{"change": c["change"], "actor": _person(people, c["actor_id"]),
                        "decision_id": c["decision_id"], "reason_code": c["reason_code"],
                        "occurred_at": from_us(c["occurred_us"])} for c in history]
    node["acknowledgements"] = [{"by": _person(people, a["by_id"]),
                                 "at": from_us(a["occurred_us"])} for a in acks]


def _decision(row: Row, people: dict[str, Json]) -> Json:
    return {
        "id": row["id"],
        "position": row["position"],
        "moderator": _person(people, row["moderator_id"]),
        "side": row["moderator_side"],
        "action": row["action"],
        "reason_code": row["reason_code"],
        "statement": row["statement"],
        "post_ids": orjson.loads(row["post_ids"] or "[]"),
        "thread_id": row["thread_id"],
        "member_id": row["member_id"],
        "member": _person(people, row["member_id"]),
        "affected_person_ids": orjson.loads(row["affected_person_ids"] or "[]"),
        "automated_detection": bool(row["automated_detection"]),
        "author_notified": bool(row["author_notified"]),
        "notice": row["notice"],
        "notified_at": from_us(row["notice_us"]),
        "decided_at": from_us(row["decided_us"]),
        "appeal": {
            "status": row["appeal_status"] or "none",
            "appellant": _person(people, row["appellant_id"]),
            "statement": row["appeal_statement"],
            "reviewer": _person(people, row["appeal_reviewer_id"]),
            "reasons": row["appeal_reasons"],
            "lodged_at": from_us(row["appeal_lodged_us"]),
            "decided_at": from_us(row["appeal_decided_us"]),
        },
    }


# ======================================================================================
# Limits and cursors
# ======================================================================================
def _check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_LIMIT}",
                           field="limit", max=MAX_LIMIT)


def _encode(kind: str, *parts: object) -> str:
    """An opaque cursor: URL-safe base64 of ``kind:part:part``."""
    text = ":".join([kind, *(str(p) for p in parts)])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: object, kind: str, parts: int) -> list[str]:
    bad = InvalidInput("not a valid cursor; pass the `next` of a previous page",
                       field="after")
    if not isinstance(cursor, str) or not cursor or len(cursor) > 200:
        raise bad
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_",
                               validate=True)
        fields = raw.decode("ascii").split(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    if len(fields) != parts + 1 or fields[0] != kind:
        raise bad
    return fields[1:]


def _int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = _INT64
    if not -_INT64 < value < _INT64 or text != str(value):
        raise InvalidInput("not a valid cursor; pass the `next` of a previous page",
                           field="after")
    return value


def _thread_cursor(cursor: str) -> tuple[int, str]:
    activity, thread_id = _decode(cursor, "threads", 2)
    try:
        canonical = str(UUID(thread_id))
    except ValueError:
        canonical = ""
    if canonical != thread_id:
        raise InvalidInput("not a valid cursor; pass the `next` of a previous page",
                           field="after")
    return _int(activity), thread_id


def _position_cursor(cursor: str) -> int:
    (position,) = _decode(cursor, "moderation", 1)
    return _int(position)
