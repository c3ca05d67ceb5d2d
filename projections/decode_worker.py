"""The child process that decodes a SQLite rebuild's ranges ahead (see :mod:`projections.prefetch`).

Two threads of one process get almost nothing out of two SQLite connections (SQLite's global
page-cache and allocator mutexes take turns between them; measured in ``benchmarks/README.md``),
so the decoding runs in a process of its own. It needs nothing but the standard library.

Protocol, one JSON document per line: the first line on stdin names the database file; each
later line is a request ``{"path": scratch file, "statements": [[sql, params], ...]}``, which it
runs in one transaction with ``path`` attached as ``scratch`` and answers on stdout with
``{"ok": true}`` or ``{"ok": false, "error": "..."}``. It ends when stdin closes.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from typing import Any

ALIAS = "scratch"


def decode(connection: sqlite3.Connection, path: str, statements: list[list[Any]]) -> None:
    connection.execute(f"ATTACH DATABASE ? AS {ALIAS}", (path,))
    try:
        connection.execute(f"PRAGMA {ALIAS}.journal_mode = OFF")
        connection.execute(f"PRAGMA {ALIAS}.synchronous = OFF")
        connection.execute("BEGIN")
        try:
            for sql, params in statements:
                connection.execute(sql, params)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    finally:
        connection.execute(f"DETACH DATABASE {ALIAS}")


def main() -> int:
    setup = json.loads(sys.stdin.readline())
    connection = sqlite3.connect(setup["database"], uri=True, isolation_level=None,
                                 timeout=float(setup.get("timeout", 5.0)))
    for line in sys.stdin:
        request = json.loads(line)
        try:
            decode(connection, request["path"], request["statements"])
            answer: dict[str, object] = {"ok": True}
        except sqlite3.Error as error:
            answer = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
