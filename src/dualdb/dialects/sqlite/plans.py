"""Decoding plans: how one statement's rows become Records on one SQLite database.

SQLite returns what it stored (UUIDs as text, booleans as 0/1), so each result column is
decoded by the declared type of the table column it comes from. Where a column comes from
is read from the query once, when it is compiled (:class:`Sources`, in
``Compiled.state``); the declared types are read with ``PRAGMA table_xinfo`` in the
snapshot of the statement itself, keyed by ``PRAGMA schema_version``, so a schema changed
by another connection, process or migration tool is seen before a row is decoded.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pypika import Table, terms
from pypika import functions as fn
from pypika.queries import QueryBuilder, _SetOperation

from dualdb.dialects.sqlite.codec import decoder_for
from dualdb.records import Record, record_class

__all__ = [
    "Moved",
    "NewPlan",
    "Plan",
    "Schema",
    "SchemaVersion",
    "Sources",
    "make_plan",
    "sources_of",
]

#: Functions whose result has the type of their first argument.
_PASSTHROUGH_FUNCTIONS = frozenset({"MIN", "MAX", "COALESCE", "IFNULL"})


@dataclass(frozen=True, slots=True)
class ResultColumn:
    """Where a result column comes from: ``table.column``, or ``table.*`` when column is None."""

    table: str | None
    column: str | None


class Sources:
    """What decoding needs to know about one statement, worked out when it is compiled:
    where each result column comes from (None when unknown, e.g. raw SQL), the tables it
    reads (to resolve a column that names no table), and the plans made for it, one per
    schema version."""

    __slots__ = ("origins", "plans", "tables")

    def __init__(
        self, origins: tuple[ResultColumn | None, ...] | None, tables: tuple[str, ...]
    ) -> None:
        self.origins = origins
        self.tables = tables
        self.plans: dict[SchemaVersion, Plan] = {}


def sources_of(query: Any) -> Sources:
    """The :class:`Sources` of a PyPika query (any other statement: none known)."""
    if not isinstance(query, QueryBuilder | _SetOperation):
        return Sources(None, ())
    return Sources(_origins(query), _tables(query))


class Plan:
    """How to turn one result shape's tuples into Records on one database."""

    __slots__ = ("cls", "decoders")

    def __init__(self, cls: type[Record], decoders: tuple[tuple[int, Callable[[Any], Any]], ...]):
        self.cls = cls
        self.decoders = decoders

    def row(self, raw: tuple[Any, ...]) -> Record:
        if not self.decoders:
            return self.cls(raw)
        return self.rows([raw])[0]

    def rows(self, raw: list[tuple[Any, ...]]) -> list[Record]:
        cls = self.cls
        if not self.decoders:
            # map over the class: the records are made in C, no Python frame per row
            # (about 40% cheaper than a partial of tuple.__new__).
            return list(map(cls, raw))
        decoders = self.decoders
        out = []
        for row in raw:
            values = list(row)
            for index, decode in decoders:
                value = values[index]
                if value is not None:
                    values[index] = decode(value)
            out.append(cls(values))
        return out


class NewPlan(Plan):
    """A plan not yet confirmed: kept, and used, for its statement's later runs, which
    check their column names against it until one of them decodes a row with it.

    A plan pairs the statement's columns (its cursor's description) with the declared
    types of the schema version read just before. Both come from the same schema only
    if the statement still held its read snapshot then, which is certain once it has a
    row to decode (SQLite ends the read as soon as the rows run out).
    """

    __slots__ = ("key", "names", "plans")

    def __init__(
        self,
        plan: Plan,
        names: tuple[str, ...],
        plans: dict[SchemaVersion, Plan],
        key: SchemaVersion,
    ) -> None:
        super().__init__(plan.cls, plan.decoders)
        self.names = names
        self.plans = plans
        self.key = key

    def row(self, raw: tuple[Any, ...]) -> Record:
        return self._confirm().row(raw)

    def rows(self, raw: list[tuple[Any, ...]]) -> list[Record]:
        return self._confirm().rows(raw)

    def _confirm(self) -> Plan:
        plan = Plan(self.cls, self.decoders)
        self.plans[self.key] = plan
        return plan


class Moved(Exception):
    """The schema version changed while a plan was being made (see ``SchemaVersion.columns``)."""


class SchemaVersion:
    """Declared column types per table in one version of the schema, read lazily and
    cached; also the key, in ``Sources.plans``, of the plans made with them."""

    __slots__ = ("tables", "version")

    def __init__(self, version: int) -> None:
        self.version = version
        self.tables: dict[str, dict[str, str]] = {}

    def columns(
        self, conn: sqlite3.Connection, table: str, refresh: bool = False
    ) -> dict[str, str]:
        cached = self.tables.get(table)
        if cached is not None and not refresh:
            return cached
        # The version in the same statement, so in the same snapshot as the columns.
        rows = conn.execute(
            "SELECT v.schema_version, x.name, x.type FROM pragma_schema_version AS v"
            " LEFT JOIN pragma_table_xinfo(?) AS x",
            (table,),
        ).fetchall()
        if rows[0][0] != self.version:
            raise Moved
        found = {name: declared or "" for _, name, declared in rows if name is not None}
        if found:
            self.tables[table] = found
        return found


class Schema:
    """The schema versions (``PRAGMA schema_version``) one database's connections have
    read from. Any connection, process or tool changing the schema changes the version,
    and connections in older transactions still read older versions meanwhile."""

    def __init__(self) -> None:
        self.versions: dict[int, SchemaVersion] = {}

    def at(self, version: int) -> SchemaVersion:
        versions = self.versions
        found = versions.get(version)
        if found is None:
            if len(versions) > 8:
                versions.clear()  # versions nobody reads any more
            found = versions.setdefault(version, SchemaVersion(version))
        return found


def make_plan(
    conn: sqlite3.Connection, schema: SchemaVersion, sources: Sources, names: tuple[str, ...]
) -> Plan:
    cls = record_class(names)
    origins = sources.origins
    if origins is None:
        return Plan(cls, ())
    expanded: list[tuple[str | None, str | None]] = []
    for origin in origins:
        if origin is None:
            expanded.append((None, None))
        elif origin.column is None:
            for star_table in (origin.table,) if origin.table else sources.tables:
                expanded.extend((star_table, c) for c in schema.columns(conn, star_table))
        else:
            expanded.append((_table_of(conn, schema, sources, origin), origin.column))
    if len(expanded) != len(names):
        return Plan(cls, ())  # a shape we cannot map column-for-column: values as stored
    decoders = []
    for index, (table, column) in enumerate(expanded):
        if table is None or column is None:
            continue
        declared: str | None = schema.columns(conn, table).get(column)
        if declared is None:
            declared = schema.columns(conn, table, refresh=True).get(column)
        decode = decoder_for(declared or "")
        if decode is not None:
            decoders.append((index, decode))
    return Plan(cls, tuple(decoders))


def _table_of(
    conn: sqlite3.Connection, schema: SchemaVersion, sources: Sources, origin: ResultColumn
) -> str | None:
    if origin.table is not None:
        return origin.table
    for table in sources.tables:
        if origin.column in schema.columns(conn, table):
            return table
    return None


def _tables(query: Any) -> tuple[str, ...]:
    if isinstance(query, _SetOperation):
        # Its columns are those of its first SELECT. (Any other attribute of a
        # set operation is PyPika's Field factory, not a list.)
        query = query.base_query
    found: list[str] = []
    for source in [
        *getattr(query, "_from", ()),
        getattr(query, "_insert_table", None),
        getattr(query, "_update_table", None),
        *(j.item for j in getattr(query, "_joins", ())),
    ]:
        if isinstance(source, Table) and source._table_name not in found:
            found.append(source._table_name)
    return tuple(found)


def _origin(term: Any) -> ResultColumn | None:
    if isinstance(term, terms.Star):
        table = term.table
        return ResultColumn(table._table_name if isinstance(table, Table) else None, None)
    if isinstance(term, terms.Field):
        table = term.table
        return ResultColumn(table._table_name if isinstance(table, Table) else None, term.name)
    if (
        isinstance(term, terms.Function)
        and term.args
        and (term.name.upper() in _PASSTHROUGH_FUNCTIONS or isinstance(term, fn.Coalesce))
    ):
        return _origin(term.args[0])
    return None


def _origins(query: Any) -> tuple[ResultColumn | None, ...] | None:
    if isinstance(query, _SetOperation):
        query = query.base_query
    selected: Sequence[Any] = (
        getattr(query, "_returns", None) or getattr(query, "_selects", None) or ()
    )
    if not selected:
        return None
    return tuple(_origin(term) for term in selected)
