"""One backend's run: set up the database, run every workload through every contender.

Each workload is warmed up, its results checked against the raw driver's, then measured in
rounds (see :mod:`benchmarks.harness`). Writes are checked afterwards by counting rows.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import dualdb
from benchmarks.contenders import Contender, Target, Unavailable, available
from benchmarks.harness import (
    Sample,
    Series,
    rotated,
    summarize,
    time_call,
    time_concurrent,
    time_ops,
    time_stream,
)
from benchmarks.mixed import (
    MIXED_BULK_TABLE,
    MIXED_COLUMNS,
    MIXED_TABLE,
    mixed_ddl,
    mixed_id,
    mixed_row,
)
from benchmarks.workloads import (
    ACCOUNTS,
    BULK_TABLE,
    COLUMNS,
    MIXED,
    PAGE_SIZE,
    SCHEMA,
    TABLES,
    WORKLOADS,
    Arguments,
    Plan,
    Workload,
    item_row,
)

__all__ = ["Runner"]

WORKLOADS_MIXED_PK = WORKLOADS["mixed_pk"]

INITIAL_BALANCE = 1_000_000
#: Rows per ``execute_many`` while seeding the mixed table (bounds the setup's memory).
SEED_CHUNK = 10_000
#: Rows of the untimed bulk insert each contender makes before the timed ones.
BULK_WARMUP_ROWS = 100


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _values(row: Any) -> tuple[Any, ...]:
    # databases' rows iterate over their keys; every other row type over its values.
    return tuple(row.values()) if hasattr(row, "values") else tuple(row)


def _comparable(workload: Workload, result: Any) -> Any:
    """A workload's result in a form that compares equal across contenders."""
    if workload.key == "keyset_page":
        return [_values(row) for row in result]
    if workload.key == "pk_select" and result is not None:
        return _values(result)
    return result  # None for writes; a ValidSession (a dataclass) for auth


class Runner:
    """Runs a :class:`Plan` on one :class:`Target` and returns the figures as plain data."""

    def __init__(self, target: Target, plan: Plan, only: Sequence[str] = ()) -> None:
        self.target = target
        self.plan = plan
        self.only = set(only)
        self.arguments = Arguments(plan.seed_rows, plan.mixed_rows)
        self.contenders: list[Contender] = []
        self.unavailable: dict[str, str] = {}
        self.series: list[Series] = []
        self.auth: dict[str, Any] = {"ran": False, "reason": "not in this run (--only)"}
        self._admin: dualdb.Database

    # ------------------------------------------------------------------------ setup

    async def _create_schema(self) -> None:
        admin = self._admin
        for table in (*TABLES, MIXED_TABLE, MIXED_BULK_TABLE):
            await admin.execute(f"DROP TABLE IF EXISTS {table}")
        for ddl in SCHEMA:
            await admin.execute(ddl)
        items = dualdb.Table("bench_items")
        insert = dualdb.Query.into(items).columns(*COLUMNS).insert(*map(dualdb.Param, COLUMNS))
        rows = [item_row(i) for i in range(1, self.plan.seed_rows + 1)]
        await admin.execute_many(insert, [dict(zip(COLUMNS, r, strict=True)) for r in rows])
        accounts = dualdb.Table("bench_accounts")
        seed = dualdb.Query.into(accounts).columns("id", "balance")
        seed = seed.insert(dualdb.Param("id"), dualdb.Param("balance"))
        await admin.execute_many(
            seed, [{"id": i, "balance": INITIAL_BALANCE} for i in range(1, ACCOUNTS + 1)]
        )
        if self._wanted(MIXED):
            await self._seed_mixed()
        await admin.execute("ANALYZE")

    def _wanted(self, keys: frozenset[str]) -> bool:
        return any(w.key in keys for w in self.plan.workloads() if self._runs(w))

    def _runs(self, workload: Workload) -> bool:
        return not self.only or workload.key in self.only

    async def _seed_mixed(self) -> None:
        for query in mixed_ddl():
            await self._admin.execute(query)
        table = dualdb.Table(MIXED_TABLE)
        insert = dualdb.Query.into(table).columns(*MIXED_COLUMNS)
        insert = insert.insert(*map(dualdb.Param, MIXED_COLUMNS))
        for start in range(1, self.plan.mixed_rows + 1, SEED_CHUNK):
            stop = min(start + SEED_CHUNK, self.plan.mixed_rows + 1)
            rows = [dict(zip(MIXED_COLUMNS, mixed_row(i), strict=True)) for i in range(start, stop)]
            await self._admin.execute_many(insert, rows)

    async def _open_contenders(self) -> None:
        classes, missing = available(self.target.backend)
        self.unavailable.update(missing)
        for cls in classes:
            contender = cls(self.target)
            try:
                await contender.open()
            except Unavailable as exc:
                self.unavailable[cls.label] = str(exc)
                continue
            self.contenders.append(contender)

    async def _clear_bulk_table(self, table: str) -> None:
        if self.target.backend == "postgresql":
            await self._admin.execute(f"TRUNCATE {table}")
        else:
            await self._admin.execute(f"DELETE FROM {table}")
            await self._checkpoint()

    async def _checkpoint(self) -> None:
        """On SQLite, copy the WAL into the database file and empty it (untimed).

        SQLite checkpoints whenever a commit leaves the WAL over 1,000 pages, and that
        commit pays for it: one operation in a few hundred takes milliseconds, landing on
        whichever contender crossed the line. A batch of writes adds fewer pages than that,
        so starting every batch from an empty WAL charges each contender only its own writes.
        """
        if self.target.backend == "sqlite":
            await self._admin.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def _count(self, table: str) -> int:
        return int(await self._admin.fetch_val(f"SELECT count(*) FROM {table}"))

    # ------------------------------------------------------------------------ run

    async def run(self) -> dict[str, Any]:
        """Run every workload of the plan; return the report data for this backend."""
        # The setup's large inserts are slow queries by design: no warning for them.
        admin_settings = self.target.dualdb_settings(slow_query_threshold=None)
        async with dualdb.connect(settings=admin_settings) as admin:
            self._admin = admin
            server = await admin.health()
            settings = await self._server_settings()
            await self._create_schema()
            await self._open_contenders()
            try:
                for workload in self.plan.workloads():
                    if not self._runs(workload):
                        continue
                    if workload.kind in ("bulk", "mixed_bulk"):
                        await self._run_bulk(workload)
                    elif workload.kind == "stream":
                        await self._run_stream(workload)
                    elif workload.kind == "concurrent":
                        await self._run_concurrent(workload)
                    elif workload.kind == "auth":
                        await self._run_auth(workload)
                    else:
                        await self._run_statements(workload, self._runners(workload))
            finally:
                for contender in self.contenders:
                    await contender.close()
        report = self._report(server.server_version)
        report["settings"] = settings
        return report

    async def _server_settings(self) -> dict[str, str]:
        """The settings that decide write speed, for the report."""
        if self.target.backend == "postgresql":
            names = ("fsync", "synchronous_commit", "full_page_writes", "shared_buffers")
            return {n: str(await self._admin.fetch_val(f"SHOW {n}")) for n in names}
        # dualdb's (and every contender's) per-connection pragmas; WAL is set on the file.
        return {"journal_mode": "wal", "synchronous": "NORMAL"}

    def _runners(self, workload: Workload) -> list[Contender]:
        return [c for c in self.contenders if workload.key in c.workloads]

    async def _run_auth(self, workload: Workload) -> None:
        """``validate_session`` if ``dualdb.auth`` is there; otherwise say why not."""
        try:
            from benchmarks.contenders import with_auth

            fixture = await with_auth.prepare_auth(
                self.target, self._admin, sessions=self.plan.seed_rows // 10
            )
        except Unavailable as exc:
            self.auth = {"ran": False, "reason": str(exc)}
            _progress(f"  {workload.title}: not run ({exc})")
            return
        self.arguments.tokens = fixture.tokens
        runners: list[Contender] = [
            with_auth.AuthRaw(self.target),
            with_auth.AuthDualdb(self.target),
        ]
        try:
            for contender in runners:
                await contender.open()
            await self._run_statements(workload, runners)
        finally:
            for contender in runners:
                await contender.close()
            await with_auth.remove_auth(self._admin, fixture)
        self.auth = {"ran": True, "reason": None, "sessions": len(fixture.tokens)}

    async def _run_statements(self, workload: Workload, runners: list[Contender]) -> None:
        series = {c.key: Series(workload.key, c.key) for c in runners}
        self.series.extend(series.values())
        _progress(f"  {workload.title}: warming up {len(runners)} contenders")
        expected: Any = None
        for contender in runners:
            op = getattr(contender, workload.key)
            warmup = self.arguments.for_batch(workload, -1, self.plan.warmup_ops)
            for argument in warmup:
                result = await op(argument)
            if workload.kind == "mixed":
                self._check_mixed(contender, workload, result, warmup[-1])
                continue
            got = _comparable(workload, result)
            if expected is None:
                expected = got
            elif got != expected:
                raise AssertionError(
                    f"{contender.label} returned {got!r:.200} for {workload.key}; "
                    f"the raw driver {expected!r:.200}"
                )
        writes_before = await self._write_count(workload)
        for round_no in range(self.plan.rounds):
            for contender in rotated(runners, round_no):
                arguments = self.arguments.for_batch(workload, round_no, self.plan.batch_ops)
                await self._checkpoint()
                sample = await time_ops(getattr(contender, workload.key), arguments)
                series[contender.key].samples.append(sample)
        await self._check_writes(workload, writes_before, len(runners))
        _progress(f"  {workload.title}: done")

    async def _write_count(self, workload: Workload) -> int:
        if workload.key == "insert_one":
            return await self._count("bench_inserts")
        if workload.key == "transaction":
            return await self._count("bench_ledger")
        return 0

    async def _check_writes(self, workload: Workload, before: int, contenders: int) -> None:
        expected = self.plan.rounds * self.plan.batch_ops * contenders
        if workload.key in ("insert_one", "transaction"):
            done = await self._write_count(workload) - before
            if done != expected:
                raise AssertionError(f"{workload.key}: {done} rows written, expected {expected}")
        if workload.key == "transaction":
            total = await self._admin.fetch_val("SELECT sum(balance) FROM bench_accounts")
            if int(total) != ACCOUNTS * INITIAL_BALANCE:
                raise AssertionError(f"transfers did not conserve the balance: {total}")

    def _check_mixed(self, contender: Contender, workload: Workload, result: Any, arg: Any) -> None:
        """Rows of the mixed table as written (or, undecoded, as many and as wide)."""
        if workload.key == "mixed_stream":
            count, last = result
            if count != self.plan.mixed_rows:
                raise AssertionError(f"{contender.label} streamed {count} mixed rows")
            rows = [last]
        elif workload.key == "mixed_page":
            rows = list(result)
            if len(rows) != PAGE_SIZE or _values(rows[0])[1] != arg + 1:
                raise AssertionError(f"{contender.label} returned a wrong page after {arg}")
        else:
            rows = [result]
            if result is None or str(_values(result)[0]) != str(arg):
                raise AssertionError(f"{contender.label} returned {result!r:.200} for {arg}")
        for row in rows:
            values = _values(row)
            expected = mixed_row(values[1])
            if (values != expected) if contender.decodes else (len(values) != len(expected)):
                raise AssertionError(
                    f"{contender.label} returned {values!r:.300} on {workload.key}; "
                    f"written: {expected!r:.300}"
                )

    async def _run_bulk(self, workload: Workload) -> None:
        runners = self._runners(workload)
        series = {c.key: Series(workload.key, c.key) for c in runners}
        self.series.extend(series.values())
        mixed = workload.kind == "mixed_bulk"
        table = MIXED_BULK_TABLE if mixed else BULK_TABLE
        if mixed:
            mixed_rows = Arguments.mixed_bulk_rows(self.plan.mixed_bulk_rows)
            rows: list[Any] = mixed_rows
            prepared = {c.key: c.prepare_mixed_bulk(mixed_rows) for c in runners}
        else:
            rows = self.arguments.bulk_rows(workload)
            prepared = {c.key: c.prepare_bulk(rows) for c in runners}
        spent = dict.fromkeys(series, 0.0)
        _progress(f"  {workload.title}: {len(runners)} contenders")
        for contender in runners:  # untimed: the first call's statements and lookups
            await self._clear_bulk_table(table)
            op = contender.mixed_bulk if mixed else contender.bulk_insert
            await op(prepared[contender.key][:BULK_WARMUP_ROWS])
        for round_no in range(self.plan.bulk_rounds):
            for contender in rotated(runners, round_no):
                sample: Sample | None = None
                if round_no == 0 or spent[contender.key] < self.plan.bulk_budget_seconds:
                    await self._clear_bulk_table(table)
                    data = prepared[contender.key]
                    op = contender.mixed_bulk if mixed else contender.bulk_insert
                    sample = await time_call(op, data, len(rows))
                    spent[contender.key] += sample.wall_ns / 1e9
                    count = await self._count(table)
                    if count != len(rows):
                        raise AssertionError(
                            f"{contender.label} bulk-inserted {count} rows, expected {len(rows)}"
                        )
                    if mixed:
                        await self._check_bulk_row(contender, len(rows))
                series[contender.key].samples.append(sample)
        _progress(f"  {workload.title}: done")

    async def _check_bulk_row(self, contender: Contender, rows: int) -> None:
        """A row bulk-inserted by ``contender`` reads back through dualdb as it was given."""
        table = dualdb.Table(MIXED_BULK_TABLE)
        query = dualdb.Query.from_(table).select(*(table.field(c) for c in MIXED_COLUMNS))
        seq = rows // 2 + 1
        got = await self._admin.fetch_one(query.where(table.id == mixed_id(seq)))
        if got is None or tuple(got) != mixed_row(seq):
            raise AssertionError(f"{contender.label} stored {got!r:.300} for {mixed_row(seq)!r}")

    async def _run_stream(self, workload: Workload) -> None:
        """Each contender streams the whole mixed table once per round (within a budget)."""
        runners = self._runners(workload)
        series = {c.key: Series(workload.key, c.key) for c in runners}
        self.series.extend(series.values())
        spent = dict.fromkeys(series, 0.0)
        _progress(f"  {workload.title}: {len(runners)} contenders, {self.plan.mixed_rows:,} rows")
        if runners:  # warms the OS's and the server's caches, for all alike
            await runners[0].mixed_stream(None)
        for round_no in range(self.plan.bulk_rounds):
            for contender in rotated(runners, round_no):
                sample: Sample | None = None
                if round_no == 0 or spent[contender.key] < self.plan.bulk_budget_seconds:
                    sample, growth, result = await time_stream(contender.mixed_stream)
                    spent[contender.key] += sample.wall_ns / 1e9
                    series[contender.key].peak_rss_kib.append(growth)
                    self._check_mixed(contender, workload, result, None)
                series[contender.key].samples.append(sample)
        _progress(f"  {workload.title}: done")

    async def _run_concurrent(self, workload: Workload) -> None:
        """``tasks`` tasks at once, each running its share of pk selects (within a budget)."""
        runners = self._runners(workload)
        series = {c.key: Series(workload.key, c.key) for c in runners}
        self.series.extend(series.values())
        spent = dict.fromkeys(series, 0.0)
        selects = self.plan.selects_per_task
        _progress(f"  {workload.title}: {len(runners)} contenders, {selects} selects per task")
        for contender in runners:  # grows each pool to what the tasks take
            warmup = self.arguments.per_task(workload, -1, min(10, selects))
            await time_concurrent(_concurrent_operation(contender, workload), warmup)
            row_id = warmup[0][0]
            row = await contender.concurrent_select(row_id)
            self._check_mixed(contender, WORKLOADS_MIXED_PK, row, row_id)
        for round_no in range(self.plan.concurrent_rounds):
            batches = self.arguments.per_task(workload, round_no, selects)
            for contender in rotated(runners, round_no):
                sample: Sample | None = None
                if round_no == 0 or spent[contender.key] < self.plan.bulk_budget_seconds:
                    sample = await time_concurrent(
                        _concurrent_operation(contender, workload), batches
                    )
                    spent[contender.key] += sample.wall_ns / 1e9
                series[contender.key].samples.append(sample)
        _progress(f"  {workload.title}: done")

    # ------------------------------------------------------------------------ report

    def _report(self, server_version: str) -> dict[str, Any]:
        by_key = {(s.workload, s.contender): s for s in self.series}
        floors = {c.key for c in self.contenders if c.floor}
        results = []
        for series in self.series:
            contender = next(c for c in self.contenders if c.key == series.contender)
            peer = "sqlalchemy_adhoc" if contender.style == "adhoc" else "sqlalchemy"
            summary = summarize(
                series,
                by_key.get((series.workload, "raw")),
                by_key.get((series.workload, peer)),
                by_key.get((series.workload, "raw_decoded")),
                [
                    s
                    for s in self.series
                    if s.workload == series.workload
                    and s.contender in floors
                    and s.contender != series.contender
                ],
            )
            results.append(
                {
                    "workload": series.workload,
                    "contender": series.contender,
                    "summary": None if summary is None else asdict(summary),
                    "samples": [
                        None if s is None else {"units": s.units, "seconds": s.wall_ns / 1e9}
                        for s in series.samples
                    ],
                }
            )
        return {
            "server": server_version,
            "contenders": {
                c.key: {"label": c.label, "style": c.style, "config": c.describe()}
                for c in self.contenders
            },
            "unavailable": self.unavailable,
            "auth": self.auth,
            "results": results,
        }


def _concurrent_operation(contender: Contender, workload: Workload) -> Callable[[Any], Any]:
    """What one task of a concurrent workload runs per argument (see ``per_task``)."""
    if not workload.writes:
        return contender.concurrent_select

    async def select_or_update(argument: Any) -> Any:
        if isinstance(argument, tuple):
            row_id, qty = argument
            return await contender.concurrent_update(row_id, qty)
        return await contender.concurrent_select(argument)

    return select_or_update
