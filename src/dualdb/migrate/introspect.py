"""Read the live schema of a SQLite or PostgreSQL database into the neutral :class:`Schema`.

Reads the catalogs, never the migration files, so that comparing the result with the
snapshot shows what the database really holds. yoyo's and dualdb's bookkeeping tables are
left out. Declared types map back to logical types (``JSONB`` and ``JSON TEXT`` are both
``json``); a type outside the vocabulary keeps its own name and so never matches.

SQLite details that matter: a non-INTEGER ``PRIMARY KEY`` column is nullable unless declared
``NOT NULL`` (reported as such, so the snapshot catches it), while an ``INTEGER PRIMARY KEY``
rowid alias can never be NULL; expression indexes appear in ``PRAGMA index_xinfo`` only as
``cid = -2``, so their expressions are read from the ``CREATE INDEX`` text in
``sqlite_master``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from dualdb.migrate.backends import dialect_of
from dualdb.migrate.checksums import CHECKSUM_TABLE
from dualdb.migrate.logical_types import logical_type
from dualdb.migrate.schema import (
    Column,
    ForeignKey,
    Index,
    Schema,
    Table,
    normalize_default,
    normalize_expression,
)

__all__ = ["BOOKKEEPING_TABLES", "introspect"]

#: Tables of yoyo and dualdb themselves, never part of the application schema.
BOOKKEEPING_TABLES = frozenset(
    {"_yoyo_migration", "_yoyo_log", "_yoyo_version", "yoyo_lock", CHECKSUM_TABLE}
)


def _ignored(table: str) -> bool:
    return table in BOOKKEEPING_TABLES or table.startswith(("yoyo_tmp_", "sqlite_"))


def introspect(backend: Any) -> Schema:
    """The application schema of the database behind a yoyo ``backend``."""
    if dialect_of(backend) == "sqlite":
        return _sqlite(backend)
    return _postgres(backend)


# --------------------------------------------------------------------------------------------
# SQLite
# --------------------------------------------------------------------------------------------


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses and quotes."""
    items, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"`[":
            quote = "]" if char == "[" else char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [item.strip() for item in items]


def _index_parts(sql: str) -> tuple[list[str], str | None]:
    """The key expressions and the WHERE predicate of a ``CREATE INDEX`` statement."""
    match = re.search(r"\bON\s+(?:\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]|[\w.]+)\s*\(", sql, re.I)
    if match is None:
        return [], None
    start = match.end() - 1
    depth, quote, end = 0, "", len(sql)
    for i in range(start, len(sql)):
        char = sql[i]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                end = i
                break
    keys = []
    for item in _split_top_level(sql[start + 1 : end]):
        item = re.sub(r"\s+(ASC|DESC)\s*$", "", item, flags=re.I)
        item = re.sub(r"\s+COLLATE\s+\S+\s*$", "", item, flags=re.I)
        keys.append(item)
    rest = sql[end + 1 :].strip().rstrip(";").strip()
    where = re.match(r"WHERE\s+(.*)$", rest, flags=re.I | re.S)
    return keys, where.group(1) if where else None


def _sqlite(backend: Any) -> Schema:
    def rows(sql: str, **params: Any) -> list[Any]:
        result: list[Any] = backend.execute(sql, params).fetchall()
        return result

    masters = rows("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
    index_sql = dict(rows("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
    pk_cache: dict[str, tuple[str, ...]] = {}

    def primary_key(table: str) -> tuple[str, ...]:
        if table not in pk_cache:
            found = rows("SELECT name, pk FROM pragma_table_info(:t) WHERE pk > 0", t=table)
            pk_cache[table] = tuple(name for name, _ in sorted(found, key=lambda r: r[1]))
        return pk_cache[table]

    tables: dict[str, Table] = {}
    for table, create_sql in masters:
        if _ignored(table):
            continue
        without_rowid = bool(re.search(r"\)\s*WITHOUT\s+ROWID\s*;?\s*$", create_sql or "", re.I))
        info = rows(
            'SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_xinfo(:t) ORDER BY cid',
            t=table,
        )
        pk = primary_key(table)
        columns: dict[str, Column] = {}
        for name, declared, notnull, default, pk_position in info:
            rowid_alias = (
                pk_position == 1 and len(pk) == 1 and declared.upper() == "INTEGER"
            ) and not without_rowid
            columns[name] = Column(
                type=logical_type(declared, "sqlite"),
                nullable=not (notnull or rowid_alias),
                default=normalize_default(default),
            )

        fk_rows = rows(
            'SELECT id, seq, "table", "from", "to", on_delete '
            "FROM pragma_foreign_key_list(:t) ORDER BY id, seq",
            t=table,
        )
        grouped: dict[int, list[Any]] = defaultdict(list)
        for row in fk_rows:
            grouped[row[0]].append(row)
        foreign_keys = []
        for parts in grouped.values():
            parent = parts[0][2]
            referenced = tuple(p[4] for p in parts)
            if any(col is None for col in referenced):  # REFERENCES parent without columns
                referenced = primary_key(parent)
            foreign_keys.append(
                ForeignKey(tuple(p[3] for p in parts), parent, referenced, parts[0][5].lower())
            )

        unique: list[tuple[str, ...]] = []
        indexes: dict[str, Index] = {}
        for index, is_unique, origin in rows(
            'SELECT name, "unique", origin FROM pragma_index_list(:t)', t=table
        ):
            if origin == "pk":
                continue
            keys = rows(
                "SELECT cid, name FROM pragma_index_xinfo(:i) WHERE key = 1 ORDER BY seqno",
                i=index,
            )
            if origin == "u":
                unique.append(tuple(name for _, name in keys))
                continue
            expressions, where = _index_parts(index_sql.get(index) or "")
            cols = []
            for position, (cid, name) in enumerate(keys):
                if cid == -2 and position < len(expressions):
                    cols.append(normalize_expression(expressions[position]))
                else:
                    cols.append(name if cid != -1 else "rowid")
            indexes[index] = Index(
                tuple(cols), bool(is_unique), normalize_expression(where) if where else None
            )
        tables[table] = Table(
            columns=columns,
            primary_key=pk,
            foreign_keys=tuple(foreign_keys),
            unique_constraints=tuple(unique),
            indexes=indexes,
        )
    return Schema(dict(sorted(tables.items())))


# --------------------------------------------------------------------------------------------
# PostgreSQL (current schema)
# --------------------------------------------------------------------------------------------

_PG_COLUMNS = """
    SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
           pg_get_expr(d.adbin, d.adrelid)
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY c.relname, a.attnum
"""

_PG_CONSTRAINTS = """
    SELECT c.relname, con.contype,
           ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
                 ORDER BY k.ord),
           rc.relname,
           ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
                 JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
                 ORDER BY k.ord),
           con.confdeltype
    FROM pg_constraint con
    JOIN pg_class c ON c.oid = con.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_class rc ON rc.oid = con.confrelid
    WHERE n.nspname = current_schema() AND con.contype IN ('p', 'u', 'f')
"""

# Indexes created with CREATE INDEX, not those backing a primary key or unique constraint.
_PG_INDEXES = """
    SELECT c.relname, ic.relname, i.indisunique,
           ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
                 FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k),
           pg_get_expr(i.indpred, i.indrelid)
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indrelid
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
      AND NOT EXISTS (
          SELECT 1 FROM pg_constraint con
          WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid
            AND con.contype IN ('p', 'u', 'x'))
"""

_ON_DELETE = {
    "a": "no action",
    "r": "restrict",
    "c": "cascade",
    "n": "set null",
    "d": "set default",
}


def _postgres(backend: Any) -> Schema:
    columns: dict[str, dict[str, Column]] = defaultdict(dict)
    for table, name, declared, notnull, default in backend.execute(_PG_COLUMNS).fetchall():
        columns[table][name] = Column(
            type=logical_type(declared, "postgresql"),
            nullable=not notnull,
            default=normalize_default(default),
        )
    primary: dict[str, tuple[str, ...]] = {}
    unique: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    foreign: dict[str, list[ForeignKey]] = defaultdict(list)
    for table, kind, cols, parent, parent_cols, on_delete in backend.execute(
        _PG_CONSTRAINTS
    ).fetchall():
        if kind == "p":
            primary[table] = tuple(cols)
        elif kind == "u":
            unique[table].append(tuple(cols))
        else:
            foreign[table].append(
                ForeignKey(tuple(cols), parent, tuple(parent_cols), _ON_DELETE[on_delete])
            )
    indexes: dict[str, dict[str, Index]] = defaultdict(dict)
    for table, index, is_unique, keys, where in backend.execute(_PG_INDEXES).fetchall():
        indexes[table][index] = Index(
            tuple(normalize_expression(key) for key in keys),
            bool(is_unique),
            normalize_expression(where) if where else None,
        )
    tables = {
        name: Table(
            columns=cols,
            primary_key=primary.get(name, ()),
            foreign_keys=tuple(foreign.get(name, ())),
            unique_constraints=tuple(unique.get(name, ())),
            indexes=indexes.get(name, {}),
        )
        for name, cols in columns.items()
        if not _ignored(name)
    }
    return Schema(dict(sorted(tables.items())))
