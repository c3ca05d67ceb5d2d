"""Threads and posts: the thread list per community, the reply tree with every version, the
moderation and retraction history of each post, and acknowledgements.

``post_changes`` and ``acknowledgements`` are histories (one row per event, with its
position and time), so reports can be computed as of any earlier point. ``post_versions``
holds every version of the posts that were edited; a post never edited has its one version
in ``posts`` alone (most posts are never edited: this halves the rows a rebuild writes).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from projections.change import Change
from projections.store import Batch, Row
from projections.tables import INT, TEXT, Dialect, Table
from projections.view import Bulk, View
from projections.views import threads_bulk


class ThreadsView(View):
    name = "threads"
    tables = (
        Table("threads", (("id", TEXT), ("community_id", TEXT), ("kind", TEXT), ("title", TEXT),
                          ("opener_id", TEXT), ("nomination_id", TEXT), ("opened_us", INT),
                          ("locked", INT), ("post_count", INT), ("visible_post_count", INT),
                          ("org_reply_count", INT), ("last_activity_us", INT),
                          ("position", INT)),
              key=("id",), indexes=(("community_id", "last_activity_us"),)),
        Table("posts", (("id", TEXT), ("thread_id", TEXT), ("community_id", TEXT),
                        ("parent_id", TEXT),
                        ("author_id", TEXT), ("kind", TEXT), ("for_organisation", INT),
                        ("body", TEXT),
                        ("versions", INT), ("published_us", INT), ("edited_us", INT),
                        ("retracted", INT), ("moderation", TEXT), ("moderation_decision_id", TEXT),
                        ("moderation_reason", TEXT), ("moderation_actor_id", TEXT),
                        ("moderation_us", INT), ("standing", TEXT), ("ack_count", INT),
                        ("position", INT)),
              key=("id",), indexes=(("thread_id", "position"), ("community_id", "position"))),
        Table("post_versions", (("post_id", TEXT), ("version", INT), ("body", TEXT),
                                ("actor_id", TEXT), ("occurred_us", INT), ("position", INT)),
              key=("post_id", "version")),
        Table("post_changes", (("post_id", TEXT), ("position", INT), ("change", TEXT),
                               ("actor_id", TEXT), ("decision_id", TEXT), ("reason_code", TEXT),
                               ("occurred_us", INT)),
              key=("post_id", "position")),
        Table("acknowledgements", (("post_id", TEXT), ("by_id", TEXT), ("occurred_us", INT),
                                   ("position", INT)),
              key=("post_id", "by_id")),
    )
    bulk_kinds = threads_bulk.KINDS

    @classmethod
    def bulk(cls, dialect: Dialect, events_table: str, prefix: str) -> Bulk | None:
        if dialect is Dialect.SQLITE and sqlite3.sqlite_version_info < (3, 33):
            return None  # no UPDATE ... FROM: the handlers rebuild it
        return threads_bulk.ThreadsBulk(dialect, events_table, prefix)


on = ThreadsView.on


def counts_as_visible(post: Row) -> bool:
    return not post["retracted"] and post["moderation"] is None


@on("Thread.Opened")
def thread_opened(batch: Batch, c: Change) -> None:
    s = c.state
    batch.put("threads", {
        "id": c.id, "community_id": s["community_id"], "kind": s["kind"], "title": s["title"],
        "opener_id": c.actor, "nomination_id": s["nomination_id"], "opened_us": c.occurred_us,
        "locked": 0, "post_count": 0, "visible_post_count": 0, "org_reply_count": 0,
        "last_activity_us": c.occurred_us, "position": c.position})


@on("Thread.Locked", "Thread.Unlocked")
def thread_lock(batch: Batch, c: Change) -> None:
    thread = batch.get("threads", c.id)
    assert thread is not None
    thread["locked"] = int(c.kind.endswith("Locked"))
    batch.put("threads", thread)


@on("Post.Published")
def post_published(batch: Batch, c: Change) -> None:
    s = c.state
    post = batch.put("posts", {
        "id": c.id, "thread_id": s["thread_id"], "community_id": s["community_id"],
        "parent_id": s["parent_id"], "author_id": c.actor, "kind": s["kind"],
        "for_organisation": int(s["for_organisation"]), "body": s["body"], "versions": 1,
        "published_us": c.occurred_us, "edited_us": None, "retracted": 0, "moderation": None,
        "moderation_decision_id": None, "moderation_reason": None,
        "moderation_actor_id": None, "moderation_us": None, "standing": "[]", "ack_count": 0,
        "position": c.position})
    thread = _thread(batch, post)
    thread["post_count"] += 1
    thread["last_activity_us"] = max(thread["last_activity_us"], c.occurred_us)
    _count(thread, post, +1)
    batch.put("threads", thread)


@on("Post.Edited")
def post_edited(batch: Batch, c: Change) -> None:
    post = _post(batch, c)
    if post["versions"] == 1:  # the post as published becomes its first version
        batch.put("post_versions", {"post_id": c.id, "version": 1, "body": post["body"],
                                    "actor_id": post["author_id"],
                                    "occurred_us": post["published_us"],
                                    "position": post["position"]})
    post["versions"] += 1
    post.update(body=c.state["body"], edited_us=c.occurred_us)
    batch.put("post_versions", {"post_id": c.id, "version": post["versions"],
                                "body": c.state["body"], "actor_id": c.actor,
                                "occurred_us": c.occurred_us, "position": c.position})
    thread = _thread(batch, post)
    thread["last_activity_us"] = max(thread["last_activity_us"], c.occurred_us)
    batch.put("threads", thread)
    batch.put("posts", post)


@on("Post.Retracted", "Post.Hidden", "Post.Removed", "Post.Restored",
    "Post.ModerationReversed")
def post_status(batch: Batch, c: Change) -> None:
    post = _post(batch, c)
    thread = _thread(batch, post)
    _count(thread, post, -1)
    change = CHANGES[c.kind]
    if change == "retracted":
        post["retracted"] = 1
    else:
        standing = apply_standing(orjson.loads(post["standing"]), change,
                                  c.state["decision_id"],
                                  [c.state["decision_id"], change, c.state.get("reason_code"),
                                   c.actor, c.occurred_us])
        top = standing[-1] if standing else [None, None, None, c.actor, c.occurred_us]
        post.update(standing=orjson.dumps(standing).decode(), moderation=top[1],
                    moderation_decision_id=top[0] if standing else c.state["decision_id"],
                    moderation_reason=top[2], moderation_actor_id=top[3],
                    moderation_us=top[4])
    _count(thread, post, +1)
    batch.put("post_changes", {
        "post_id": c.id, "position": c.position, "change": change, "actor_id": c.actor,
        "decision_id": c.state.get("decision_id"), "reason_code": c.state.get("reason_code"),
        "occurred_us": c.occurred_us})
    batch.put("threads", thread)
    batch.put("posts", post)


@on("Post.Acknowledged")
def post_acknowledged(batch: Batch, c: Change) -> None:
    post = _post(batch, c)
    post["ack_count"] += 1
    batch.put("acknowledgements", {"post_id": c.id, "by_id": c.actor,
                                   "occurred_us": c.occurred_us, "position": c.position})
    batch.put("posts", post)


CHANGES = {"Post.Retracted": "retracted", "Post.Hidden": "hidden", "Post.Removed": "removed",
           "Post.Restored": "restored", "Post.ModerationReversed": "reversed"}


def apply_standing(standing: list[Any], change: str, decision_id: str,
                   entry: Any) -> list[Any]:
    """The decisions standing on a post after a moderation change: hiding and removing add
    one, a restore decision lifts them all, a reversal on appeal lifts its own decision.
    Entries start with the decision id."""
    if change in ("hidden", "removed"):
        return [*standing, entry]
    if change == "restored":
        return []
    return [s for s in standing if s[0] != decision_id]


def _post(batch: Batch, c: Change) -> Row:
    post = batch.get("posts", c.id)
    assert post is not None, f"post {c.id} changed before it was published"
    return post


def _thread(batch: Batch, post: Row) -> Row:
    thread = batch.get("threads", post["thread_id"])
    assert thread is not None, f"post {post['id']} published before its thread"
    return thread


def _count(thread: Row, post: Row, sign: int) -> None:
    """Add (or take away) a post's part in its thread's visible and organisation counts."""
    if counts_as_visible(post):
        thread["visible_post_count"] += sign
        if post["for_organisation"] and post["parent_id"] is not None:
            thread["org_reply_count"] += sign
