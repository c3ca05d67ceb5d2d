"""What a view is: named tables, and a handler for each kind of event it reads.

Handlers read and write rows through a :class:`~projections.store.Batch`, which keeps the
rows touched by a batch of events in memory and writes them, with the view's tracking
position, in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from projections.change import Change
from projections.tables import Dialect, Table

if TYPE_CHECKING:
    from projections.store import Batch

Handler = Callable[["Batch", Change], None]


class Bulk(Protocol):
    """Applies some kinds of event of a range of positions set-based, in SQL (rebuilds)."""

    def apply_in(self, cursor: Any, start: int, stop: int) -> None: ...


class View:
    """A projection of the ledger into SQL tables. Subclasses declare ``name`` and
    ``tables``; module-level functions register as handlers with ``@SomeView.on(kind)``."""

    name: ClassVar[str]
    tables: ClassVar[tuple[Table, ...]]
    handlers: ClassVar[dict[str, Handler]]
    #: Kinds a rebuild applies with :meth:`bulk` instead of their handlers.
    bulk_kinds: ClassVar[tuple[str, ...]] = ()

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
    def topics(cls, *, bulk: bool = False) -> tuple[str, ...]:
        """The full event topics this view reads (so the log can be filtered by topic); with
        ``bulk``, those its handlers read when :meth:`bulk` applies the rest."""
        from projections.topics import topic_of

        return tuple(sorted(topic_of(kind) for kind in cls.handlers
                            if not (bulk and kind in cls.bulk_kinds)))

    @classmethod
    def bulk(cls, dialect: Dialect, events_table: str, prefix: str) -> Bulk | None:
        """What applies :attr:`bulk_kinds` in SQL, for tables named with ``prefix``."""
        return None

    @classmethod
    def table(cls, name: str) -> Table:
        for table in cls.tables:
            if table.name == name:
                return table
        raise KeyError(name)
