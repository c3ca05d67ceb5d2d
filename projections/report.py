"""The listen-and-respond report: did the organisation listen, and did it respond?

Computed from the views' history rows (posts, their retraction and moderation history,
acknowledgements, commitments, moderation decisions), each of which records the ledger
position and the time of the event behind it. The report can therefore be asked for as of any
ledger position (``at``: only events up to that position) or time (``as_of``: only events that
occurred by then); the live report is the report as of the views' current position.

Definitions (see docs/report.md for the full text):

- *Organisation* posts are those written by the organisation's representatives (recorded on
  each post when it was written); *member* posts are everyone else's. Bots' posts are neither
  responses nor member posts. Nomination debate threads are left out: they are the community's
  admission process, not its dialogue with the organisation.
- A post's time is its ``occurred_at``. A post that is retracted, or hidden or removed by a
  decision that still stands, does not count as a response.
- Durations are in hours. The median is the middle value (the mean of the two middle values
  for an even count); p90 is the nearest-rank 90th percentile.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from projections.change import EPOCH, MICROSECOND, from_us
from projections.runner import Projector
from projections.views.threads import apply_standing

KINDS = ("question", "concern", "proposal", "comment")
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
MAX_US = 2**62


@dataclass(frozen=True)
class ReportRequest:
    community_ids: tuple[str, ...]
    start: datetime
    end: datetime
    at: int | None = None  # ledger position
    as_of: datetime | None = None  # occurred_at cut-off
    now: datetime | None = None  # for ages and overdue commitments; defaults to as_of or now
    pile_on_members: int = 5
    pile_on_hours: float = 24.0


@dataclass
class Post:
    id: str
    thread_id: str
    parent_id: str | None
    author_id: str
    kind: str
    for_organisation: bool
    is_bot: bool
    us: int
    retracted: bool = False
    standing: list[Any] = field(default_factory=list)
    ever_moderated: bool = False
    acknowledged: bool = False
    org_replies: list[Post] = field(default_factory=list)

    @property
    def moderation(self) -> str | None:
        """hidden / removed by the latest standing decision, or None."""
        return str(self.standing[-1][1]) if self.standing else None

    @property
    def is_member(self) -> bool:
        return not self.for_organisation and not self.is_bot

    @property
    def is_response(self) -> bool:
        """An organisation post that counts as a response."""
        return (self.for_organisation and not self.is_bot and not self.retracted
                and self.moderation is None)


@dataclass
class Facts:
    posts: dict[str, Post]
    threads: dict[str, list[Post]]  # thread id → posts in time order; [0] opens it
    commitments: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    decision_posts: dict[str, list[str]]
    representatives: list[str]


class ListeningReport:
    """Computes the report from the views of a :class:`Projector`."""

    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    def compute(self, request: ReportRequest) -> dict[str, Any]:
        position = self.projector.position if request.at is None else min(
            request.at, self.projector.position)
        cutoff_us = MAX_US if request.as_of is None else _us(request.as_of)
        now = request.now or request.as_of or datetime.now(tz=UTC)
        facts = self._load(request.community_ids, position, cutoff_us)
        start, end = _us(request.start), _us(request.end)
        length = end - start
        return {
            "communities": list(request.community_ids),
            "as_of": {"position": position,
                      "time": None if request.as_of is None else _iso(request.as_of),
                      "now": _iso(now)},
            "parameters": {"pile_on_members": request.pile_on_members,
                           "pile_on_hours": request.pile_on_hours},
            "period": figures(facts, start, end, _us(now), request),
            "previous_period": figures(facts, start - length, start, _us(now), request),
        }

    # --- loading the history up to the report's point --------------------------------
    def _load(self, community_ids: Sequence[str], position: int, cutoff_us: int) -> Facts:
        store = self.projector.store("threads")
        marks = ", ".join("?" for _ in community_ids) or "NULL"
        scope = (*community_ids, position, cutoff_us)
        posts: dict[str, Post] = {}
        threads: dict[str, list[Post]] = defaultdict(list)
        for row in store.query(
                "SELECT p.id, p.thread_id, p.parent_id, p.author_id, p.kind, "
                "p.for_organisation, p.published_us, pe.is_bot "
                "FROM {prefix}posts p JOIN {prefix}threads t ON t.id = p.thread_id "
                "LEFT JOIN {prefix}people pe ON pe.id = p.author_id "
                f"WHERE p.community_id IN ({marks}) AND t.nomination_id IS NULL "
                "AND p.position <= ? AND p.published_us <= ? "
                "ORDER BY p.published_us, p.position", scope):
            post = Post(id=row["id"], thread_id=row["thread_id"], parent_id=row["parent_id"],
                        author_id=row["author_id"], kind=row["kind"],
                        for_organisation=bool(row["for_organisation"]),
                        is_bot=bool(row["is_bot"]), us=row["published_us"])
            posts[post.id] = post
            threads[post.thread_id].append(post)
        for row in store.query(
                "SELECT c.post_id, c.change, c.decision_id FROM {prefix}post_changes c "
                "JOIN {prefix}posts p ON p.id = c.post_id "
                f"WHERE p.community_id IN ({marks}) AND c.position <= ? AND c.occurred_us <= ? "
                "ORDER BY c.position", scope):
            changed = posts.get(row["post_id"])
            if changed is None:
                continue
            if row["change"] == "retracted":
                changed.retracted = True
                continue
            changed.standing = apply_standing(changed.standing, row["change"],
                                              row["decision_id"],
                                              (row["decision_id"], row["change"]))
            changed.ever_moderated |= row["change"] in ("hidden", "removed")
        for row in store.query(
                "SELECT a.post_id FROM {prefix}acknowledgements a "
                "JOIN {prefix}posts p ON p.id = a.post_id "
                f"WHERE p.community_id IN ({marks}) AND a.position <= ? AND a.occurred_us <= ?",
                scope):
            if row["post_id"] in posts:
                posts[row["post_id"]].acknowledged = True
        for thread_posts in threads.values():  # the opening post first, whatever its time
            thread_posts.sort(key=lambda p: p.parent_id is not None)
        for post in posts.values():
            parent = posts.get(post.parent_id) if post.parent_id else None
            if parent is not None and post.is_response:
                parent.org_replies.append(post)
        commitments = store.query(
            "SELECT id, due_on, made_us, "
            "CASE WHEN closed_position <= ? AND closed_us <= ? THEN status ELSE 'open' END "
            "AS status, closed_us FROM {prefix}commitments "
            f"WHERE community_id IN ({marks}) AND position <= ? AND made_us <= ?",
            (position, cutoff_us, *scope))
        decisions = store.query(
            "SELECT id, action, reason_code, moderator_side, decided_us, "
            "CASE WHEN appeal_lodged_position <= ? AND appeal_lodged_us <= ? "
            "THEN appeal_lodged_us END AS appeal_lodged_us, "
            "CASE WHEN appeal_decided_position <= ? AND appeal_decided_us <= ? "
            "THEN appeal_status END AS appeal_outcome "
            f"FROM {{prefix}}decisions WHERE community_id IN ({marks}) "
            "AND position <= ? AND decided_us <= ?",
            (position, cutoff_us, position, cutoff_us, *scope))
        decision_posts: dict[str, list[str]] = defaultdict(list)
        for row in store.query(
                "SELECT dp.decision_id, dp.post_id FROM {prefix}decision_posts dp "
                "JOIN {prefix}decisions d ON d.id = dp.decision_id "
                f"WHERE d.community_id IN ({marks}) AND d.position <= ? AND d.decided_us <= ?",
                scope):
            decision_posts[row["decision_id"]].append(row["post_id"])
        representatives = [row["person_id"] for row in store.query(
            "SELECT DISTINCT r.person_id FROM {prefix}representatives r "
            "JOIN {prefix}communities c ON c.organisation_id = r.organisation_id "
            "LEFT JOIN {prefix}people pe ON pe.id = r.person_id "
            f"WHERE c.id IN ({marks}) AND r.appointed_position <= ? AND r.appointed_us <= ? "
            "AND COALESCE(pe.is_bot, 0) = 0 "
            "AND NOT (r.withdrawn_position IS NOT NULL AND r.withdrawn_position <= ? "
            "AND r.withdrawn_us <= ?)", (*scope, position, cutoff_us))]
        return Facts(posts=posts, threads=dict(threads), commitments=commitments,
                     decisions=decisions, decision_posts=dict(decision_posts),
                     representatives=representatives)


# ======================================================================================
# The figures, for one period [start, end)
# ======================================================================================
def figures(facts: Facts, start: int, end: int, now_us: int,
            request: ReportRequest) -> dict[str, Any]:
    def in_period(us: int | None) -> bool:
        return us is not None and start <= us < end

    openings = [posts[0] for posts in facts.threads.values()
                if posts and posts[0].parent_id is None]
    member_threads = [o for o in openings if o.is_member and in_period(o.us)]
    responded: list[tuple[Post, Post]] = []
    unanswered: list[Post] = []
    for opening in member_threads:
        first = next((p for p in facts.threads[opening.thread_id] if p.is_response), None)
        if first is None:
            unanswered.append(opening)
        else:
            responded.append((opening, first))
    waits = [(first.us - opening.us) / HOUR_US for opening, first in responded]

    member_posts = [p for p in facts.posts.values()
                    if p.is_member and in_period(p.us) and not p.retracted
                    and p.moderation != "removed"]
    org_posts = [p for p in facts.posts.values() if p.is_response and in_period(p.us)]
    org_replies_to_members = [p for p in org_posts if p.parent_id is not None
                              and (parent := facts.posts.get(p.parent_id)) is not None
                              and parent.is_member]

    return {
        "from": from_us(start),
        "to": from_us(end),
        "member_threads": len(member_threads),
        "responded_threads": len(responded),
        "response_rate": _ratio(len(responded), len(member_threads)),
        "time_to_first_response_hours": _stats(waits),
        "unanswered": [
            {"thread_id": o.thread_id, "opened_at": from_us(o.us), "kind": o.kind,
             "age_hours": (now_us - o.us) / HOUR_US}
            for o in sorted(unanswered, key=lambda o: (o.us, o.thread_id))],
        "posts_addressed": _addressed(member_posts),
        "dialogue_share": {
            "organisation_posts": len(org_posts),
            "replies_to_members": len(org_replies_to_members),
            "share": _ratio(len(org_replies_to_members), len(org_posts)),
        },
        "commitments": _commitments(facts.commitments, in_period, now_us),
        "moderation": _moderation(facts, in_period),
        "pile_ons": _pile_ons(facts, in_period, request),
        "responders": _responders(org_replies_to_members, facts),
    }


def _addressed(member_posts: list[Post]) -> dict[str, Any]:
    def addressed(post: Post) -> bool:
        return post.acknowledged or bool(post.org_replies)

    by_kind = {}
    for kind in KINDS:
        of_kind = [p for p in member_posts if p.kind == kind]
        done = sum(addressed(p) for p in of_kind)
        by_kind[kind] = {"posts": len(of_kind), "addressed": done,
                         "rate": _ratio(done, len(of_kind))}
    total = sum(addressed(p) for p in member_posts)
    return {"posts": len(member_posts), "addressed": total,
            "rate": _ratio(total, len(member_posts)), "by_kind": by_kind}


def _commitments(rows: list[dict[str, Any]], in_period: Any, now_us: int) -> dict[str, Any]:
    made = [r for r in rows if in_period(r["made_us"])]
    today = datetime.fromtimestamp(now_us / 1e6, tz=UTC).date()
    fulfilled = [r for r in made if r["status"] == "fulfilled"]
    overdue = [r for r in made if r["status"] == "open" and r["due_on"] is not None
               and date.fromisoformat(r["due_on"]) < today]
    days = [(r["closed_us"] - r["made_us"]) / DAY_US for r in fulfilled]
    return {
        "made": len(made),
        "fulfilled": len(fulfilled),
        "abandoned": sum(r["status"] == "abandoned" for r in made),
        "overdue": len(overdue),
        "open": sum(r["status"] == "open" for r in made),
        "median_days_to_fulfil": statistics.median(days) if days else None,
    }


def _moderation(facts: Facts, in_period: Any) -> dict[str, Any]:
    moderated: set[str] = set()
    by_side: dict[str, set[str]] = defaultdict(set)
    by_reason: dict[str, set[str]] = defaultdict(set)
    for decision in facts.decisions:
        if decision["action"] not in ("hide-post", "remove-post") \
                or not in_period(decision["decided_us"]):
            continue
        for post_id in facts.decision_posts.get(decision["id"], []):
            post = facts.posts.get(post_id)
            if post is not None and post.is_member:
                moderated.add(post_id)
                by_side[decision["moderator_side"]].add(post_id)
                by_reason[decision["reason_code"]].add(post_id)
    member_posts = [p for p in facts.posts.values() if p.is_member and in_period(p.us)]
    concern = [p for p in member_posts if p.kind == "concern"]
    other = [p for p in member_posts if p.kind != "concern"]
    lodged = [d for d in facts.decisions if in_period(d["appeal_lodged_us"])]
    upheld = sum(d["appeal_outcome"] == "upheld" for d in lodged)
    reversed_ = sum(d["appeal_outcome"] == "reversed" for d in lodged)
    return {
        "member_posts_hidden_or_removed": len(moderated),
        "by_side": {side: len(ids) for side, ids in sorted(by_side.items())},
        "by_reason": {reason: len(ids) for reason, ids in sorted(by_reason.items())},
        "removal_rate_concern": _ratio(sum(p.ever_moderated for p in concern), len(concern)),
        "removal_rate_other": _ratio(sum(p.ever_moderated for p in other), len(other)),
        "appeals": {"lodged": len(lodged), "upheld": upheld, "reversed": reversed_,
                    "pending": len(lodged) - upheld - reversed_,
                    "reversal_rate": _ratio(reversed_, upheld + reversed_)},
    }


def _pile_ons(facts: Facts, in_period: Any, request: ReportRequest) -> list[dict[str, Any]]:
    k, window = request.pile_on_members, request.pile_on_hours * HOUR_US
    found = []
    for thread_id, posts in facts.threads.items():
        members = sorted((p for p in posts if p.is_member), key=lambda p: p.us)
        start_us = _pile_on_start(members, k, window)
        if start_us is None or not in_period(start_us):
            continue
        responses = sorted(p.us for p in posts if p.is_response)
        before = any(us < start_us for us in responses)
        after = [us for us in responses if us >= start_us]
        found.append({
            "thread_id": thread_id,
            "started_at": from_us(start_us),
            "responded_before": before,
            "response_after_hours": (after[0] - start_us) / HOUR_US if after else None,
        })
    return sorted(found, key=lambda f: (f["started_at"], f["thread_id"]))


def _pile_on_start(members: Sequence[Post], k: int, window: float) -> int | None:
    """The time of the post that first brings k distinct members within one window of
    ``window`` microseconds (both ends included)."""
    left = 0
    counts: dict[str, int] = defaultdict(int)
    for post in members:
        counts[post.author_id] += 1
        while members[left].us < post.us - window:
            counts[members[left].author_id] -= 1
            if counts[members[left].author_id] == 0:
                del counts[members[left].author_id]
            left += 1
        if len(counts) >= k:
            return post.us
    return None


def _responders(replies: Iterable[Post], facts: Facts) -> list[dict[str, Any]]:
    """Every representative of the organisation at the report's point (and anyone else who
    responded as one), with their responses to member posts."""
    waits: dict[str, list[float]] = {person: [] for person in facts.representatives}
    for reply in replies:
        parent = facts.posts[reply.parent_id or ""]
        waits.setdefault(reply.author_id, []).append((reply.us - parent.us) / HOUR_US)
    return [{"person_id": person, "replies_to_members": len(hours),
             "median_hours_to_respond": statistics.median(hours) if hours else None}
            for person, hours in sorted(waits.items())]


# ======================================================================================
def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "median": None, "p90": None, "mean": None, "max": None}
    ordered = sorted(values)
    rank = max(1, math.ceil(0.9 * len(ordered)))
    return {"count": len(ordered), "median": statistics.median(ordered),
            "p90": ordered[rank - 1], "mean": statistics.fmean(ordered),
            "max": ordered[-1]}


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _us(moment: datetime) -> int:
    return (moment - EPOCH) // MICROSECOND


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def default_period(now: datetime, days: int = 30) -> tuple[datetime, datetime]:
    end = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) \
        + timedelta(days=1)
    return end - timedelta(days=days), end
