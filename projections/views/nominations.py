"""The nomination board: nominations, their debate threads, the votes with their reasons,
and the outcomes."""

from __future__ import annotations

from uuid import UUID

from ledger.domain.base import debate_thread_id
from projections.change import Change
from projections.store import Batch
from projections.tables import INT, REAL, TEXT, Table
from projections.view import View

DAY_US = 86_400_000_000


class NominationsView(View):
    name = "nominations"
    tables = (
        Table("nominations", (("id", TEXT), ("community_id", TEXT), ("nominee_id", TEXT),
                              ("nominator_id", TEXT), ("statement", TEXT), ("thread_id", TEXT),
                              ("status", TEXT), ("quorum", INT), ("threshold", REAL),
                              ("min_community_votes", INT), ("votes_cast", INT),
                              ("admit_votes", INT), ("made_us", INT), ("deadline_us", INT),
                              ("decided_us", INT), ("position", INT)),
              key=("id",), indexes=(("community_id", "status"),)),
        Table("ballots", (("nomination_id", TEXT), ("voter_id", TEXT), ("choice", TEXT),
                          ("reason", TEXT), ("for_organisation", INT), ("cast_us", INT),
                          ("changed_us", INT), ("changes", INT), ("position", INT)),
              key=("nomination_id", "voter_id")),
    )


on = NominationsView.on


@on("Nomination.Made")
def nomination_made(batch: Batch, c: Change) -> None:
    s = c.state
    rule = s["rule"]
    batch.put("nominations", {
        "id": c.id, "community_id": s["community_id"], "nominee_id": s["nominee_id"],
        "nominator_id": s["nominator_id"], "statement": s["statement"],
        "thread_id": str(debate_thread_id(UUID(c.id))), "status": "open",
        "quorum": rule["quorum"], "threshold": rule["threshold"],
        "min_community_votes": rule["min_community_votes"], "votes_cast": 0,
        "admit_votes": 0, "made_us": c.occurred_us,
        "deadline_us": c.occurred_us + rule["deadline_days"] * DAY_US, "decided_us": None,
        "position": c.position})


@on("Nomination.VoteCast", "Nomination.VoteChanged")
def vote(batch: Batch, c: Change) -> None:
    s = c.state
    nomination = batch.get("nominations", c.id)
    assert nomination is not None
    ballot = batch.get("ballots", c.id, c.actor)
    admit = s["choice"] == "admit"
    if ballot is None:
        ballot = {"nomination_id": c.id, "voter_id": c.actor, "cast_us": c.occurred_us,
                  "changed_us": None, "changes": 0}
        nomination["votes_cast"] += 1
    else:
        nomination["admit_votes"] -= ballot["choice"] == "admit"
        ballot["changed_us"] = c.occurred_us
        ballot["changes"] += 1
    nomination["admit_votes"] += admit
    ballot.update(choice=s["choice"], reason=s["reason"],
                  for_organisation=int(s["for_organisation"]), position=c.position)
    batch.put("ballots", ballot)
    batch.put("nominations", nomination)


@on("Nomination.Decided")
def decided(batch: Batch, c: Change) -> None:
    nomination = batch.get("nominations", c.id)
    assert nomination is not None
    nomination.update(status=c.state["outcome"], decided_us=c.occurred_us)
    batch.put("nominations", nomination)
