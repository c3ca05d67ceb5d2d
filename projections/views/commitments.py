"""The commitments tracker: what the organisation committed to, on which posts, its progress,
and whether it was kept."""

from __future__ import annotations

from projections.change import Change
from projections.store import Batch, Row
from projections.tables import INT, TEXT, Table
from projections.view import View


class CommitmentsView(View):
    name = "commitments"
    tables = (
        Table("commitments", (
            ("id", TEXT), ("community_id", TEXT), ("made_by", TEXT), ("text", TEXT),
            ("due_on", TEXT),
            ("status", TEXT), ("made_us", INT), ("position", INT), ("progress_count", INT),
            ("closed_by", TEXT), ("closing_statement", TEXT), ("closed_us", INT),
            ("closed_position", INT)),
            key=("id",), indexes=(("community_id", "position"),)),
        Table("commitment_posts", (("commitment_id", TEXT), ("post_id", TEXT)),
              key=("commitment_id", "post_id"), indexes=(("post_id",),)),
        Table("commitment_progress", (("commitment_id", TEXT), ("seq", INT), ("note", TEXT),
                                      ("by_id", TEXT), ("occurred_us", INT), ("position", INT)),
              key=("commitment_id", "seq")),
    )


on = CommitmentsView.on


@on("Commitment.Made")
def commitment_made(batch: Batch, c: Change) -> None:
    s = c.state
    batch.put("commitments", {
        "id": c.id, "community_id": s["community_id"], "made_by": c.actor, "text": s["text"],
        "due_on": s["due_on"], "status": "open", "made_us": c.occurred_us,
        "position": c.position, "progress_count": 0})
    for post_id in s["post_ids"]:
        batch.put("commitment_posts", {"commitment_id": c.id, "post_id": post_id})


def _commitment(batch: Batch, c: Change) -> Row:
    commitment = batch.get("commitments", c.id)
    assert commitment is not None
    return commitment


@on("Commitment.ProgressRecorded")
def progress(batch: Batch, c: Change) -> None:
    commitment = _commitment(batch, c)
    commitment["progress_count"] += 1
    batch.put("commitment_progress", {
        "commitment_id": c.id, "seq": commitment["progress_count"], "note": c.state["note"],
        "by_id": c.actor, "occurred_us": c.occurred_us, "position": c.position})
    batch.put("commitments", commitment)


@on("Commitment.Fulfilled", "Commitment.Abandoned")
def closed(batch: Batch, c: Change) -> None:
    commitment = _commitment(batch, c)
    commitment.update(status="fulfilled" if c.kind.endswith("Fulfilled") else "abandoned",
                      closed_by=c.actor, closing_statement=c.state["statement"],
                      closed_us=c.occurred_us, closed_position=c.position)
    batch.put("commitments", commitment)
