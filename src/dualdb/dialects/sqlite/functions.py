"""The SQL functions, aggregates and collation dualdb registers on every SQLite connection,
so that SQLite answers as PostgreSQL does where its own functions would not.

Each is named in :mod:`~dualdb.dialects.sqlite.compiler`, which writes them into the SQL;
values come back as SQLite can return them (an int, a float, or decimal text), and the
decoding plans (:mod:`~dualdb.dialects.sqlite.plans`) give them PostgreSQL's types.
"""

from __future__ import annotations

import math
import re
import struct
import threading
from collections import deque
from decimal import MAX_EMAX, MIN_EMIN, ROUND_HALF_UP, Context, Decimal
from typing import Any

__all__ = [
    "ExactAvg",
    "ExactSum",
    "WindowAvg",
    "WindowSum",
    "cast_value",
    "decimal_arithmetic",
    "decimal_order",
    "float_arithmetic",
    "integer_range",
    "limit_count",
    "lower",
    "nonzero",
    "offset_count",
    "postgres_quotient",
    "take_failure",
    "unary",
    "upper",
]

#: Decimal arithmetic wide enough for any value PostgreSQL's numeric holds.
_EXACT = Context(prec=131072 + 16383, Emax=MAX_EMAX, Emin=MIN_EMIN)


# sqlite3 reports any exception of a function as "user-defined function raised
# exception": each function says why here first, in the connection's own thread, for the
# driver to take (``take_failure``) before the error leaves that thread.
_failures = threading.local()


def _fail(reason: str) -> ArithmeticError:
    _failures.reason = reason
    return ArithmeticError(reason)


def take_failure() -> str | None:
    """Why a function of this module failed in this thread's last statement, if one did."""
    reason: str | None = getattr(_failures, "reason", None)
    _failures.reason = None
    return reason


def nonzero(value: Any, dividend: Any) -> Any:
    """The divisor of a division (see ``SQLiteCompiler.divisor``): as it is, or
    PostgreSQL's "division by zero" for zero (with a NULL dividend, the quotient is NULL
    on both)."""
    if dividend is None:
        return value
    if isinstance(value, int | float):
        if value == 0:
            raise _fail("division by zero")
    elif isinstance(value, str):  # decimal text, which SQLite divides by as a number
        try:
            zero = Decimal(value) == 0
        except ArithmeticError:
            zero = False
        if zero:
            raise _fail("division by zero")
    return value


def limit_count(value: Any) -> Any:
    """A bound LIMIT (see ``SQLiteCompiler.limit``) as PostgreSQL reads it: NULL is no
    limit, a negative count an error."""
    if value is None:
        return -1
    if isinstance(value, int) and value < 0:
        raise _fail("LIMIT must not be negative")
    return value


def offset_count(value: Any) -> Any:
    """A bound OFFSET, as :func:`limit_count` (NULL is no offset)."""
    if value is None:
        return 0
    if isinstance(value, int) and value < 0:
        raise _fail("OFFSET must not be negative")
    return value


_INTEGER_NAMES = {16: "smallint", 32: "integer", 64: "bigint"}


def integer_range(bits: int, value: Any) -> Any:
    """An integer expression's result (see ``plans.typed_sql``), or the error PostgreSQL
    raises where its type of ``bits`` bits overflows. SQLite computes in 64 bits and
    makes an overflow a float, which no small float from a bound value can be mistaken
    for."""
    limit = 2 ** (bits - 1)
    if isinstance(value, int) and not -limit <= value < limit:
        raise _fail(f"{_INTEGER_NAMES[bits]} out of range")
    if isinstance(value, float) and abs(value) >= 2.0**63:
        raise _fail(f"{_INTEGER_NAMES[bits]} out of range")
    return value


def decimal_arithmetic(operator: str, left: Any, right: Any) -> Any:
    """``left <operator> right`` over decimals as PostgreSQL's numeric computes it (exact;
    a quotient to :func:`postgres_quotient`'s digits), as decimal text."""
    if left is None or right is None:
        return None
    a, b = _number(left), _number(right)
    if operator == "abs":  # (of ``right``: a unary operator has the left operand 0)
        result = _EXACT.abs(b)
    elif operator == "+":
        result = _EXACT.add(a, b)
    elif operator == "-":
        result = _EXACT.subtract(a, b)
    elif operator == "*":
        result = _EXACT.multiply(a, b)
    else:
        if b.is_zero():
            raise _fail("division by zero")
        result = postgres_quotient(a, b)
    return _returned(result)


def unary(operator: str, value: Any) -> Any:
    """``-value`` or ``abs(value)`` (``operator`` "-" or "abs") of a value of a type dualdb
    learns only from the value: decimal text stays exact decimal text (SQLite's own would
    read it as a float), an integer stays an integer, checked against 64 bits."""
    if value is None:
        return None
    if isinstance(value, str):
        exact = _number(value)
        return _returned(_EXACT.abs(exact) if operator == "abs" else _EXACT.minus(exact))
    if isinstance(value, int | float):
        result = abs(value) if operator == "abs" else -value
        if isinstance(result, int) and not -(2**63) <= result < 2**63:
            raise _fail("bigint out of range")
        return result
    raise _fail(f"{operator} of a value that is no number")


def float_arithmetic(operator: str, left: Any, right: Any) -> Any:
    """``left <operator> right`` over floats, failing where PostgreSQL's float8 operators
    do: a finite result too large (SQLite's would be infinity) or too small (zero)."""
    if left is None or right is None:
        return None
    a, b = float(left), float(right)
    if operator == "+":
        result = a + b
    elif operator == "-":
        result = a - b
    elif operator == "*":
        result = a * b
        if result == 0.0 and a != 0.0 and b != 0.0:
            raise _fail("value out of range: underflow")
    else:
        if b == 0.0:
            raise _fail("division by zero")
        result = a / b
        if result == 0.0 and a != 0.0 and not math.isinf(b):
            raise _fail("value out of range: underflow")
    if math.isinf(result) and not (math.isinf(a) or math.isinf(b)):
        raise _fail("value out of range: overflow")
    return _float_result(result)


def _float_result(value: float) -> float:
    """A float SQLite can hold: it has no NaN (it would make one NULL, silently), so a NaN
    result is an error here, where PostgreSQL returns NaN."""
    if math.isnan(value):
        raise _fail("a NaN (not-a-number) result cannot be represented on SQLite")
    return value


#: Text PostgreSQL reads as an integer (``pg_strtoint``): digits, a sign, and spaces.
_INTEGER_TEXT = re.compile(r"\s*[+-]?\d+\s*", re.ASCII)
#: Text PostgreSQL reads as a number (``numeric_in``, ``float8in``).
_NUMBER_TEXT = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", re.ASCII)
#: Hexadecimal floats and NaN with its characters, which strtod() reads too.
_HEX_TEXT = re.compile(r"[+-]?0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)([pP][+-]?\d+)?")
_NAN_TEXT = re.compile(r"[+-]?nan\([0-9a-zA-Z_]*\)", re.IGNORECASE)
#: What C's isspace() skips around a number.
_SPACES = " \t\n\r\f\v"
_SPECIAL_FLOATS = {
    "nan": math.nan,
    "+nan": math.nan,
    "-nan": math.nan,
    "infinity": math.inf,
    "+infinity": math.inf,
    "-infinity": -math.inf,
    "inf": math.inf,
    "+inf": math.inf,
    "-inf": -math.inf,
}


def cast_value(to: str, source: str, value: Any) -> Any:
    """``CAST(value AS to)`` as PostgreSQL computes it, where SQLite's CAST would read
    any text as a number (``'x'`` is 0) and truncate: ``to`` is ``smallint``,
    ``integer``, ``bigint``, ``float4``, ``float8``, ``numeric`` or ``numeric(p,s)``;
    ``source`` is the kind of the value cast (``decimal`` for decimal text, ``text``,
    or ``""`` for a number). A numeric is returned as decimal text."""
    if value is None:
        return None
    if isinstance(value, bytes):
        raise _fail(f"cannot cast bytea to {to}")
    if to in ("smallint", "integer", "bigint"):
        return _to_integer(to, source, value)
    if to in ("float8", "float4"):
        number = _to_float(to, source, value)
        if to == "float4" and math.isfinite(number):
            try:
                single = struct.unpack("f", struct.pack("f", number))[0]
            except OverflowError:
                single = math.inf
            if math.isinf(single):
                raise _fail("value out of range: overflow")
            if single == 0.0 and number != 0.0:
                raise _fail("value out of range: underflow")
            number = single
        return _float_result(number)
    return _to_numeric(to, source, value)


def _to_integer(to: str, source: str, value: Any) -> int:
    bits = {"smallint": 16, "integer": 32, "bigint": 64}[to]
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _fail(f"{to} out of range")
        number = round(value)  # rint(): half to even
    elif isinstance(value, int):
        number = value
    elif source == "text" and _INTEGER_TEXT.fullmatch(value):
        number = int(value)
    elif source == "text":
        raise _fail(f"invalid input syntax for type {to}")
    else:  # decimal text
        exact = _number(value)
        if not exact.is_finite():
            raise _fail(f"cannot convert {'NaN' if exact.is_nan() else 'infinity'} to {to}")
        number = int(exact.to_integral_value(ROUND_HALF_UP))
    limit = 2 ** (bits - 1)
    if not -limit <= number < limit:
        raise _fail(f"{to} out of range")
    return number


def _to_float(to: str, source: str, value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    name = "real" if to == "float4" else "double precision"
    if source != "text":
        exact = _number(value)
    else:  # as strtod() reads it, which PostgreSQL's float8in calls
        text = value.strip(_SPACES)
        special = _SPECIAL_FLOATS.get(text.lower())
        if special is not None:
            return special
        if _NAN_TEXT.fullmatch(text):
            return math.nan
        if _HEX_TEXT.fullmatch(text):
            sign = -1.0 if text.startswith("-") else 1.0
            try:
                number = sign * float.fromhex(text.lstrip("+-"))
            except OverflowError:
                raise _fail(f"value is out of range for type {name}") from None
            exact = Decimal(number)
        elif _NUMBER_TEXT.fullmatch(value):
            exact = _number(text)
        else:
            raise _fail(f"invalid input syntax for type {name}")
    number = float(exact)
    if math.isinf(number) or (number == 0.0 and not exact.is_zero()):
        raise _fail(f"value is out of range for type {name}")
    return number


def _to_numeric(to: str, source: str, value: Any) -> str:
    if isinstance(value, float):
        # PostgreSQL 15 converts a float8 with DBL_DIG (15) significant digits.
        exact = Decimal(format(value, ".15g")) if math.isfinite(value) else Decimal(value)
    elif isinstance(value, int) or source != "text":
        exact = _number(value)
    else:
        text = value.strip(_SPACES).lower()
        if text in _SPECIAL_FLOATS and "nan" not in text[1:]:
            exact = Decimal(_SPECIAL_FLOATS[text])
        elif _NUMBER_TEXT.fullmatch(value):
            exact = _number(value.strip(_SPACES))
        else:
            raise _fail("invalid input syntax for type numeric")
    exponent = exact.as_tuple().exponent
    if isinstance(exponent, int) and (exponent < -16383 or exact.adjusted() >= 131072):
        # PostgreSQL's numeric holds up to 131072 digits before the point, 16383 after.
        raise _fail("value overflows numeric format")
    if "(" in to and exact.is_finite():
        precision, _, scale = to[to.index("(") + 1 : -1].partition(",")
        places = int(scale or 0)
        exact = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=_EXACT)
        if exact.adjusted() >= int(precision) - places and not exact.is_zero():
            raise _fail("numeric field overflow")
    elif "(" in to and exact.is_infinite():
        raise _fail("numeric field overflow")
    if exact.is_nan():
        return "NaN"
    if exact.is_infinite():
        return "-Infinity" if exact.is_signed() else "Infinity"
    return str(_returned(exact))


def _number(value: Any) -> Decimal:
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    try:
        return Decimal(value if isinstance(value, str) else bytes(value).decode())
    except (ArithmeticError, UnicodeDecodeError, TypeError):
        raise _fail("invalid input syntax for type numeric") from None


class ExactSum:
    """SUM as PostgreSQL computes it (see ``SQLiteCompiler.function``): decimal text is
    added exactly and comes back as text, integers as an integer (as decimal text beyond
    64 bits, where PostgreSQL's numeric goes on), floats as a float; NULLs are skipped
    and no value at all is NULL."""

    __slots__ = ("count", "exact", "floats", "integers")

    def __init__(self) -> None:
        self.integers = 0
        #: The sum of the floats, None before the first (0.0 is a float sum).
        self.floats: float | None = None
        self.exact: Decimal | None = None
        self.count = 0

    def step(self, value: Any) -> None:
        if value is None:
            return
        self.count += 1
        if isinstance(value, int):
            self.integers += value
        elif isinstance(value, float):
            self.floats = value if self.floats is None else self.floats + value
        else:
            try:
                number = Decimal(value if isinstance(value, str) else value.decode())
            except (ArithmeticError, UnicodeDecodeError):
                number = Decimal(0)  # as SQLite's sum() reads text that is no number
            self.exact = number if self.exact is None else _EXACT.add(self.exact, number)

    def total(self) -> int | float | Decimal:
        if self.exact is not None:
            total = _EXACT.add(self.exact, self.integers)
            if self.floats is not None:
                total = _EXACT.add(total, Decimal(self.floats))
            return total
        if self.floats is not None:
            return self.floats + self.integers
        return self.integers

    def finalize(self) -> Any:
        if not self.count:
            return None
        return _returned(self.total())


class ExactAvg(ExactSum):
    """AVG as PostgreSQL computes it: of integers and decimals, the exact quotient
    rounded as its numeric division rounds it (:func:`postgres_quotient`); of floats, a
    float."""

    __slots__ = ()

    def finalize(self) -> Any:
        if not self.count:
            return None
        total = self.total()
        if isinstance(total, float):
            return total / self.count
        return _returned(postgres_quotient(Decimal(total), self.count))


class WindowSum:
    """SUM as a window function (``SUM(col) OVER (…)``), as :class:`ExactSum` adds; a row
    leaving a moving frame is taken out exactly, and the floats are added again from the
    frame's values, as PostgreSQL computes each frame anew (subtracting them would
    drift)."""

    aggregate: type[ExactSum] = ExactSum

    def __init__(self) -> None:
        self.frame: deque[Any] = deque()
        self.sum = self.aggregate()

    def step(self, value: Any) -> None:
        if value is not None:
            self.frame.append(value)
            self.sum.step(value)

    def inverse(self, value: Any) -> None:
        if value is None:
            return
        self.frame.popleft()
        self.sum = self.aggregate()
        for kept in self.frame:
            self.sum.step(kept)

    def value(self) -> Any:
        return self.sum.finalize()

    def finalize(self) -> Any:
        return self.sum.finalize()


class WindowAvg(WindowSum):
    """AVG as a window function, as :class:`ExactAvg` averages."""

    aggregate = ExactAvg


def _returned(value: int | float | Decimal) -> Any:
    """``value`` as SQLite can return it: decimal text for what a 64-bit int cannot hold."""
    if isinstance(value, Decimal):
        return format(value.copy_abs() if value.is_zero() else value, "f")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return str(value)
    return value


def postgres_quotient(dividend: Decimal, divisor: Decimal | int) -> Decimal:
    """``dividend / divisor`` with the digits PostgreSQL's numeric division gives it
    (``select_div_scale`` in its numeric.c: at least 16 significant digits, and no fewer
    decimals than either operand has), rounded half away from zero."""
    divisor = Decimal(divisor)
    if not dividend.is_finite() or not divisor.is_finite():
        return _EXACT.divide(dividend, divisor)
    sign1, coefficient1, exponent1 = _parts(dividend)
    sign2, coefficient2, exponent2 = _parts(divisor)
    weight1, first1 = _weight_and_first(coefficient1, exponent1)
    weight2, first2 = _weight_and_first(coefficient2, exponent2)
    quotient_weight = weight1 - weight2 - (1 if first1 <= first2 else 0)
    scale = max(16 - 4 * quotient_weight, -exponent1, -exponent2, 0)
    scale = min(scale, 1000)
    # |dividend / divisor| * 10**scale = c1 * 10**(e1 - e2 + scale) / c2
    shift = exponent1 - exponent2 + scale
    numerator, denominator = coefficient1, coefficient2
    if shift >= 0:
        numerator *= 10**shift
    else:
        denominator *= 10**-shift
    quotient, remainder = divmod(numerator, denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    sign = (sign1 ^ sign2) if quotient else 0
    return Decimal((sign, tuple(map(int, str(quotient))), -scale))


def _parts(value: Decimal) -> tuple[int, int, int]:
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    return sign, int("".join(map(str, digits)) or "0"), exponent


def _weight_and_first(coefficient: int, exponent: int) -> tuple[int, int]:
    """PostgreSQL's numeric digits are base 10000: the position (weight) of the first
    non-zero one of ``coefficient * 10**exponent``, and its value (0, 0 for zero)."""
    if coefficient == 0:
        return 0, 0
    weight = (len(str(coefficient)) - 1 + exponent) // 4
    shift = exponent - 4 * weight
    first = coefficient * 10**shift if shift >= 0 else coefficient // 10**-shift
    return weight, first


def lower(value: Any) -> Any:
    """LOWER() as PostgreSQL computes it in a UTF-8 database (SQLite's folds only ASCII):
    each character by its simple case mapping, never into two (as ``str.lower`` maps
    'İ')."""
    if not isinstance(value, str):
        return value
    if value.isascii():
        return value.lower()
    return "".join(_simple(character, str.lower) for character in value)


def upper(value: Any) -> Any:
    """UPPER() as PostgreSQL computes it ('ß' stays 'ß', where ``str.upper`` makes 'SS')."""
    if not isinstance(value, str):
        return value
    if value.isascii():
        return value.upper()
    return "".join(_simple(character, str.upper) for character in value)


def _simple(character: str, fold: Any) -> str:
    """``character``'s simple case mapping, which Python does not expose: its full mapping
    where that is one character; else, for upper case, its title case where that is
    (Greek with iota subscript, 'ᾳ' → 'ᾼ'); else the one exception ('İ' → 'i') or itself."""
    folded: str = fold(character)
    if len(folded) == 1:
        return folded
    if fold is str.upper:
        titled = character.title()
        return titled if len(titled) == 1 else character
    return "i" if character == "İ" else character


def decimal_order(left: str, right: str) -> int:
    """The collation of decimal columns: decimal text by value (``'9.00' < '10.00'``,
    ``'9.0' = '9.00'``), NaN above every number as in PostgreSQL; text that is no number
    (another tool's) after both, by code point."""
    a, b = _decimal_key(left), _decimal_key(right)
    return (a > b) - (a < b)


def _decimal_key(text: str) -> tuple[int, Decimal, str]:
    try:
        number = Decimal(text)
    except ArithmeticError:
        return (2, Decimal(0), text)
    if number.is_nan():
        return (1, Decimal(0), "")
    return (0, number, "")
