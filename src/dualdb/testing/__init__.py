"""Test your application on every backend: a pytest plugin and a throwaway PostgreSQL.

Installing dualdb registers the pytest plugin (``dualdb.testing._plugin``; pytest loads it,
nothing else imports pytest). Its fixtures give a test a migrated database on each backend
selected with ``--dualdb-backends``: ``dualdb_backend``, ``dualdb_url``, ``dualdb_db``, and
the session's ``dualdb_template`` and ``dualdb_postgresql``; the ``dualdb`` marker chooses
how tests are isolated. See ``docs/testing.md``.

Outside pytest, :func:`start_postgres` starts the same throwaway server (benchmarks,
scripts): a private cluster, stopped even if the process is killed.
"""

from __future__ import annotations

from dualdb.testing._cluster import (
    SERVER_SETTINGS,
    PostgresServer,
    dbname_from_url,
    find_bindir,
    redact_url,
    start_postgres,
)
from dualdb.testing._databases import DatabaseTemplate, migration_sources

__all__ = [
    "SERVER_SETTINGS",
    "DatabaseTemplate",
    "PostgresServer",
    "dbname_from_url",
    "find_bindir",
    "migration_sources",
    "redact_url",
    "start_postgres",
]
