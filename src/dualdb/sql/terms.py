"""The few PyPika terms dualdb adds: named parameters, JSON values and raw SQL.

They render only through :mod:`dualdb.sql.compile`, which binds their values instead of
inlining them; rendered any other way (``str(query)``) they show a readable ``:name``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pypika.terms import Term
from pypika.utils import format_alias_sql

from dualdb.errors import QueryError
from dualdb.sql import _render

__all__ = ["Json", "Param", "Raw", "escape_like", "raw"]


class Param(Term):
    """A named placeholder, filled per call: ``await db.fetch_one(q, user_id=uid)``.

    A query built with ``Param``s (typically once, at module level) is rendered once per
    dialect and its SQL cached, so each call costs little more than the driver call.
    """

    is_aggregate = None  # type: ignore[assignment]  # PyPika: neither aggregate nor not

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise QueryError(f"Param name must be a Python identifier, got {name!r}")
        if name == "as_":
            raise QueryError(
                "Param name 'as_' is reserved: fetch_one/fetch_all/fetch_val/iterate take "
                "as_= for the type of their result; name the Param differently"
            )
        super().__init__(alias=None)
        self.name = name

    def get_sql(self, **kwargs: Any) -> str:
        binder = _render.active()
        if binder is None:
            return f":{self.name}"
        sql = binder.bind_param(self.name, self)
        if kwargs.get("with_alias") and self.alias:  # (named as PostgreSQL names it)
            return format_alias_sql(sql, self.alias, quote_char=kwargs.get("quote_char"))
        return sql

    def __repr__(self) -> str:
        return f"Param({self.name!r})"


class Json:
    """Marks a value to be stored as JSON, whatever its Python type.

    ``dict`` and ``list`` values bind as JSON automatically; wrap anything else
    (a top-level string, number, ``True`` or ``None`` meant as JSON ``null``) so that it
    comes back identical on both backends. A plain ``str`` bound to a JSON column is taken
    as JSON *text*.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        # The document is a bound value: it may hold a secret, and a driver quotes the
        # repr of a value it cannot encode in its error (and could not repr a deep one).
        return f"Json(<{type(self.value).__name__}>)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Json) and other.value == self.value

    def __hash__(self) -> int:
        return hash(("Json", repr(self.value)))


class Raw:
    """Dialect-specific SQL text with positional values, the escape hatch.

    Placeholders are the driver's own (``?`` on SQLite, ``$1`` on PostgreSQL); nothing
    is rewritten, checked or made portable. Values are still bound, never inlined, and
    converted like any other value. PostgreSQL returns each result column as its own
    type; SQLite returns what it stored (UUIDs as text, booleans as 0/1) unless
    ``types`` names the logical type of a result column (``{"id": "uuid"}``), which
    then comes back as on PostgreSQL.
    """

    __slots__ = ("args", "sql", "types")

    def __init__(
        self, sql: str, args: Sequence[Any] = (), types: Mapping[str, str] | None = None
    ) -> None:
        self.sql = sql
        self.args = tuple(args)
        self.types = _checked_types(types)

    def __repr__(self) -> str:
        return f"Raw({self.sql!r}, <{len(self.args)} values>)"


def _checked_types(types: Mapping[str, str] | None) -> dict[str, str] | None:
    if not types:
        return None
    from dualdb.dialects.base import LOGICAL_TYPES

    checked = {}
    for name, logical in types.items():
        if not isinstance(name, str) or logical not in LOGICAL_TYPES:
            raise QueryError(
                f"raw(types=...) maps result column names to logical types "
                f"({', '.join(LOGICAL_TYPES)}); got {name!r}: {logical!r}"
            )
        checked[name] = logical
    return checked


def raw(sql: str, *args: Any, types: Mapping[str, str] | None = None) -> Raw:
    """Wrap dialect-specific SQL and its positional values; see :class:`Raw`."""
    return Raw(sql, args, types)


def escape_like(text: str) -> str:
    """Escape ``%``, ``_`` and ``\\`` so user input matches literally inside LIKE.

    dualdb renders every LIKE with ``ESCAPE '\\'`` on both backends, so
    ``users.name.like(escape_like(prefix) + "%")`` behaves the same everywhere.
    """
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
