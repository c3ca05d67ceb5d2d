"""Configuration from the environment, using eventsourcing's own variable names.

Unset, the ledger is stored in ``dialogue-ledger.db`` (SQLite) in the working folder. Set
``PERSISTENCE_MODULE=eventsourcing.postgres`` and the ``POSTGRES_*`` variables
(``POSTGRES_DBNAME``, ``POSTGRES_HOST``, ``POSTGRES_PORT``, ``POSTGRES_USER``,
``POSTGRES_PASSWORD``, ``POSTGRES_SCHEMA``, ...) for PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

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


def describe(env: Mapping[str, str]) -> str:
    if env["PERSISTENCE_MODULE"] == SQLITE:
        return f"SQLite {env['SQLITE_DBNAME']}"
    schema = env.get("POSTGRES_SCHEMA", "public")
    return (f"PostgreSQL {env.get('POSTGRES_USER')}@{env.get('POSTGRES_HOST')}:"
            f"{env.get('POSTGRES_PORT')}/{env.get('POSTGRES_DBNAME')} schema {schema}")
