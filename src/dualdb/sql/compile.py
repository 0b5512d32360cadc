"""PyPika query → (SQL text for one dialect, how to build its arguments), cached per shape.

A module-level query with ``Param``s is rendered once and afterwards costs one dictionary
lookup: the compiled form is cached *on the query object*, in an attribute per dialect.
That is only sound while the object cannot change, so:

* Builder methods copy ``__dict__`` into the new query, cache included, so each entry
  holds a weak reference to the object it was made for; a copy never matches it, even
  once the original is gone and the copy sits at its address (an ``id`` would match).
* A query whose tree holds a builder made with ``immutable=False`` (its methods change it
  in place) is never cached.
* PyPika copies some objects shallowly, so deriving from them appends to lists the
  original shares (set operations, ``Case``, window functions): an entry for such a tree
  also checks those lists' lengths before it is used.

Literal values inside the query are part of the query object and are cached with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from operator import itemgetter
from secrets import token_hex
from typing import TYPE_CHECKING, Any
from weakref import ref

from pypika import terms
from pypika.dialects import PostgreSQLQueryBuilder
from pypika.queries import (
    CreateIndexBuilder,
    CreateQueryBuilder,
    DropQueryBuilder,
    Join,
    QueryBuilder,
    Table,
    _SetOperation,
)

from dualdb.errors import DatabaseError, DataError, QueryError
from dualdb.query import _Builder
from dualdb.sql import _render
from dualdb.sql._target import TYPING, Spot, Target
from dualdb.sql.terms import Param, Raw

if TYPE_CHECKING:
    from dualdb.dialects.base import Dialect

__all__ = ["Binder", "Compiled", "Target", "compile_query"]


class _Slot:
    """One placeholder's source: a named Param, or a literal value from the query."""

    __slots__ = ("name", "value")

    def __init__(self, name: str | None, value: Any = None) -> None:
        self.name = name
        self.value = value


@dataclass(frozen=True, slots=True)
class Compiled:
    """A query rendered for one dialect; immutable and shared by every call."""

    sql: str
    slots: tuple[_Slot, ...]
    #: Param names in placeholder order when every slot is a Param (the fast path), else None.
    names: tuple[str, ...] | None
    param_names: frozenset[str]
    #: The statement changes data or schema (INSERT/UPDATE/DELETE/DDL).
    is_write: bool = False
    #: The statement changes the schema: dialects drop what they cached about it.
    is_ddl: bool = False
    #: The statement is a SELECT: it only reads (SQLite may run it in the event loop's
    #: thread; see ``SQLiteDriver.run``).
    is_select: bool = False
    #: For ``INSERT INTO t (cols) VALUES (Param, …)``: (table, columns), so a bulk
    #: ``execute_many`` can use the driver's fastest path (COPY on PostgreSQL).
    bulk_target: tuple[str, tuple[str, ...]] | None = None
    #: What each argument meets (a column, or a logical type), None where the query does
    #: not say; None when no argument does.
    targets: tuple[Target | None, ...] | None = None
    #: What the dialect's driver keeps about this statement (``Dialect.statement_state``).
    state: Any = field(default=None, compare=False, repr=False)
    #: For an upsert (``ON CONFLICT (…) DO UPDATE``) of several VALUES rows: each row's
    #: conflict key, as argument positions, for a dialect that must refuse two rows with
    #: one key as PostgreSQL does; None otherwise.
    upsert_keys: tuple[tuple[int, ...], ...] | None = None
    #: The places whose SQL depends on a column's declared type (``Compiler.typed_spots``),
    #: in ``template`` order; None when there are none, and ``sql`` is the statement.
    spots: tuple[Spot, ...] | None = None
    #: ``sql`` with each spot marked as ``\x00<nonce>:<index>:<part>\x00`` (see ``write``).
    template: str | None = field(default=None, compare=False, repr=False)
    #: The slots in the order PostgreSQL types them (see ``TYPING``), where it is not
    #: their order in the text: the first use of a Param in this order gives its type.
    typing_order: tuple[int, ...] | None = None
    #: Raw SQL that may change the connection's session (``SET``, ``LISTEN``, a session
    #: advisory lock, a temporary table, a PRAGMA …): the pool resets the connection
    #: before the next borrower gets it.
    session: bool = False

    #: ``values -> arguments`` when every slot is a Param: one C-level call per statement.
    _pick: Callable[[Mapping[str, Any]], Any] | None = field(
        init=False, default=None, compare=False, repr=False
    )
    _single: bool = field(init=False, default=False, compare=False, repr=False)
    _count: int = field(init=False, default=0, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_count", len(self.param_names))
        if self.names:
            # itemgetter of one name returns the value itself, not a 1-tuple.
            object.__setattr__(self, "_pick", itemgetter(*self.names))
            object.__setattr__(self, "_single", len(self.names) == 1)

    def arguments(self, values: Mapping[str, Any]) -> Sequence[Any]:
        """The driver's positional arguments for this call (values not yet encoded)."""
        pick = self._pick
        if pick is not None and len(values) == self._count:
            try:
                picked = pick(values)
            except (KeyError, TypeError):
                pass  # reported below with the full picture
            else:
                return (picked,) if self._single else picked
        self._check_names(values)
        return [values[s.name] if s.name is not None else s.value for s in self.slots]

    def arguments_many(self, rows: Iterable[Mapping[str, Any]]) -> list[Sequence[Any]]:
        """:meth:`arguments` for every row of a bulk call, with the per-row checks inline:
        at a hundred thousand rows the method call per row is a measurable share."""
        pick = self._pick
        if pick is None:
            return [self.arguments(values) for values in rows]
        count = self._count
        single = self._single
        out: list[Sequence[Any]] = []
        for values in rows:
            if len(values) == count:
                try:
                    picked = pick(values)
                except (KeyError, TypeError):
                    pass
                else:
                    out.append((picked,) if single else picked)
                    continue
            out.append(self.arguments(values))  # raises, naming what is missing or extra
        return out

    def _check_names(self, values: Mapping[str, Any]) -> None:
        if not isinstance(values, Mapping):
            raise QueryError(
                "values are a mapping of Param names to values (each row of execute_many a "
                f"dict); got {type(values).__name__}"
            )
        missing = self.param_names.difference(values)
        unexpected = set(values).difference(self.param_names)
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"no value for Param {', '.join(sorted(missing))}")
            if unexpected:
                parts.append(f"unexpected value(s) {', '.join(sorted(unexpected))}")
            expected = ", ".join(sorted(self.param_names)) or "none"
            raise QueryError(f"{'; '.join(parts)} (the query's Params: {expected})")

    def write(self, spot_sql: Callable[[int, str], str]) -> str:
        """The statement with each spot written as ``spot_sql(index, part)`` says; a spot
        is marked where its SQL goes, in parts: ``after`` a column, or an arithmetic
        expression's ``open``, ``op`` (its operator) and ``close``. (A NUL cannot occur in
        the SQL otherwise, see ``_check_text``.)"""
        assert self.template is not None
        pieces = self.template.split("\x00")
        for at in range(1, len(pieces), 2):
            _, index, part = pieces[at].split(":")
            pieces[at] = spot_sql(int(index), part)
        return "".join(pieces)

    def labels(self) -> list[str]:
        """A name per argument for logs: the Param name, or ``$n`` for a literal."""
        return [s.name or f"${i}" for i, s in enumerate(self.slots, 1)]

    def argument_names(self) -> list[str]:
        """A name per argument for errors: ``Param name``, or ``value $n`` for a literal."""
        return [f"Param {s.name}" if s.name else f"value ${i}" for i, s in enumerate(self.slots, 1)]

    def refused(self, index: int, reason: str, dialect: str) -> DataError:
        """The error for argument ``index`` (from 0), refused for ``reason``: it names the
        argument and the column it meets (also as ``table``/``column``), never its value,
        which may be a secret."""
        target = self.targets[index] if self.targets is not None else None
        where = f" for {target.describe()}" if target is not None else ""
        return DataError(
            f"invalid value for {self.argument_names()[index]}{where}: {reason}",
            dialect=dialect,
            table=target.table if target is not None else None,
            column=target.column if target is not None else None,
        )


class Binder:
    """Collects placeholders while PyPika renders one query for one dialect."""

    __slots__ = (
        "_by_name",
        "_by_term",
        "_expected",
        "_keys",
        "_nonce",
        "_terms",
        "depth",
        "dialect",
        "key_width",
        "member",
        "phase",
        "set_members",
        "slots",
        "spot_of",
        "spots",
        "targets",
        "typing_keys",
        "upsert_keys",
    )

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.slots: list[_Slot] = []
        #: What each slot's value meets, where the query says (see ``expect``).
        self.targets: list[Target | None] = []
        self._by_name: dict[str, str] = {}
        #: Upsert conflict keys (see ``key``): the row of each key term, by id, the
        #: argument positions found for each row, and how many values a key has.
        self._keys: dict[int, int] = {}
        self.upsert_keys: dict[int, list[int]] = {}
        self.key_width = 0
        #: The placeholder of each literal term bound, by id (see ``bind_value``).
        self._by_term: dict[int, str] = {}
        #: The terms known here by id, kept so that no other object takes their ids.
        self._terms: list[Any] = []
        self._expected: dict[int, Target] = {}
        #: The places whose SQL waits for column types (see ``spot``).
        self.spots: list[Spot] = []
        #: The spot of each arithmetic term rendered, by id (see ``reserve``).
        self.spot_of: dict[int, int] = {}
        #: Part of every spot's mark, so that no name or text in the query can forge one.
        self._nonce = ""
        #: How many set operations (UNION…) are being rendered around the current term.
        self.set_members = 0
        #: Where the statement's top-level queries are being rendered (see ``TYPING``):
        #: the nesting depth, which top-level query (a UNION has several), and which
        #: part of it; and each slot's place in PostgreSQL's order of typing parameters.
        self.depth = 0
        self.member = 0
        self.phase = TYPING["rest"]
        self.typing_keys: list[tuple[int, int, int]] = []

    def spot(self, target: Target, kind: str) -> str:
        """The mark of a place whose SQL depends on ``target``'s declared type, where the
        dialect's compiler asks for them (``typed_spots``), else nothing."""
        if not self.dialect.compiler.typed_spots:
            return ""
        self.spots.append(Spot(kind, target))
        return self.mark(len(self.spots) - 1, "after")

    def reserve(self, term: Any) -> int:
        """The index of ``term``'s spot, taken before its parts are rendered (``fill``
        says what it is later): a value beside the expression refers to it."""
        index = self.spot_of.get(id(term))
        if index is None:
            self.spots.append(Spot("reserved"))
            index = self.spot_of[id(term)] = len(self.spots) - 1
            self._terms.append(term)  # alive while ids are compared (renders copy terms)
        return index

    def fill(self, index: int, spot: Spot) -> None:
        self.spots[index] = spot

    def mark(self, index: int, part: str) -> str:
        if not self._nonce:
            self._nonce = token_hex(8)
        return f"\x00{self._nonce}:{index}:{part}\x00"

    def expects(self, term: Any) -> bool:
        """Whether ``term`` meets something typed (see ``expect``)."""
        return id(term) in self._expected

    def expect(self, term: Any, target: Target | None) -> None:
        """Note that ``term``, if it is bound, meets ``target`` where it is rendered next
        (None: nothing typed)."""
        if target is None:
            self._expected.pop(id(term), None)
        else:
            self._expected[id(term)] = target

    def bind_param(self, name: str, term: Any = None) -> str:
        if self.dialect.reuses_placeholders:
            placeholder = self._by_name.get(name)
            if placeholder is None:
                self._add(_Slot(name), term)
                placeholder = self._by_name[name] = self.dialect.placeholder(len(self.slots))
            return placeholder
        self._add(_Slot(name), term)
        return self.dialect.placeholder(len(self.slots))

    def bind_value(self, value: Any, term: Any = None) -> str:
        reuse = term is not None and self.dialect.reuses_placeholders
        if reuse:
            # The same literal rendered twice (an expression in the select list and in
            # GROUP BY) is one placeholder: PostgreSQL matches the two by their text.
            placeholder = self._by_term.get(id(term))
            if placeholder is not None:
                return placeholder
        self._add(_Slot(None, value), term)
        placeholder = self.dialect.placeholder(len(self.slots))
        if term is not None and self.targets[-1] is None:
            placeholder = self.dialect.compiler.literal(placeholder, value)
        if reuse:
            self._by_term[id(term)] = placeholder
            self._terms.append(term)  # alive while ids are compared
        return placeholder

    def key(self, term: Any, row: int, width: int) -> None:
        """Note that ``term``, if it is bound, is part of VALUES row ``row``'s conflict
        key (of ``width`` values) in an upsert."""
        self._keys[id(term)] = row
        self.key_width = width

    def _add(self, slot: _Slot, term: Any) -> None:
        self.typing_keys.append((self.member, self.phase, len(self.slots)))
        self.slots.append(slot)
        self.targets.append(self._expected.get(id(term)) if term is not None else None)
        if self._keys and term is not None:
            row = self._keys.get(id(term))
            if row is not None:
                self.upsert_keys.setdefault(row, []).append(len(self.slots) - 1)


def compile_query(query: Any, dialect: Dialect) -> Compiled:
    """Render ``query`` for ``dialect``, from the cache when this exact object was seen."""
    try:
        entry = query.__dict__[dialect.cache_attribute]
    except (AttributeError, KeyError):
        pass
    else:
        # A weak reference, or a _Guard that returns None once the query changed.
        if entry[0]() is query:
            compiled: Compiled = entry[1]
            return compiled
    compiled = _compile(query, dialect)
    if isinstance(query, QueryBuilder | terms.Term):
        shared = _shared_lists(query)
        if shared is not None:
            key = _Guard(query, shared) if shared else ref(query)
            query.__dict__[dialect.cache_attribute] = (key, compiled)
    return compiled


#: Lists that PyPika's builder methods append to on a *shallow* copy, so deriving a new
#: object from one of these changes the original too.
_SHARED: tuple[tuple[type, tuple[str, ...]], ...] = (
    (_SetOperation, ("_set_operation", "_orderbys")),
    (terms.Case, ("_cases",)),
    (terms.AnalyticFunction, ("_filters", "_partition", "_orderbys")),
    # dualdb.Query's builder copies these (see dualdb.query); PyPika's own does not.
    (PostgreSQLQueryBuilder, ("_on_conflict_fields", "_distinct_on", "_using")),
)


class _Guard:
    """Cache key for a query holding shared lists: the query while they are unchanged."""

    __slots__ = ("_lengths", "_query")

    def __init__(self, query: Any, shared: list[list[Any]]) -> None:
        self._query = ref(query)
        self._lengths = tuple((lst, len(lst)) for lst in shared)

    def __call__(self) -> Any:
        for lst, length in self._lengths:
            if len(lst) != length:
                return None
        return self._query()


def _shared_lists(query: Any) -> list[list[Any]] | None:
    """The shared lists of ``query``'s tree to watch, or None if it must not be cached.

    Visits every PyPika object reachable from the query (once, at compile time).
    """
    shared: list[list[Any]] = []
    seen: set[int] = set()
    stack: list[Any] = [query]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, list | tuple | set | frozenset):
            stack.extend(node)
            continue
        if isinstance(node, dict):
            stack.extend(node.values())
            continue
        if not isinstance(node, terms.Node | Join) or isinstance(node, Enum):
            continue
        if getattr(node, "immutable", True) is False:
            return None
        for cls, names in _SHARED:
            if isinstance(node, cls) and not (
                cls is PostgreSQLQueryBuilder and isinstance(node, _Builder)
            ):
                shared.extend(v for v in map(node.__dict__.get, names) if isinstance(v, list))
        stack.extend(vars(node).values())
    return shared


def _compile(query: Any, dialect: Dialect) -> Compiled:
    if isinstance(query, Raw | str):
        sql = query.sql if isinstance(query, Raw) else query
        args = query.args if isinstance(query, Raw) else ()
        _check_text(sql)
        verb = _verb(sql)
        return Compiled(
            sql=sql,
            slots=tuple(_Slot(None, v) for v in args),
            names=None if args else (),
            param_names=frozenset(),
            is_write=verb in _WRITES or verb in _DDL,
            is_ddl=verb in _DDL,
            is_select=verb == "SELECT",
            state=dialect.statement_state(query),
            session=_changes_session(sql),
        )
    if isinstance(query, CreateQueryBuilder | DropQueryBuilder | CreateIndexBuilder):
        return _compile_ddl(query, dialect)
    if not isinstance(query, QueryBuilder | terms.Term):
        raise QueryError(
            f"expected a PyPika query, dualdb.raw(...) or SQL text; got {type(query).__name__}"
        )
    binder = Binder(dialect)
    previous = _render.active()
    _render.set_active(binder)
    try:
        sql = query.get_sql(quote_char=dialect.quote_char)
    except DatabaseError:
        raise
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        # PyPika renders an argument of the wrong kind (a str where it wants an enum
        # or a term) by failing on it: a mistake in the query, not in dualdb.
        raise QueryError(
            f"PyPika cannot render this query: {type(exc).__name__}: {str(exc)[:200]} "
            "(an argument of the wrong kind, such as a str where an enum or a column is "
            "expected)"
        ) from None
    except RecursionError:
        raise QueryError("the query is nested too deep to render") from None
    finally:
        _render.set_active(previous)
    template = spots = None
    if binder.spots:
        template, spots = sql, tuple(binder.spots)
        nonce = binder._nonce
        # A mark of another nonce stays as it is (its NUL is then refused below).
        sql = _MARK.sub(lambda m: spots[int(m[2])].plain(m[3]) if m[1] == nonce else m[0], template)
    _check_text(sql)
    slots = tuple(binder.slots)
    names = tuple(s.name for s in slots if s.name is not None)
    verb = _verb(sql)
    targets = tuple(binder.targets) if any(binder.targets) else None
    return Compiled(
        sql=sql,
        slots=slots,
        names=names if len(names) == len(slots) else None,
        param_names=frozenset(names),
        is_write=verb in _WRITES or verb in _DDL,
        is_ddl=verb in _DDL,
        is_select=verb == "SELECT",
        bulk_target=_bulk_target(query, slots),
        targets=targets,
        state=dialect.statement_state(query),
        spots=spots,
        template=template,
        upsert_keys=_upsert_keys(binder),
        typing_order=_typing_order(binder),
    )


def _typing_order(binder: Binder) -> tuple[int, ...] | None:
    keys = binder.typing_keys
    order = tuple(sorted(range(len(keys)), key=keys.__getitem__))
    return None if order == tuple(range(len(keys))) else order


def _upsert_keys(binder: Binder) -> tuple[tuple[int, ...], ...] | None:
    """The argument positions of each VALUES row's whole conflict key (a row whose key
    has a part not bound, such as NULL or DEFAULT, cannot repeat another's)."""
    rows = tuple(
        tuple(positions)
        for _, positions in sorted(binder.upsert_keys.items())
        if len(positions) == binder.key_width
    )
    return rows if len(rows) > 1 else None


def _compile_ddl(query: Any, dialect: Dialect) -> Compiled:
    from dualdb.sql import ddl

    binder = ddl.literal_binder(dialect)
    previous = _render.active()
    _render.set_active(binder)
    try:
        sql = ddl.render_ddl(query, dialect)
    finally:
        _render.set_active(previous)
    _check_text(sql)
    return Compiled(
        sql=sql,
        slots=(),
        names=(),
        param_names=frozenset(),
        is_write=True,
        is_ddl=True,
        state=dialect.statement_state(query),
    )


#: A spot's mark in a rendered template (see ``Binder.mark``): one pattern, compiled once,
#: where a pattern holding each compile's nonce was compiled again for every statement.
_MARK = re.compile("\x00([0-9a-f]+):(\\d+):(\\w+)\x00")


def _check_text(sql: str) -> None:
    # Values are bound, so a NUL can only come from an identifier (a table or column
    # name from user input) or raw text. PostgreSQL's protocol ends strings at NUL: the
    # server sees a malformed message and drops the connection; SQLite refuses the text.
    if "\x00" in sql:
        raise QueryError("the SQL text contains a NUL character (in an identifier or raw SQL)")


_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "WITH"})
_DDL = frozenset({"CREATE", "ALTER", "DROP"})


#: Statements that change a connection's session rather than the data (PostgreSQL's
#: SET, LISTEN, PREPARE, DECLARE … WITH HOLD, DO and CALL, which may run anything;
#: SQLite's PRAGMA and ATTACH).
_SESSION_VERBS = frozenset(
    {
        "SET",
        "RESET",
        "LISTEN",
        "UNLISTEN",
        "PREPARE",
        "DECLARE",
        "DISCARD",
        "LOAD",
        "DO",
        "CALL",
        "PRAGMA",
        "ATTACH",
        "DETACH",
        "LOCK",
    }
)
#: What else changes a session from inside a query: set_config(…, false), session
#: advisory locks, temporary tables.
_SESSION_CALLS = re.compile(r"set_config|advisory_lock|\btemp(orary)?\b|pg_temp", re.IGNORECASE)


def _changes_session(sql: str) -> bool:
    words = _LEADING_COMMENTS.sub("", sql).split(None, 1)
    return bool(words) and (
        words[0].upper().rstrip(";") in _SESSION_VERBS or _SESSION_CALLS.search(sql) is not None
    )


#: Comments and space before a statement's first word (``/* c */ SET …``, ``-- c\nSET``).
_LEADING_COMMENTS = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.DOTALL)


def _verb(sql: str) -> str:
    return sql.lstrip()[:7].split(None, 1)[0].upper() if sql.strip() else ""


def _bulk_target(query: Any, slots: tuple[_Slot, ...]) -> tuple[str, tuple[str, ...]] | None:
    """(table, columns) when the query is a plain one-row INSERT of distinct Params."""
    if not isinstance(query, QueryBuilder):
        return None
    table = getattr(query, "_insert_table", None)
    values = getattr(query, "_values", None)
    columns = getattr(query, "_columns", None)
    if (
        not isinstance(table, Table)
        or table._schema is not None
        or not columns
        or not values
        or len(values) != 1
        or getattr(query, "_returns", None)
        or getattr(query, "_on_conflict", False)
        or getattr(query, "_selects", None)
    ):
        return None
    names = [s.name for s in slots]
    row = values[0]
    if (
        len(row) != len(columns)
        or len(slots) != len(columns)
        or not all(isinstance(term, Param) for term in row)
        or None in names
        or len(set(names)) != len(names)
    ):
        return None
    return table._table_name, tuple(c.name for c in columns)
