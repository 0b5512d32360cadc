"""The dialect-neutral schema model: the committed snapshot and what introspection finds.

A :class:`Schema` says, per table, its columns (logical type, nullability, default), primary
key, foreign keys with their ``ON DELETE`` action, unique constraints and indexes. It is
written to ``migrations/schema.json`` (sorted keys, stable, so a review diff shows exactly
what a migration changes) and compared with a live database by :func:`diff`, which names
every difference. Introspection of either backend produces the same model, which is how the
test-suite proves that SQLite and PostgreSQL end with the same logical schema.

Expressions (index expressions, partial-index predicates, defaults) are compared in a
normalised text form: identifiers unquoted, keywords lower-cased, PostgreSQL's ``::type``
casts dropped, whitespace collapsed. CHECK constraints are not part of the model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "SNAPSHOT_FORMAT",
    "Column",
    "ForeignKey",
    "Index",
    "Schema",
    "Table",
    "diff",
    "normalize_default",
    "normalize_expression",
]

SNAPSHOT_FORMAT = "dualdb-schema/1"


@dataclass(frozen=True)
class Column:
    type: str
    nullable: bool
    default: str | None = None

    def describe(self) -> str:
        null = "NULL" if self.nullable else "NOT NULL"
        default = f" DEFAULT {self.default}" if self.default is not None else ""
        return f"{self.type} {null}{default}"


@dataclass(frozen=True, order=True)
class ForeignKey:
    columns: tuple[str, ...]
    references: str
    referenced_columns: tuple[str, ...]
    on_delete: str

    def describe(self) -> str:
        return (
            f"({', '.join(self.columns)}) → {self.references}({', '.join(self.referenced_columns)})"
            f" ON DELETE {self.on_delete.upper()}"
        )


@dataclass(frozen=True)
class Index:
    columns: tuple[str, ...]
    unique: bool
    where: str | None = None

    def describe(self) -> str:
        kind = "UNIQUE INDEX" if self.unique else "INDEX"
        where = f" WHERE {self.where}" if self.where else ""
        return f"{kind} ({', '.join(self.columns)}){where}"


@dataclass(frozen=True)
class Table:
    columns: Mapping[str, Column]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    unique_constraints: tuple[tuple[str, ...], ...] = ()
    indexes: Mapping[str, Index] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Canonical order, so that equality and the JSON ignore discovery order.
        object.__setattr__(self, "foreign_keys", tuple(sorted(self.foreign_keys)))
        object.__setattr__(self, "unique_constraints", tuple(sorted(self.unique_constraints)))


@dataclass(frozen=True)
class Schema:
    tables: Mapping[str, Table]

    # -- JSON -----------------------------------------------------------------------------

    def to_json(self) -> str:
        """The snapshot text: sorted, indented, newline-terminated, identical for equal schemas."""
        tables: dict[str, Any] = {}
        for name, table in self.tables.items():
            tables[name] = {
                "columns": {
                    col: {"type": c.type, "nullable": c.nullable, "default": c.default}
                    for col, c in table.columns.items()
                },
                "primary_key": list(table.primary_key),
                "foreign_keys": [
                    {
                        "columns": list(fk.columns),
                        "references": {
                            "table": fk.references,
                            "columns": list(fk.referenced_columns),
                        },
                        "on_delete": fk.on_delete,
                    }
                    for fk in table.foreign_keys
                ],
                "unique_constraints": [list(cols) for cols in table.unique_constraints],
                "indexes": {
                    idx: {"columns": list(i.columns), "unique": i.unique, "where": i.where}
                    for idx, i in table.indexes.items()
                },
            }
        document = {"format": SNAPSHOT_FORMAT, "tables": tables}
        return _render(document, 0) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Schema:
        """Parse a snapshot; raises ``ValueError`` saying what is wrong with it."""
        try:
            document = json.loads(text)
            if document.get("format") != SNAPSHOT_FORMAT:
                raise ValueError(f"expected format {SNAPSHOT_FORMAT!r}")
            tables = {
                name: Table(
                    columns={
                        col: Column(str(c["type"]), bool(c["nullable"]), c.get("default"))
                        for col, c in t["columns"].items()
                    },
                    primary_key=tuple(t.get("primary_key", ())),
                    foreign_keys=tuple(
                        ForeignKey(
                            tuple(fk["columns"]),
                            fk["references"]["table"],
                            tuple(fk["references"]["columns"]),
                            fk["on_delete"],
                        )
                        for fk in t.get("foreign_keys", ())
                    ),
                    unique_constraints=tuple(tuple(u) for u in t.get("unique_constraints", ())),
                    indexes={
                        idx: Index(tuple(i["columns"]), bool(i["unique"]), i.get("where"))
                        for idx, i in t.get("indexes", {}).items()
                    },
                )
                for name, t in document["tables"].items()
            }
        except (AttributeError, KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a dualdb schema snapshot ({type(exc).__name__}: {exc})") from exc
        return cls(tables)


def _render(value: Any, depth: int, prefix: int = 0) -> str:
    """JSON with sorted keys in which each object or list that fits on its line (100 columns,
    ``prefix`` characters already used) stays on one line: one line per column, index or
    foreign key reads well in a review diff."""
    compact = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
    if not isinstance(value, dict | list) or not value or prefix + len(compact) <= 100:
        return compact
    pad, inner = "  " * depth, "  " * (depth + 1)
    if isinstance(value, list):
        items = [inner + _render(item, depth + 1, len(inner)) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    items = []
    for key in sorted(value):
        head = f"{inner}{json.dumps(key, ensure_ascii=False)}: "
        items.append(head + _render(value[key], depth + 1, len(head) + 1))
    return "{\n" + ",\n".join(items) + "\n" + pad + "}"


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------


def _diff_table(name: str, want: Table, have: Table) -> list[str]:
    out: list[str] = []
    for col in sorted(set(want.columns) | set(have.columns)):
        w, h = want.columns.get(col), have.columns.get(col)
        if h is None and w is not None:
            out.append(f"{name}.{col}: column missing (snapshot: {w.describe()})")
        elif w is None and h is not None:
            out.append(f"{name}.{col}: column not in the snapshot ({h.describe()})")
        elif w is not None and h is not None:
            if w.type != h.type:
                out.append(f"{name}.{col}: type is {h.type}, snapshot says {w.type}")
            if w.nullable != h.nullable:
                have_null = "nullable" if h.nullable else "NOT NULL"
                want_null = "nullable" if w.nullable else "NOT NULL"
                out.append(f"{name}.{col}: column is {have_null}, snapshot says {want_null}")
            if w.default != h.default:
                out.append(f"{name}.{col}: default is {h.default}, snapshot says {w.default}")
    if want.primary_key != have.primary_key:
        out.append(
            f"{name}: primary key is ({', '.join(have.primary_key)}), "
            f"snapshot says ({', '.join(want.primary_key)})"
        )
    for fk in sorted(set(want.foreign_keys) - set(have.foreign_keys)):
        out.append(f"{name}: foreign key missing: {fk.describe()}")
    for fk in sorted(set(have.foreign_keys) - set(want.foreign_keys)):
        out.append(f"{name}: foreign key not in the snapshot: {fk.describe()}")
    for cols in sorted(set(want.unique_constraints) - set(have.unique_constraints)):
        out.append(f"{name}: unique constraint missing: ({', '.join(cols)})")
    for cols in sorted(set(have.unique_constraints) - set(want.unique_constraints)):
        out.append(f"{name}: unique constraint not in the snapshot: ({', '.join(cols)})")
    for idx in sorted(set(want.indexes) | set(have.indexes)):
        wi, hi = want.indexes.get(idx), have.indexes.get(idx)
        if hi is None and wi is not None:
            out.append(f"{name}: index {idx} missing (snapshot: {wi.describe()})")
        elif wi is None and hi is not None:
            out.append(f"{name}: index {idx} not in the snapshot ({hi.describe()})")
        elif wi is not None and hi is not None and wi != hi:
            out.append(f"{name}: index {idx} is {hi.describe()}, snapshot says {wi.describe()}")
    return out


def diff(expected: Schema, actual: Schema) -> list[str]:
    """Every difference of ``actual`` (live) from ``expected`` (snapshot), one line each."""
    out: list[str] = []
    for name in sorted(set(expected.tables) | set(actual.tables)):
        want, have = expected.tables.get(name), actual.tables.get(name)
        if have is None:
            out.append(f"table {name} missing")
        elif want is None:
            out.append(f"table {name} not in the snapshot")
        else:
            out.extend(_diff_table(name, want, have))
    return out


# --------------------------------------------------------------------------------------------
# Normalising expressions so both backends' renderings compare equal
# --------------------------------------------------------------------------------------------

_QUOTED_LITERAL = re.compile(r"('(?:[^']|'')*')")
_CAST = re.compile(
    r"::(?:\"[^\"]+\"|[a-z_][a-z0-9_]*)"
    r"(?: (?:with|without|time|zone|varying|precision))*(?:\(\d+(?:,\d+)?\))?(?:\[\])?"
)
_NUMERIC_TYPES = ("integer", "bigint", "smallint", "numeric", "double precision", "real")


def _outside_literals(text: str, transform: Any) -> str:
    parts = _QUOTED_LITERAL.split(text)
    return "".join(part if i % 2 else transform(part) for i, part in enumerate(parts))


def _strip_outer_parens(text: str) -> str:
    while text.startswith("(") and text.endswith(")"):
        depth = 0
        for i, char in enumerate(text):
            depth += char == "("
            depth -= char == ")"
            if depth == 0 and i < len(text) - 1:
                return text  # the first "(" closes before the end: not one outer pair
        text = text[1:-1].strip()
    return text


def normalize_expression(text: str) -> str:
    """A backend-neutral spelling of an SQL expression (index key, predicate, default)."""

    def clean(part: str) -> str:
        part = _CAST.sub("", part.lower())
        part = part.replace('"', "")
        part = re.sub(r"\s+", " ", part)
        return re.sub(r"\s*([(),=<>+*/-])\s*", r"\1", part)

    return _strip_outer_parens(_outside_literals(text.strip(), clean).strip())


def normalize_default(text: str | None) -> str | None:
    """A column default as both backends report it: ``'user'``, ``0``, ``true``, ``now()``.

    PostgreSQL writes numeric defaults of some types as quoted casts (``'-1'::integer``);
    those lose their quotes so they equal SQLite's ``-1``.
    """
    if text is None:
        return None
    raw = text.strip()
    match = re.fullmatch(r"'(-?\d+(?:\.\d+)?)'::(.+)", raw, flags=re.IGNORECASE)
    if match and match.group(2).lower() in _NUMERIC_TYPES:
        raw = match.group(1)
    return normalize_expression(raw)
