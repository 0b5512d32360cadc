"""How SQLite writes what its SQL spells differently from PostgreSQL's, and what it lacks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

from pypika.enums import Matching, Order

from dualdb.dialects.base import Compiler

__all__ = [
    "CAST_VALUE",
    "DECIMAL_ARITHMETIC",
    "DECIMAL_ORDER",
    "EXACT_AVG",
    "EXACT_SUM",
    "FLOAT_ARITHMETIC",
    "INTEGER_RANGE",
    "LIMIT_COUNT",
    "LOWER",
    "NONZERO",
    "OFFSET_COUNT",
    "UNARY",
    "UPPER",
    "SQLiteCompiler",
]

#: The SQL function that passes a divisor through, failing on zero.
NONZERO = "dualdb_nonzero"
#: The SQL functions that fold case beyond ASCII, as PostgreSQL does (SQLite's own
#: lower() and upper() stay as they are, for indexes and other tools).
LOWER = "dualdb_lower"
UPPER = "dualdb_upper"
#: The SQL functions that pass a bound LIMIT or OFFSET through, failing if negative.
LIMIT_COUNT = "dualdb_limit"
OFFSET_COUNT = "dualdb_offset"
#: The SQL aggregate that sums integers, floats and decimal text exactly.
EXACT_SUM = "dualdb_sum"
#: The SQL aggregate that averages as PostgreSQL does (a Decimal for integers and decimals).
EXACT_AVG = "dualdb_avg"
#: The same, as window functions (``SUM(x) OVER (…)``).
WINDOW_SUM = "dualdb_window_sum"
WINDOW_AVG = "dualdb_window_avg"
#: The collation that orders decimal text by value ('9.00' < '10.00').
DECIMAL_ORDER = "dualdb_decimal"
#: The SQL function that computes ``a <op> b`` over decimals exactly, as decimal text.
DECIMAL_ARITHMETIC = "dualdb_numeric"
#: The SQL function that passes an integer result through, failing where PostgreSQL's
#: integer type of that width would overflow.
INTEGER_RANGE = "dualdb_integer"
#: The SQL function that computes ``a <op> b`` over floats, failing where PostgreSQL's
#: float8 overflows or underflows (SQLite's would be infinity or zero).
FLOAT_ARITHMETIC = "dualdb_float"
#: The SQL function that negates a value, or takes its absolute value, keeping its type
#: (decimal text stays exact), where the type is known only from the value.
UNARY = "dualdb_unary"
#: The SQL function that casts a value to a number as PostgreSQL does.
CAST_VALUE = "dualdb_cast"


class SQLiteCompiler(Compiler):
    __slots__ = ()

    unsupported_matching: ClassVar[frozenset[Matching]] = frozenset(
        {
            Matching.ilike,
            Matching.not_ilike,
            Matching.rlike,
            Matching.regex,
            Matching.regexp,
            Matching.bin_regex,
            Matching.as_of,
        }
    )
    unsupported_functions: ClassVar[dict[str, str]] = {
        name: ""
        for name in (
            "NOW",
            "ARRAY_AGG",
            "STRING_AGG",
            "GEN_RANDOM_UUID",
            "DATE_TRUNC",
            "TO_CHAR",
            "TO_TIMESTAMP",
            "TO_DATE",
            "REGEXP_REPLACE",
            "REGEXP_MATCHES",
            "SPLIT_PART",
            "JSONB_BUILD_OBJECT",
            "JSONB_AGG",
            "JSON_AGG",
            "JSONB_SET",
            "GREATEST",
            "LEAST",
            "EXTRACT",
            "DATE_PART",
            "AGE",
            "ILIKE",
            "POSITION",
            "CONCAT_WS",
            "LEFT",
            "RIGHT",
            "BOOL_AND",
            "BOOL_OR",
            "EVERY",
            "STDDEV",
            "VARIANCE",
            "ARRAY_LENGTH",
            "UNNEST",
        )
    }
    unsupported_functions["CONCAT"] = "SQLite 3.40 has none: concatenate with || in raw SQL"
    unsupported_constructs: ClassVar[dict[str, str]] = {
        "DISTINCT ON": "use GROUP BY, or a window function in raw SQL",
    }

    # A decimal column holds text on SQLite (its REAL would round): where one is compared
    # or sorted the driver adds a collation that orders it by value, and arithmetic on one
    # is computed exactly by a function of dualdb's; integer arithmetic is checked for
    # overflow, which SQLite turns into a float (see plans.typed_sql).
    typed_spots: ClassVar[bool] = True
    # SQLite names an unaliased expression by its text ("COUNT(*)", or dualdb's own
    # function names); results are named as PostgreSQL names them instead.
    names_expressions: ClassVar[bool] = True

    def nulls(self, order: Order | None) -> str:
        # SQLite sorts NULLs first ascending; PostgreSQL (production) sorts them last.
        return " NULLS FIRST" if order is Order.desc else " NULLS LAST"

    def limit(self, count: str) -> str:
        # A negative bound LIMIT means "no limit" on SQLite and is an error on PostgreSQL;
        # this function (see the driver) makes it the error on both.
        return super().limit(count if count.isdigit() else f"{LIMIT_COUNT}({count})")

    def offset(self, count: str, *, limited: bool) -> str:
        # SQLite's grammar has OFFSET only after a LIMIT; a negative LIMIT means none.
        if not count.isdigit():
            count = f"{OFFSET_COUNT}({count})"
        clause = super().offset(count, limited=limited)
        return clause if limited else " LIMIT -1" + clause

    def modulo(self, left: str, right: str) -> str:
        # SQLite's MOD() is the floating-point math function (MOD(7, 2) = 1.0); its ``%``
        # is the integer remainder that PostgreSQL's MOD() computes for integers.
        # Operands in parentheses unless they are one token: ``%`` binds tighter than
        # ``+`` but as tight as ``*``, so "(a+1) % 4" written bare would be a + (1 % 4).
        return f"({_operand(left)} % {right})"

    def function(self, name: str, *, window: bool = False) -> str:
        # SQLite's sum() and avg() add decimal text as floats (money loses cents), and its
        # avg() of integers is a float; its lower() and upper() fold only ASCII. dualdb's,
        # registered on its connections, answer as PostgreSQL does.
        return (_EXACT_WINDOW if window else _EXACT).get(name, name)

    def returning_star(self, sql: str) -> str:
        # SQLite refuses "RETURNING t.*"; a RETURNING clause has one table, so "*" is it.
        return "*"

    def divisor(self, right: str, dividend: str) -> str:
        # SQLite makes x / 0 and x % 0 NULL; this function (registered on every dualdb
        # connection, see the driver) fails on zero, which the driver reports as
        # PostgreSQL's "division by zero" -- unless the dividend is NULL, which makes the
        # quotient NULL on PostgreSQL too.
        return f"{NONZERO}({right}, {dividend})"

    def literal(self, placeholder: str, value: Any) -> str:
        # A SQLite value carries its own type; the driver decodes what it reads back
        # by the literal's (see plans).
        return placeholder

    def parenthesize_set_members(self, members: Sequence[Any]) -> bool:
        # SQLite's grammar has no "(SELECT …) UNION (SELECT …)": the members go bare.
        return False

    def bare_set_member(self, member: Any) -> Any:
        # A bare member cannot have an ORDER BY or LIMIT of its own: one that has is
        # selected from as a subquery, which can ("SELECT * FROM (… LIMIT 1) sq0").
        if not (member._orderbys or member._limit is not None or member._offset):
            return member
        return _SelectedFrom(member)

    def for_update(self, clause: str) -> str:
        # SQLite locks the whole database for a write transaction (dualdb begins them
        # IMMEDIATE), which already gives FOR UPDATE's guarantee; the clause is dropped.
        return ""


class _SelectedFrom:
    """A set operation's member as ``SELECT * FROM (member)``, with what PyPika's
    ``_SetOperation`` reads of a member (its select list, to count and name columns)."""

    def __init__(self, member: Any) -> None:
        self.member = member
        self._selects = member._selects
        self.dialect = member.dialect
        self.QUOTE_CHAR = member.QUOTE_CHAR
        self.wrap_set_operation_queries = False

    def get_sql(self, subquery: bool = False, **kwargs: Any) -> str:
        return f"SELECT * FROM {self.member.get_sql(subquery=True, **kwargs)}"


_EXACT = {"SUM": EXACT_SUM, "AVG": EXACT_AVG, "LOWER": LOWER, "UPPER": UPPER}
_EXACT_WINDOW = {"SUM": WINDOW_SUM, "AVG": WINDOW_AVG}

_TOKEN = re.compile(r"[\w.`\"$?]+")


#: The mark of a spot (``Binder.spot``), which the driver writes per schema.
_SPOT = re.compile("\x00[^\x00]*\x00")


def _operand(sql: str) -> str:
    return sql if _TOKEN.fullmatch(_SPOT.sub("", sql)) else f"({sql})"
