"""The workloads every contender runs, their data, and the schema they run against.

The original workloads use only ``BIGINT`` and ``TEXT`` columns, whose values every driver
returns as the same Python objects, so each contender does the same work and the results
can be compared (and are checked) value for value. The ``mixed_*`` and ``concurrent_pk_*``
workloads run on the ten-column table of :mod:`benchmarks.mixed`, where decoding is part
of the work; their results are checked against the rows as written.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from benchmarks.mixed import MixedRow, mixed_id, mixed_row

__all__ = [
    "ACCOUNTS",
    "BULK",
    "BULK_TABLE",
    "COLUMNS",
    "CONCURRENT",
    "MIXED",
    "MIXED_BULK",
    "MIXED_READS",
    "PAGE_SIZE",
    "SCHEMA",
    "STATEMENTS",
    "TABLES",
    "TYPED",
    "TYPED_ROWS",
    "WORKLOADS",
    "Arguments",
    "Item",
    "ItemRow",
    "Plan",
    "Transfer",
    "Workload",
    "item_row",
]

#: A row of ``bench_items`` (and of ``bench_inserts``/``bench_bulk``), in column order.
ItemRow = tuple[int, int, str, int, str | None]
#: One transfer: ledger id, from account, to account, amount.
Transfer = tuple[int, int, int, int]

COLUMNS = ("id", "owner_id", "name", "qty", "note")
BULK_TABLE = "bench_bulk"
PAGE_SIZE = 50
MIXED_BULK_ROWS = 10_000
CONCURRENT_TASKS = (1, 4, 16, 64)
CONCURRENT_WRITERS = (16, 64)
TYPED_ROWS = 100
ACCOUNTS = 100

_ITEM_COLUMNS = "id BIGINT PRIMARY KEY, owner_id BIGINT NOT NULL, name TEXT NOT NULL, "
_ITEM_COLUMNS += "qty BIGINT NOT NULL, note TEXT"

#: Portable DDL (both backends accept it as written).
SCHEMA = (
    f"CREATE TABLE bench_items ({_ITEM_COLUMNS})",
    f"CREATE TABLE bench_inserts ({_ITEM_COLUMNS})",
    f"CREATE TABLE {BULK_TABLE} ({_ITEM_COLUMNS})",
    "CREATE TABLE bench_accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL)",
    "CREATE TABLE bench_ledger (id BIGINT PRIMARY KEY, from_id BIGINT NOT NULL, "
    "to_id BIGINT NOT NULL, amount BIGINT NOT NULL)",
)
TABLES = ("bench_items", "bench_inserts", BULK_TABLE, "bench_accounts", "bench_ledger")


def item_row(item_id: int) -> ItemRow:
    """The deterministic content of item ``item_id`` (every fifth has no note)."""
    note = None if item_id % 5 == 0 else f"note {item_id} — ünïcode ✓"
    return (item_id, item_id % 97, f"item-{item_id:08d}", item_id * 7 % 1000, note)


@dataclass(frozen=True, slots=True)
class Item:
    """A row of ``bench_items`` as the typed-rows workload builds it (``as_=Item``)."""

    id: int
    owner_id: int
    name: str
    qty: int
    note: str | None


Kind = Literal[
    "single", "transaction", "bulk", "auth", "typed", "mixed", "stream", "mixed_bulk", "concurrent"
]


@dataclass(frozen=True, slots=True)
class Workload:
    """One measured operation. ``unit`` is what the throughput counts: ops or rows."""

    key: str
    title: str
    kind: Kind
    rows: int = 0  # bulk only
    tasks: int = 0  # concurrent only
    #: Concurrent only: one operation in four is an UPDATE of the row instead of a select.
    writes: bool = False

    @property
    def unit(self) -> str:
        return "rows" if self.kind in ("bulk", "mixed_bulk", "stream") else "ops"


WORKLOADS: dict[str, Workload] = {
    w.key: w
    for w in (
        Workload("pk_select", "primary-key select", "single"),
        Workload("insert_one", "single-row insert", "single"),
        Workload("transaction", "3-statement transaction", "transaction"),
        Workload("keyset_page", f"keyset page of {PAGE_SIZE} rows", "single"),
        Workload("bulk_1k", "bulk insert, 1k rows", "bulk", 1_000),
        Workload("bulk_10k", "bulk insert, 10k rows", "bulk", 10_000),
        Workload("bulk_100k", "bulk insert, 100k rows", "bulk", 100_000),
        Workload("auth_validate", "auth validate(token)", "auth"),
        Workload("typed_rows", f"{TYPED_ROWS} rows into a dataclass", "typed"),
        Workload("mixed_pk", "mixed row by primary key (uuid)", "mixed"),
        Workload("mixed_page", f"mixed page of {PAGE_SIZE} rows by index", "mixed"),
        Workload("mixed_stream", "mixed rows streamed (iterate)", "stream"),
        Workload("mixed_bulk", "mixed bulk insert, one call", "mixed_bulk"),
        *(
            Workload(f"concurrent_pk_{n}", f"{n} tasks x mixed pk selects", "concurrent", tasks=n)
            for n in CONCURRENT_TASKS
        ),
        *(
            Workload(
                f"concurrent_rw_{n}",
                f"{n} tasks x mixed pk selects, 1 in 4 an update",
                "concurrent",
                tasks=n,
                writes=True,
            )
            for n in CONCURRENT_WRITERS
        ),
    )
}

#: Workloads of one or a few statements, and the bulk inserts.
STATEMENTS = frozenset(k for k, w in WORKLOADS.items() if w.kind in ("single", "transaction"))
BULK = frozenset(k for k, w in WORKLOADS.items() if w.kind == "bulk")
#: Rows read into a model: ``as_=`` against the raw driver plus a hand-written mapping.
TYPED = frozenset(k for k, w in WORKLOADS.items() if w.kind == "typed")
#: On the mixed table: reads of one or a few rows, the stream, the bulk insert, and the
#: pk selects from many tasks at once.
MIXED_READS = frozenset(k for k, w in WORKLOADS.items() if w.kind == "mixed")
MIXED_BULK = frozenset(k for k, w in WORKLOADS.items() if w.kind == "mixed_bulk")
CONCURRENT = frozenset(k for k, w in WORKLOADS.items() if w.kind == "concurrent")
MIXED = MIXED_READS | MIXED_BULK | CONCURRENT | {"mixed_stream"}


@dataclass(frozen=True, slots=True)
class Plan:
    """How much to run: quick (smoke test) or full."""

    name: str
    seed_rows: int
    warmup_ops: int
    batch_ops: int
    rounds: int
    bulk_workloads: tuple[str, ...]
    bulk_rounds: int
    #: A contender stops repeating a bulk workload once it has spent this long on it.
    bulk_budget_seconds: float
    #: Rows of the mixed table, all of which ``mixed_stream`` reads.
    mixed_rows: int
    #: Rows of ``mixed_bulk`` (10,000 as in the issue; fewer in quick mode).
    mixed_bulk_rows: int
    #: Selects per task and rounds of the ``concurrent_pk_*`` workloads.
    selects_per_task: int
    concurrent_rounds: int

    @classmethod
    def quick(cls) -> Plan:
        return cls("quick", 1_000, 30, 50, 4, ("bulk_1k",), 2, 5.0, 1_000, 500, 3, 1)

    @classmethod
    def full(cls) -> Plan:
        # Many short rounds rather than a few long ones: the paired ratios then compare
        # contenders measured within a second of each other.
        return cls(
            "full",
            10_000,
            300,
            200,
            30,
            ("bulk_10k", "bulk_100k"),
            7,
            20.0,
            300_000,
            MIXED_BULK_ROWS,
            200,
            10,
        )

    def workloads(self) -> list[Workload]:
        keys = ["pk_select", "insert_one", "transaction", "keyset_page", "typed_rows"]
        keys += self.bulk_workloads
        keys += ["mixed_pk", "mixed_page", "mixed_stream", "mixed_bulk"]
        keys += [f"concurrent_pk_{n}" for n in CONCURRENT_TASKS]
        keys += [f"concurrent_rw_{n}" for n in CONCURRENT_WRITERS]
        return [WORKLOADS[k] for k in [*keys, "auth_validate"]]


class Arguments:
    """Per-operation arguments, identical for every contender within a round.

    Reads draw from a generator seeded by the round, so every contender reads the same
    rows in the same order; writes take fresh ids from a shared counter, so no two
    operations (of any contender) collide.
    """

    def __init__(self, seed_rows: int, mixed_rows: int = 0) -> None:
        self.seed_rows = seed_rows
        self.mixed_rows = mixed_rows
        self._next_id = 10 * seed_rows + 1
        self.tokens: list[str] = []  # session tokens, once the auth workload made them

    def fresh_ids(self, count: int) -> Iterator[int]:
        start = self._next_id
        self._next_id += count
        return iter(range(start, start + count))

    def for_batch(self, workload: Workload, round_no: int, count: int) -> list[Any]:
        rng = random.Random(f"{workload.key}/{round_no}")
        if workload.key == "pk_select":
            return [rng.randint(1, self.seed_rows) for _ in range(count)]
        if workload.key == "keyset_page":
            return [rng.randint(0, self.seed_rows - PAGE_SIZE) for _ in range(count)]
        if workload.key == "typed_rows":
            return [rng.randint(0, self.seed_rows - TYPED_ROWS) for _ in range(count)]
        if workload.key == "insert_one":
            return [item_row(i) for i in self.fresh_ids(count)]
        if workload.key == "transaction":
            out: list[Transfer] = []
            for ledger_id in self.fresh_ids(count):
                source, dest = rng.sample(range(1, ACCOUNTS + 1), 2)
                out.append((ledger_id, source, dest, rng.randint(1, 100)))
            return out
        if workload.key == "auth_validate":
            return [rng.choice(self.tokens) for _ in range(count)]
        if workload.key == "mixed_pk":
            return [mixed_id(rng.randint(1, self.mixed_rows)) for _ in range(count)]
        if workload.key == "mixed_page":
            return [rng.randint(0, self.mixed_rows - PAGE_SIZE) for _ in range(count)]
        raise ValueError(f"no per-operation arguments for {workload.key}")

    @staticmethod
    def bulk_rows(workload: Workload) -> list[ItemRow]:
        """The rows of a bulk insert (the same for every run: the table is emptied before)."""
        return [item_row(i) for i in range(1, workload.rows + 1)]

    def per_task(self, workload: Workload, round_no: int, selects: int) -> list[list[Any]]:
        """What each task of a concurrent workload does, in order: the primary key of a
        row to select, or, one in four with ``writes``, ``(key, qty)``: an UPDATE writing
        the row's own ``qty`` (a real write that leaves the table as the checks expect)."""
        rng = random.Random(f"{workload.key}/{round_no}")
        tasks: list[list[Any]] = []
        for _ in range(workload.tasks):
            seqs = [rng.randint(1, self.mixed_rows) for _ in range(selects)]
            tasks.append(
                [
                    (mixed_id(seq), mixed_row(seq)[3])
                    if workload.writes and i % 4 == 3
                    else mixed_id(seq)
                    for i, seq in enumerate(seqs)
                ]
            )
        return tasks

    @staticmethod
    def mixed_bulk_rows(count: int) -> list[MixedRow]:
        return [mixed_row(seq) for seq in range(1, count + 1)]
