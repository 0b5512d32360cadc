"""``db.replica`` as application code sees it, on every backend: reads run (on SQLite and
on a PostgreSQL without replicas, on the database itself) and writes are refused; and the
replica settings (``DATABASE_REPLICA_URLS``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dualdb
from dualdb import Param, Query, Table, raw
from dualdb.errors import ConfigurationError, QueryError
from dualdb.settings import load_settings, split_replica_urls

NOTES = Table("notes")
ALL = Query.from_(NOTES).select(NOTES.id, NOTES.body).orderby(NOTES.id)
ONE = Query.from_(NOTES).select(NOTES.body).where(NOTES.id == Param("id"))
ADD = Query.into(NOTES).columns(NOTES.id, NOTES.body).insert(Param("id"), Param("body"))


async def _notes(db: dualdb.Database) -> None:
    await db.execute(raw("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
    await db.execute(ADD, id=1, body="one")
    await db.execute(ADD, id=2, body="two")


async def test_the_same_replica_reads_run_on_every_backend(db: dualdb.Database) -> None:
    await _notes(db)
    reader: dualdb.Queryable = db.replica
    assert [tuple(r) for r in await reader.fetch_all(ALL)] == [(1, "one"), (2, "two")]
    assert await reader.fetch_val(ONE, id=2) == "two"
    row = await reader.fetch_one(ONE, id=1)
    assert row is not None and row["body"] == "one"
    assert [r["id"] async for r in reader.iterate(ALL, batch_size=1)] == [1, 2]
    async with db.replica.transaction() as tx:
        assert await tx.fetch_val(ONE, id=1) == "one"
    stats = db.replica.stats()
    assert stats.replica_reads == 0 and stats.replicas == ()
    assert stats.primary_reads == {"none": 5}  # (the transaction is routed once)


async def test_writes_through_the_replica_reader_are_refused_before_reaching_a_server(
    db: dualdb.Database,
) -> None:
    await _notes(db)
    with pytest.raises(QueryError, match="reads only"):
        await db.replica.execute(ADD, id=3, body="three")
    with pytest.raises(QueryError, match="reads only"):
        await db.replica.fetch_one(raw("DELETE FROM notes WHERE id = 1 RETURNING id"))
    with pytest.raises(QueryError, match="reads only"):
        await db.replica.execute_many(ADD, [{"id": 4, "body": "four"}])
    with pytest.raises(QueryError, match="reads only"):
        db.replica.iterate(raw("UPDATE notes SET body = 'x' RETURNING id"))
    with pytest.raises(QueryError, match="reads only"):
        db.replica.transaction(readonly=False)
    assert await db.fetch_val(Query.from_(NOTES).select(dualdb.fn.Count("*"))) == 2


async def test_without_replicas_a_hook_sees_replica_reads_as_the_databases_own(
    db: dualdb.Database,
) -> None:
    await _notes(db)
    seen: list[tuple[str, tuple[str, int] | None, str | None]] = []

    def hook(event: dualdb.QueryEvent) -> Callable[[dualdb.QueryOutcome], None]:
        def finish(outcome: dualdb.QueryOutcome) -> None:
            error = type(outcome.error).__name__ if outcome.error is not None else None
            seen.append((event.operation, event.server, error))

        return finish

    db.add_query_hook(hook)
    await db.fetch_val(ONE, id=1)
    (own,) = seen
    seen.clear()
    await db.replica.fetch_val(ONE, id=1)
    assert [r["id"] async for r in db.replica.iterate(ALL)] == [1, 2]
    with pytest.raises(QueryError):
        await db.replica.execute(ADD, id=3, body="three")
    server = own[1]
    assert seen == [
        ("fetch_val", server, None),
        ("iterate", server, None),
        ("execute", server, "QueryError"),  # refused, before any server: still reported
    ]


async def test_replica_urls_with_sqlite_are_a_configuration_error(tmp_path: object) -> None:
    with pytest.raises(ConfigurationError, match="DATABASE_REPLICA_URLS") as caught:
        await dualdb.connect(
            f"sqlite:///{tmp_path}/x.db", replica_urls=["postgresql://u:secret@r1/app"]
        )
    assert "secret" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="replicas"):
        load_settings(
            {"DATABASE_URL": "sqlite:///x.db", "DATABASE_REPLICA_URLS": "sqlite:///y.db"},
            env_file=None,
        )


def test_replica_settings_inherit_the_primarys_credentials_but_not_its_session_attrs() -> None:
    settings = load_settings(
        {
            "DATABASE_URL": "postgresql://app:pw1@p1:5432,p2:5432/shop?"
            "target_session_attrs=read-write&application_name=web",
            "DATABASE_REPLICA_URLS": "postgresql://r1:5433/shop, "
            "postgresql://ro:pw2@r2a,r2b:6432/shop?sslmode=require",
        },
        env_file=None,
    )
    first, second = settings.replica_settings()
    assert (first.user, first.password, first.database) == ("app", "pw1", "shop")
    assert first.endpoints() == (("r1", 5433),)
    assert dict(first.connect_options).get("target_session_attrs") is None
    assert ("application_name", "web") in first.url_options
    assert first.pool_min_size == 0  # a replica that is down does not stop the start
    assert (second.user, second.password, second.sslmode) == ("ro", "pw2", "require")
    assert second.endpoints() == (("r2a", 5432), ("r2b", 6432))  # (as libpq reads it)
    shown = repr(settings)
    assert "pw1" not in shown and "pw2" not in shown
    assert "r2a:5432,r2b:6432" in shown


def test_a_replica_url_that_is_not_postgresql_is_refused_without_quoting_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(
            {"DATABASE_URL": "postgresql://u@p/app", "DATABASE_REPLICA_URLS": "mysql://u:pw@r/a"},
            env_file=None,
        )
    assert "pw" not in str(caught.value)
    assert caught.value.variable == "DATABASE_REPLICA_URLS[0]"


def test_replica_lag_and_wait_settings_are_read_and_checked() -> None:
    env = {"DATABASE_URL": "postgresql://u@p/app"}
    settings = load_settings(
        {**env, "DB_REPLICA_MAX_LAG": "0", "DB_REPLICA_WAIT_TIMEOUT": "2"}, env_file=None
    )
    assert (settings.replica_max_lag, settings.replica_wait_timeout) == (None, 2.0)
    with pytest.raises(ConfigurationError, match="DB_REPLICA_WAIT_TIMEOUT"):
        load_settings({**env, "DB_REPLICA_WAIT_TIMEOUT": "soon"}, env_file=None)
    with pytest.raises(ConfigurationError, match="DB_REPLICA_MAX_LAG"):
        settings.with_options(replica_max_lag=-1.0)


_HOST = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)
_URL = st.builds(
    lambda hosts, db: f"postgresql://u:p@{','.join(hosts)}/{db}",
    st.lists(
        st.tuples(_HOST, st.integers(1, 65535)).map(lambda h: f"{h[0]}:{h[1]}"),
        min_size=1,
        max_size=3,
    ),
    _HOST,
)


@given(urls=st.lists(_URL, min_size=1, max_size=4), space=st.sampled_from(["", " ", "  "]))
def test_replica_urls_split_only_between_urls_never_inside_a_host_list(
    urls: list[str], space: str
) -> None:
    assert split_replica_urls(("," + space).join(urls)) == tuple(urls)
