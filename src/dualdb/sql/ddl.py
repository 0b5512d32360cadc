"""PyPika's DDL builders, rendered per dialect: ``Query.create_table``, ``drop_table``,
``create_index``, ``drop_index``.

Two things differ from a query. A column type may be one of dualdb's logical type names
(``uuid``, ``text``, ``bigint``, ``boolean``, ``timestamptz``, ``decimal``/``numeric``,
``json``, ``bytes``…), which becomes the dialect's declared type, so the same builder makes
the same table on both backends; any other type is written as given once it is checked
to be a type name (it is pasted into the SQL). And PostgreSQL takes no bound parameters in
DDL, so the values a DDL statement holds (a DEFAULT, a partial index's WHERE) are written
as SQL literals: only numbers, text, booleans and NULL, text quoted by doubling its quotes.
A Param in DDL is an error.
"""

from __future__ import annotations

import math
import re
from copy import copy
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pypika.queries import (
    Column,
    CreateIndexBuilder,
    CreateQueryBuilder,
    DropQueryBuilder,
    Table,
)
from pypika.utils import format_quotes

from dualdb.dialects.base import LOGICAL_TYPE_ALIASES, LOGICAL_TYPES
from dualdb.errors import QueryError
from dualdb.sql._target import Target
from dualdb.sql.compile import Binder

if TYPE_CHECKING:
    from dualdb.dialects.base import Dialect

__all__ = ["literal_binder", "render_ddl"]


#: A type name, with an optional length/precision and array suffix: ``VARCHAR(20)``,
#: ``NUMERIC(20, 2)``, ``DOUBLE PRECISION``, ``TEXT[]``.
_TYPE_NAME = re.compile(
    r"[A-Za-z][A-Za-z0-9_]*(?: [A-Za-z][A-Za-z0-9_]*)*(?: ?\(\d+(?:, ?\d+)?\))?(?:\[\])?"
)


class _Literals(Binder):
    """A binder that writes values into the text instead of binding them."""

    __slots__ = ()

    def bind_param(self, name: str, term: Any = None) -> str:
        raise QueryError(
            f"a DDL statement cannot take a Param ({name}): PostgreSQL binds no values in "
            "DDL; write the value into the builder"
        )

    def bind_value(self, value: Any, term: Any = None) -> str:
        return _literal(value)

    def spot(self, target: Target, kind: str) -> str:
        # What a schema stores (an index's WHERE) must read alike in every tool: no
        # collation of dualdb's, which only its own connections have.
        return ""


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if value is True or value is False:
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, Decimal) and value.is_finite():
        return format(value, "f")
    if isinstance(value, str):
        if "\x00" in value:
            raise QueryError("a DDL value cannot contain the NUL character")
        return "'" + value.replace("'", "''") + "'"
    raise QueryError(
        f"a DDL statement holds only numbers, text, booleans and NULL; got {type(value).__name__}"
    )


def _column_type(declared: Any, dialect: Dialect) -> Any:
    if declared is None:
        return None
    if not isinstance(declared, str):
        raise QueryError(f"a column type must be a str; got {type(declared).__name__}")
    name = " ".join(declared.split()).lower()
    logical = LOGICAL_TYPE_ALIASES.get(name, name)
    if logical in LOGICAL_TYPES:
        return dialect.column_type(logical)
    if not _TYPE_NAME.fullmatch(declared.strip()):
        raise QueryError(
            f"not a column type: {declared!r}; use a logical type "
            f"({', '.join(LOGICAL_TYPES)}) or a type name such as VARCHAR(20)"
        )
    return declared.strip()


def _portable_column(column: Any, dialect: Dialect) -> Any:
    if not isinstance(column, Column):
        return column
    ported = copy(column)
    ported.type = _column_type(column.type, dialect)
    return ported


def _name(value: Any) -> str:
    return str(getattr(value, "name", value))


def _create_index_sql(query: CreateIndexBuilder, dialect: Dialect) -> str:
    # PyPika pastes the index and column names into the text unquoted; dualdb quotes them.
    quote = dialect.quote_char
    if not query._columns or query._table is None or query._index is None:
        raise QueryError("create_index needs an index name, .on(table) and .columns(...)")
    table: Any = query._table
    table_sql = (
        table.get_sql(quote_char=quote) if isinstance(table, Table) else format_quotes(table, quote)
    )
    columns = ",".join(format_quotes(_name(c), quote) for c in query._columns)
    sql = "CREATE UNIQUE INDEX " if query._is_unique else "CREATE INDEX "
    if query._if_not_exists:
        sql += "IF NOT EXISTS "
    sql += f"{format_quotes(_name(query._index), quote)} ON {table_sql} ({columns})"
    if query._wheres:
        wheres: Any = query._wheres
        sql += " WHERE " + wheres.get_sql(quote_char=quote, subquery=True)
    return sql


def render_ddl(query: Any, dialect: Dialect) -> str:
    """The SQL of a PyPika DDL builder for ``dialect``; call with the render hooks active
    for the returned binder (see :func:`dualdb.sql.compile.compile_query`)."""
    if isinstance(query, CreateIndexBuilder):
        return _create_index_sql(query, dialect)
    if isinstance(query, CreateQueryBuilder) and query._columns:
        query = copy(query)
        query._columns = [_portable_column(c, dialect) for c in query._columns]
    elif isinstance(query, DropQueryBuilder):
        query = copy(query)
        query.QUOTE_CHAR = dialect.quote_char  # for a name given as text (drop_index)
    sql: str = query.get_sql(quote_char=dialect.quote_char)
    if not sql:
        raise QueryError("create_table needs .columns(...) or .as_select(...)")
    return sql


def literal_binder(dialect: Dialect) -> Binder:
    return _Literals(dialect)
