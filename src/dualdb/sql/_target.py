"""What a bound value meets (shared by the compiler and the render hooks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = [
    "LIKE_PATTERN",
    "SCALAR",
    "SELECTED_VALUE",
    "TYPING",
    "Spot",
    "Target",
    "cast_type",
    "literal_type",
]


@dataclass(frozen=True, slots=True)
class Target:
    """What a bound value meets: a table column (``table`` None when the query names none
    and the table is the one the query reads), or a logical type (LIMIT takes a bigint).
    A dialect that stores values loosely (SQLite) checks a value against it as the
    stricter one would; every dialect names it in a value's error."""

    table: str | None
    column: str | None
    logical: str | None = None
    #: An arithmetic expression's spot (see :class:`Spot`; -1 where the dialect marks
    #: none): the value is an operand, and takes the expression's type (with ``column``,
    #: the other operand's column).
    expression: int | None = None
    #: Where ``table`` names no table but a subquery (or a CTE): that query, whose
    #: result column ``column`` the dialect follows to where it is read or computed.
    source: Any = field(default=None, compare=False, repr=False)

    def describe(self) -> str:
        if self.expression is not None and self.column is None:
            return "an expression"
        if self.column == SCALAR:
            return "a subquery's value"
        if self.column is None:
            return str(self.logical)
        return f"{self.table}.{self.column}" if self.table else self.column


#: The order in which PostgreSQL's parser reaches the parts of a query, and so types the
#: parameters in them (a parameter keeps the type its first use gives it): FROM and its
#: JOINs, then the select list (an UPDATE's SET), then the rest.
TYPING = {"from": 0, "select": 1, "rest": 2}

#: The column a scalar subquery's :class:`Target` names: its only one, unnamed.
SCALAR = "?column?"

#: What the pattern of a LIKE meets: text in which a trailing backslash (the escape
#: character dualdb gives every LIKE) is an error, as PostgreSQL makes it.
LIKE_PATTERN = Target(None, None, "LIKE pattern")

#: What a Param alone in a select list meets: text, as PostgreSQL types it there (which
#: refuses the same Param meeting another type elsewhere in the statement).
SELECTED_VALUE = Target(None, None, "text")


#: What an arithmetic operand is, for the driver to work out the expression's type: a
#: column, the spot of a nested arithmetic expression (its index), a bound value
#: (``"value"``: it takes the other operand's type, as PostgreSQL types a parameter), a
#: Param (``":name"``: typed so where the statement first gives it a type, as PostgreSQL
#: types a parameter once), or None (anything else).
Operand = Target | int | str | None


@dataclass(frozen=True, slots=True)
class Spot:
    """A place in a statement's text whose SQL depends on column types, which a dialect
    that stores values loosely (SQLite) learns only from the database: a column compared
    or sorted (``"order"``: decimal text must compare as numbers), the argument of MIN or
    MAX (``"extreme"``: the same, and PostgreSQL has them for ordered types only), a
    column cast to text (``"text"``: some types' values are written differently), an
    aggregate of a column (``"result"``, its ``operator`` SUM, AVG, MIN or MAX: decimal
    text must compare as numbers where it is compared or sorted), a
    column that must not be a decimal (``"no decimal"``), or an arithmetic expression
    (``"arithmetic"``, with
    its ``operator`` and ``operands``: computed exactly for decimals, checked for
    overflow for integers and floats), a negation or ABS (``"negative"``, its
    ``operator`` "-" or "ABS"), or a CAST to a number (``"cast"``, its ``operator`` the
    type, its operand what is cast: PostgreSQL rounds and refuses text that is no
    number, where SQLite truncates and reads ``'x'`` as 0)."""

    kind: str
    target: Target | None = None
    operator: str = ""
    operands: tuple[Operand, ...] = ()

    def plain(self, part: str) -> str:
        """Part ``part`` of the spot as SQL that knows no column types (``Compiled.sql``)."""
        if self.kind == "negative":
            return {"open": f"{self.operator}(", "close": ")"}.get(part, "")
        if self.kind == "cast":
            return {"open": "CAST(", "close": f" AS {self.operator})"}.get(part, "")
        return self.operator if part == "op" else ""


def literal_type(value: Any) -> str | None:
    """The logical type PostgreSQL gives ``value`` written inline as a literal (``1`` an
    integer, ``3000000000`` a bigint, ``1.5`` dualdb binds from a float as a double),
    which dualdb gives a literal nothing else types, on every backend; None for a value
    PostgreSQL types from its context (a str)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):  # (beyond 64 bits, the bigint refuses it, as SQLite)
        return "integer" if -(2**31) <= value < 2**31 else "bigint"
    if isinstance(value, float):
        return "float"
    if isinstance(value, Decimal):
        return "decimal"
    return None


def cast_type(as_type: Any) -> str:
    """The type a CAST names (a str or a PyPika SqlType), in lower case with single
    spaces and none after a comma (``numeric(5,2)``)."""
    text = str(as_type.get_sql() if hasattr(as_type, "get_sql") else as_type)
    return " ".join(text.lower().replace(", ", ",").split())
