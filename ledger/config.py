"""Configuration from the environment, using eventsourcing's own variable names.

Unset, the ledger is stored in ``dialogue-ledger.db`` (SQLite) in the working folder. Set
``PERSISTENCE_MODULE=eventsourcing.postgres`` and the ``POSTGRES_*`` variables
(``POSTGRES_DBNAME``, ``POSTGRES_HOST``, ``POSTGRES_PORT``, ``POSTGRES_USER``,
``POSTGRES_PASSWORD``, ``POSTGRES_SCHEMA``, ...) for PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import IO, Any
from uuid import uuid4

DEFAULT_SQLITE_DBNAME = "dialogue-ledger.db"
SQLITE = "eventsourcing.sqlite"
POSTGRES = "eventsourcing.postgres"
PERSISTENCE_ALIASES = {"sqlite": SQLITE, "postgres": POSTGRES, "postgresql": POSTGRES}


def store_env(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The store settings: the process environment, then ``overrides``, then defaults."""
    env = {k: v for k, v in os.environ.items()
           if k.startswith(("PERSISTENCE_MODULE", "SQLITE_", "POSTGRES_", "CREATE_TABLE"))}
    env.update(overrides or {})
    module = env.get("PERSISTENCE_MODULE", "") or SQLITE
    module = PERSISTENCE_ALIASES.get(module, module)
    env["PERSISTENCE_MODULE"] = module
    if module == SQLITE:
        env.setdefault("SQLITE_DBNAME", DEFAULT_SQLITE_DBNAME)
        if env["SQLITE_DBNAME"] == ":memory:":
            # Each plain ``:memory:`` connection is a database of its own, and the store's
            # pool opens several: one shared in-memory database per store instead.
            env["SQLITE_DBNAME"] = f"file:dialogue-ledger-{uuid4().hex}?mode=memory&cache=shared"
    elif module == POSTGRES:
        env.setdefault("POSTGRES_DBNAME", "dialogue_ledger")
        env.setdefault("POSTGRES_HOST", "127.0.0.1")
        env.setdefault("POSTGRES_PORT", "5432")
        env.setdefault("POSTGRES_USER", "postgres")
        env.setdefault("POSTGRES_PASSWORD", "")
        # eventsourcing waits forever for its insert lock by default; a command that cannot
        # get it within this many seconds fails (HTTP 503 with Retry-After) and records
        # nothing, instead of piling up behind a stuck writer.
        env.setdefault("POSTGRES_LOCK_TIMEOUT", "5")
        # A pooled connection is checked (an empty query) each time it is taken from the
        # pool, and replaced if the server dropped it (a restart, a terminated backend), so
        # such a fault costs no request a 503. Set POSTGRES_PRE_PING=n to skip the check.
        env.setdefault("POSTGRES_PRE_PING", "y")
    return env


def create_private_sqlite_file(env: Mapping[str, str]) -> None:
    """Create a SQLite store's file, if it does not exist yet, readable and writable by its
    owner only (0600): SQLite gives its WAL and shared-memory files the database file's
    permissions. An existing file keeps its permissions (the operator's choice)."""
    if env.get("PERSISTENCE_MODULE") != SQLITE:
        return
    name = env.get("SQLITE_DBNAME", "")
    if not name or name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
        return
    try:
        os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:
        return  # a missing folder, say: SQLite's own error will say what is wrong


def private_file(path: str | os.PathLike[str], mode: str = "wb", **options: Any) -> IO[Any]:
    """``open(path, mode)`` for writing a file only its owner may read (0600), whatever the
    umask, and even if a file by that name was there before."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return open(fd, mode, **options)


def describe(env: Mapping[str, str]) -> str:
    if env["PERSISTENCE_MODULE"] == SQLITE:
        return f"SQLite {env['SQLITE_DBNAME']}"
    schema = env.get("POSTGRES_SCHEMA", "public")
    return (f"PostgreSQL {env.get('POSTGRES_USER')}@{env.get('POSTGRES_HOST')}:"
            f"{env.get('POSTGRES_PORT')}/{env.get('POSTGRES_DBNAME')} schema {schema}")
