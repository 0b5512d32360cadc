"""What a bound value meets (shared by the compiler and the render hooks)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Target"]


@dataclass(frozen=True, slots=True)
class Target:
    """What a bound value meets: a table column (``table`` None when the query names none
    and the table is the one the query reads), or a logical type (LIMIT takes a bigint).
    A dialect that stores values loosely (SQLite) checks a value against it as the
    stricter one would; every dialect names it in a value's error."""

    table: str | None
    column: str | None
    logical: str | None = None

    def describe(self) -> str:
        if self.column is None:
            return str(self.logical)
        return f"{self.table}.{self.column}" if self.table else self.column
