"""SQLite through aiosqlite: the embedded, zero-configuration backend.

One module per role (see CONTRIBUTING.md): ``compiler`` (rendering differences),
``dialect`` (capabilities), ``codec`` (values both ways), ``plans`` (decoding rows by the
declared types of the columns they come from), ``errors`` (sqlite3 → dualdb.errors),
``driver`` (connections and the pool), ``introspect`` and ``migrate`` (the migration
tooling's view), ``_aiosqlite`` (the private aiosqlite API dualdb relies on, in one place).
"""

from __future__ import annotations

from dualdb.dialects.sqlite.dialect import NAME, SQLiteDialect

__all__ = ["NAME", "SQLiteDialect"]
