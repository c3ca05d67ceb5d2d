"""View tables: their columns, keys and indexes, and the SQL that creates and writes them on
SQLite and PostgreSQL alike (statements are written with ``?`` placeholders; PostgreSQL gets
``%s``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

TEXT, INT, REAL = "TEXT", "BIGINT", "DOUBLE PRECISION"


class Dialect(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgres"

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self is Dialect.POSTGRES else statement


@dataclass(frozen=True)
class Table:
    """A view table. Column types are portable names: TEXT, BIGINT, DOUBLE PRECISION."""

    name: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def create(self, prefix: str, schema: str = "", *, indexes: bool = True) -> list[str]:
        """``prefix`` starts every table and index name; ``schema`` (``'"s".'`` or empty)
        qualifies the tables. Without ``indexes``, only the table (with its key)."""
        columns = ", ".join(f"{name} {kind}" for name, kind in self.columns)
        statements = [f"CREATE TABLE IF NOT EXISTS {schema}{prefix}{self.name} ({columns}, "
                      f"PRIMARY KEY ({', '.join(self.key)}))"]
        return statements + (self.create_indexes(prefix, schema) if indexes else [])

    def create_indexes(self, prefix: str, schema: str = "") -> list[str]:
        """The secondary indexes (a rebuild makes them once its rows are written: sorting
        them in one go is much cheaper than keeping them up to date row by row)."""
        return [f"CREATE INDEX IF NOT EXISTS {prefix}{self.name}_{'_'.join(index)}_idx "
                f"ON {schema}{prefix}{self.name} ({', '.join(index)})"
                for index in self.indexes]

    def drop(self, prefix: str) -> str:
        return f"DROP TABLE IF EXISTS {prefix}{self.name}"

    def upsert(self, prefix: str) -> str:
        names = self.column_names
        updates = [n for n in names if n not in self.key]
        statement = (f"INSERT INTO {prefix}{self.name} ({', '.join(names)}) "
                     f"VALUES ({', '.join('?' for _ in names)}) "
                     f"ON CONFLICT ({', '.join(self.key)}) ")
        if not updates:
            return statement + "DO NOTHING"
        return statement + "DO UPDATE SET " + ", ".join(f"{n} = excluded.{n}" for n in updates)

    def select_by_key(self, prefix: str) -> str:
        return (f"SELECT * FROM {prefix}{self.name} WHERE "
                + " AND ".join(f"{k} = ?" for k in self.key))
