"""PostgreSQL test databases for ``dualdb.testing``: databases on the session's server, a
copy made with ``CREATE DATABASE … TEMPLATE``."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dualdb.dialects.base import ScratchDatabases

__all__ = ["PostgresScratchDatabases"]


def _dbname(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


class PostgresScratchDatabases(ScratchDatabases):
    needs_server = True

    def create(self, name: str) -> str:
        return self._server().create_database(name)

    def copy(self, template_url: str, name: str, folder: Path) -> str:
        return self._server().create_database(name, template=_dbname(template_url))

    def drop(self, url: str) -> None:
        self._server().drop_database(_dbname(url))

    def empty_tables(self, url: str, keep: Callable[[str], bool]) -> list[str]:
        import psycopg2  # type: ignore[import-untyped, unused-ignore]  # (dualdb[postgresql])
        from psycopg2 import sql  # type: ignore[import-untyped, unused-ignore]

        with closing(psycopg2.connect(url, connect_timeout=10)) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT schemaname, tablename FROM pg_tables "
                    "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
                    "ORDER BY schemaname, tablename"
                )
                tables = [(str(s), str(t)) for s, t in cur.fetchall() if not keep(str(t))]
                if tables:
                    names: Any = sql.SQL(", ").join(sql.Identifier(s, t) for s, t in tables)
                    cur.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(names))
        return [table for _schema, table in tables]
