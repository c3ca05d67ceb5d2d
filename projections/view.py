"""What a view is: named tables, and a handler for each kind of event it reads.

Handlers read and write rows through a :class:`~projections.store.Batch`, which keeps the
rows touched by a batch of events in memory and writes them, with the view's tracking
position, in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from projections.change import Change
from projections.tables import Dialect, Table

if TYPE_CHECKING:
    from projections.store import Batch

Handler = Callable[["Batch", Change], None]


@dataclass(frozen=True)
class Scratch:
    """Where a rebuild's bulk step keeps a range's decoded events between extracting and
    applying them: by default the applying transaction's own temporary tables; for a range
    extracted ahead on a second connection (:mod:`projections.prefetch`), tables that both
    connections see."""

    qualifier: str = ""  #: what names the tables' schema or attached database
    create: str = "CREATE TEMP TABLE IF NOT EXISTS"
    suffix: str = ""  #: after a table's definition (``ON COMMIT DROP``)
    tag: str = ""  #: after a table's name, to keep ranges apart

    def table(self, name: str) -> str:
        return f"{self.qualifier}{name}{self.tag}"


def temporary(dialect: Dialect) -> Scratch:
    """The applying transaction's own temporary tables."""
    return Scratch(suffix=" ON COMMIT DROP" if dialect is Dialect.POSTGRES else "")


class Bulk(Protocol):
    """Applies some kinds of event of a range of positions set-based, in SQL (rebuilds): first
    decodes the range's events into scratch tables, then applies them to the view's tables."""

    #: The names of the scratch tables it makes.
    scratch_tables: tuple[str, ...]

    def extract_in(self, cursor: Any, start: int, stop: int, scratch: Scratch) -> None:
        """Decode the events at positions ``start`` to ``stop`` (inclusive) into
        ``scratch``. Reads only the event log, so it can run ahead of the views."""

    def apply_in(self, cursor: Any, start: int, scratch: Scratch) -> None:
        """Apply the range extracted into ``scratch``, which starts at ``start``."""


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
