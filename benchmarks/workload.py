"""A ledger of a given size, built fast for benchmarks: a community and a mix of threads,
replies, edits and acknowledgements, saved thousands of events at a time (the same events the
commands record)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eventsourcing.domain import Aggregate

from ledger.application import DialogueLedger
from ledger.domain import Access, Act, AdmissionRule, Post, PostKind, Role, Thread

KINDS = list(PostKind)


def build(app: DialogueLedger, events: int) -> tuple[Any, list[Any]]:
    """A community and a mix of threads, replies, edits, acknowledgements and retractions,
    saved thousands of events at a time (the same events the commands record)."""
    rep = app.register_person("rep", "Rep").id
    org = app.found_organisation("Org", "org", actor_id=rep).id
    community = app.create_community(org, "Bench", "bench", access=Access.OPEN,
                                     rule=AdmissionRule(), actor_id=rep).id
    members = [app.register_person(f"m{i}", f"Member {i}").id for i in range(20)]
    for member in members:
        app.join_community(community, actor_id=member)
    app.grant_role(community, members[0], Role.MODERATOR, actor_id=rep)
    now = datetime.now(UTC)
    pending: list[Aggregate] = []
    count = 0
    k = 0
    while count < events:
        author = members[k % len(members)]
        thread = Thread(community_id=community, kind=KINDS[k % 4], title=f"Thread {k}",
                        nomination_id=None, act=Act(author, now))
        opening = Post(community_id=community, thread_id=thread.id, parent_id=None,
                       kind=KINDS[k % 4], body=f"Opening post {k}", for_organisation=False,
                       act=Act(author, now))
        batch: list[Aggregate] = [thread, opening]
        for j in range(18):
            by_rep = j % 6 == 5
            reply = Post(community_id=community, thread_id=thread.id, parent_id=opening.id,
                         kind=PostKind.COMMENT, body=f"Reply {j} to {k}",
                         for_organisation=by_rep,
                         act=Act(rep if by_rep else members[(k + j) % 20], now))
            if j % 5 == 0:
                reply.edit(body=f"Reply {j} to {k}, edited", act=Act(reply.author_id, now))
            if j % 7 == 0:
                reply.acknowledge(act=Act(rep, now))
            batch.append(reply)
        pending.extend(batch)
        count += sum(len(a.pending_events) for a in batch)
        k += 1
        if len(pending) > 2_000:
            app.save(*pending)
            pending = []
    if pending:
        app.save(*pending)
    return community, members
