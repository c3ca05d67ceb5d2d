"""The moderation log: every decision, its notice, and any appeal and its outcome."""

from __future__ import annotations

import orjson

from projections.change import Change
from projections.store import Batch, Row
from projections.tables import INT, TEXT, Table
from projections.view import View


class ModerationView(View):
    name = "moderation"
    tables = (
        Table("decisions", (
            ("id", TEXT), ("community_id", TEXT), ("moderator_id", TEXT), ("moderator_side", TEXT),
            ("action", TEXT), ("reason_code", TEXT), ("statement", TEXT), ("post_ids", TEXT),
            ("thread_id", TEXT), ("member_id", TEXT), ("affected_person_ids", TEXT),
            ("automated_detection", INT), ("author_notified", INT), ("notice", TEXT),
            ("notice_us", INT), ("decided_us", INT), ("position", INT), ("appeal_status", TEXT),
            ("appellant_id", TEXT), ("appeal_statement", TEXT), ("appeal_lodged_us", INT),
            ("appeal_lodged_position", INT), ("appeal_reviewer_id", TEXT), ("appeal_reasons", TEXT),
            ("appeal_decided_us", INT), ("appeal_decided_position", INT)),
            key=("id",), indexes=(("community_id", "position"),)),
        Table("decision_posts", (("decision_id", TEXT), ("post_id", TEXT), ("position", INT)),
              key=("decision_id", "post_id"), indexes=(("post_id",),)),
    )


on = ModerationView.on


@on("ModerationDecision.Taken")
def decision_taken(batch: Batch, c: Change) -> None:
    s = c.state
    batch.put("decisions", {
        "id": c.id, "community_id": s["community_id"], "moderator_id": c.actor,
        "moderator_side": s["moderator_side"], "action": s["action"],
        "reason_code": s["reason_code"], "statement": s["statement"],
        "post_ids": orjson.dumps(s["post_ids"]).decode(), "thread_id": s["thread_id"],
        "member_id": s["member_id"],
        "affected_person_ids": orjson.dumps(s["affected_person_ids"]).decode(),
        "automated_detection": int(s["automated_detection"]),
        "author_notified": int(s["author_notified"]), "notice": None, "notice_us": None,
        "decided_us": c.occurred_us, "position": c.position, "appeal_status": "none"})
    for post_id in s["post_ids"]:
        batch.put("decision_posts", {"decision_id": c.id, "post_id": post_id,
                                     "position": c.position})


def _decision(batch: Batch, c: Change) -> Row:
    decision = batch.get("decisions", c.id)
    assert decision is not None
    return decision


@on("ModerationDecision.AuthorNotified")
def author_notified(batch: Batch, c: Change) -> None:
    decision = _decision(batch, c)
    decision.update(author_notified=1, notice=c.state["notice"], notice_us=c.occurred_us)
    batch.put("decisions", decision)


@on("ModerationDecision.AppealLodged")
def appeal_lodged(batch: Batch, c: Change) -> None:
    decision = _decision(batch, c)
    decision.update(appeal_status="lodged", appellant_id=c.actor,
                    appeal_statement=c.state["statement"], appeal_lodged_us=c.occurred_us,
                    appeal_lodged_position=c.position)
    batch.put("decisions", decision)


@on("ModerationDecision.AppealDecided")
def appeal_decided(batch: Batch, c: Change) -> None:
    decision = _decision(batch, c)
    decision.update(appeal_status=c.state["outcome"], appeal_reviewer_id=c.actor,
                    appeal_reasons=c.state["reasons"], appeal_decided_us=c.occurred_us,
                    appeal_decided_position=c.position)
    batch.put("decisions", decision)
