"""What a view is: named tables, and a handler for each kind of event it reads.

Handlers read and write rows through a :class:`~projections.store.Batch`, which keeps the
rows touched by a batch of events in memory and writes them, with the view's tracking
position, in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from projections.change import Change
from projections.tables import Table

if TYPE_CHECKING:
    from projections.store import Batch

Handler = Callable[["Batch", Change], None]


class View:
    """A projection of the ledger into SQL tables. Subclasses declare ``name`` and
    ``tables``; module-level functions register as handlers with ``@SomeView.on(kind)``."""

    name: ClassVar[str]
    tables: ClassVar[tuple[Table, ...]]
    handlers: ClassVar[dict[str, Handler]]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__()
        cls.handlers = {}

    @classmethod
    def on(cls, *kinds: str) -> Callable[[Handler], Handler]:
        """Register a handler for events of the given kinds (``"Post.Published"``)."""

        def register(handler: Handler) -> Handler:
            for kind in kinds:
                cls.handlers[kind] = handler
            return handler

        return register

    @classmethod
    def topics(cls) -> tuple[str, ...]:
        """The full event topics this view reads (so the log can be filtered by topic)."""
        from projections.topics import topic_of

        return tuple(sorted(topic_of(kind) for kind in cls.handlers))

    @classmethod
    def table(cls, name: str) -> Table:
        for table in cls.tables:
            if table.name == name:
                return table
        raise KeyError(name)
