"""The live schema of a SQLite database → :class:`Schema`."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from dualdb.dialects.sqlite.dialect import NAME, SQLiteDialect
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

#: Declared type → logical type: exactly the names the dialect writes in DDL.
_LOGICAL = {declared: logical for logical, declared in SQLiteDialect.column_types.items()}


def logical_type(declared: str) -> str:
    normalized = " ".join(declared.split())
    found = _LOGICAL.get(normalized.upper())
    return found if found is not None else f"{NAME}:{normalized.lower()}"


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


def introspect(backend: Any) -> Schema:
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
        if is_bookkeeping(table) or table.startswith("sqlite_"):
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
                type=logical_type(declared),
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
