"""Event kinds ("Post.Published") and their full topics in the store."""

from __future__ import annotations

from eventsourcing.utils import get_topic

from ledger import domain

_AGGREGATES = {
    cls.__name__: cls
    for cls in (domain.Organisation, domain.Person, domain.Community, domain.Membership,
                domain.Nomination, domain.Thread, domain.Post, domain.Commitment,
                domain.ModerationDecision, domain.CommandRecord)
}


def topic_of(kind: str) -> str:
    aggregate, _, event = kind.partition(".")
    event_class = getattr(_AGGREGATES[aggregate], event)
    return get_topic(event_class)
