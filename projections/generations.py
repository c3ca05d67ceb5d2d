"""Which generation of view tables is live.

A blue/green rebuild writes a new generation of every view table (prefix ``view_g<N>_``)
while the live generation keeps serving; once the new one has caught up with the ledger it is
made live here, in one committed row that every process's projector checks as it follows.
The generation before the previous one is dropped, so readers still finishing a query on the
previous generation are not cut off.
"""

from __future__ import annotations

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

DEFAULT_PREFIX = "view_"
Datastore = SQLiteDatastore | PostgresDatastore


def _table(datastore: Datastore) -> str:
    if isinstance(datastore, PostgresDatastore):
        return f'"{datastore.schema}".view_generation'
    return "view_generation"


def _sql(datastore: Datastore, statement: str) -> str:
    return statement.replace("?", "%s") if isinstance(datastore, PostgresDatastore) \
        else statement


def ensure(datastore: Datastore) -> None:
    with datastore.transaction(commit=True) as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {_table(datastore)} ("
                       "id BIGINT PRIMARY KEY, generation BIGINT, prefix TEXT)")


def live(datastore: Datastore) -> tuple[int, str]:
    """The live generation's number and table prefix (0 and ``view_`` at first)."""
    with datastore.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT generation, prefix FROM {_table(datastore)} WHERE id = 1")
        row = cursor.fetchone()
    if row is None:
        return 0, DEFAULT_PREFIX
    return int(row[0] if not isinstance(row, dict) else row["generation"]), str(
        row[1] if not isinstance(row, dict) else row["prefix"])


def prefix_of(generation: int) -> str:
    return DEFAULT_PREFIX if generation == 0 else f"view_g{generation}_"


def make_live(datastore: Datastore, generation: int) -> None:
    with datastore.transaction(commit=True) as cursor:
        cursor.execute(_sql(datastore,
                            f"INSERT INTO {_table(datastore)} (id, generation, prefix) "
                            "VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                            "generation = excluded.generation, prefix = excluded.prefix"),
                       (generation, prefix_of(generation)))
