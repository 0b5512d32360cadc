"""The live schema of a PostgreSQL database (its current schema's catalogs) → :class:`Schema`.

Types come back by their canonical names (``format_type``), mapped to logical types.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from dualdb.dialects.postgres.dialect import NAME
from dualdb.migrate.introspect import is_bookkeeping
from dualdb.migrate.schema import (
    Column,
    ForeignKey,
    Index,
    Schema,
    Table,
    normalize_default,
    normalize_expression,
)

__all__ = ["introspect", "logical_type"]

# PostgreSQL reports types by their canonical names (format_type), not as written.
_CANONICAL = {
    "uuid": "uuid",
    "text": "text",
    "integer": "integer",
    "bigint": "bigint",
    "boolean": "boolean",
    "timestamp with time zone": "timestamptz",
    "double precision": "float",
    "date": "date",
    "jsonb": "json",
    "numeric": "decimal",
    "bytea": "bytes",
}


def logical_type(declared: str) -> str:
    normalized = " ".join(declared.split())
    found = _CANONICAL.get(normalized.lower())
    return found if found is not None else f"{NAME}:{normalized.lower()}"


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


def introspect(backend: Any) -> Schema:
    columns: dict[str, dict[str, Column]] = defaultdict(dict)
    for table, name, declared, notnull, default in backend.execute(_PG_COLUMNS).fetchall():
        columns[table][name] = Column(
            type=logical_type(declared),
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
        if not is_bookkeeping(name)
    }
    return Schema(dict(sorted(tables.items())))
