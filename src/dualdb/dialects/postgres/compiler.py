"""What PostgreSQL lacks of the SQL dualdb's builder can write.

dualdb's builder writes PostgreSQL's text, so the :class:`~dualdb.dialects.base.Compiler`
defaults are PostgreSQL's; this compiler only refuses SQLite's own spellings, which would
otherwise fail on the server (or, worse, only in production).
"""

from __future__ import annotations

from typing import ClassVar

from pypika.enums import Matching

from dualdb.dialects.base import Compiler

__all__ = ["PostgresCompiler"]


class PostgresCompiler(Compiler):
    __slots__ = ()

    unsupported_matching: ClassVar[frozenset[Matching]] = frozenset(
        {Matching.rlike, Matching.regexp, Matching.bin_regex, Matching.as_of, Matching.glob}
    )
    unsupported_functions: ClassVar[dict[str, str]] = {
        "IFNULL": "use COALESCE, on both backends",
        "GROUP_CONCAT": "",
        "INSTR": "",
        "DATETIME": "",
        "STRFTIME": "",
        "JULIANDAY": "",
        "TOTAL": "use SUM",
        "RANDOMBLOB": "",
        "PRINTF": "",
    }
