"""A PostgreSQL primary and a streaming replica for the replication tests.

``start_pair()`` starts a small primary of its own (not the session's server: the
failover test stops its primary) with the harness of tests/_pgcluster.py, makes a
replica of it with ``pg_basebackup -R`` (run as the server user, as initdb is), starts it
on a free port and waits until it streams. The replica can be stopped, promoted
(``pg_ctl promote``) and asked how far it has replayed. Both are small (16 MB of shared
buffers, durability off except where a test asks for synchronous replication) so that a
pair starts in a few seconds on a 2-core machine.

The default ``pg_hba.conf`` of initdb already lets local connections replicate (``local
replication all trust``), and PostgreSQL 15's defaults (``wal_level=replica``,
``max_wal_senders=10``) allow a standby, so the session's main cluster needs nothing
added for this.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from _pgcluster import PASSWORD, PgClusterError, _server_user, ensure_bindir
from dualdb.testing._cluster import (
    SUPERUSER,
    Cluster,
    PostgresServer,
    start_postgres,
    with_database,
)

__all__ = ["ReplicaPair", "start_pair"]

#: Settings of both servers: small, and quick to ship WAL (the WAL writer flushes what
#: asynchronous commits wrote every 10 ms, and the replica replays only flushed WAL).
SMALL_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "full_page_writes": "on",  # pg_basebackup needs them
    "synchronous_commit": "off",
    "shared_buffers": "16MB",
    "max_connections": "60",
    "wal_level": "replica",
    "max_wal_senders": "4",
    "wal_writer_delay": "10ms",
    "hot_standby": "on",
    "hot_standby_feedback": "on",
    "wal_receiver_status_interval": "1s",
}

_STREAM_TIMEOUT = 60.0


@dataclass
class ReplicaPair:
    """A primary and its replica; ``stop()`` both (an atexit hook and a watchdog do too)."""

    primary: PostgresServer
    replica: PostgresServer
    _replica_cluster: Cluster = field(repr=False)
    database: str = "app"

    @property
    def primary_url(self) -> str:
        """The primary's URL for ``database`` (holds the password: do not print it)."""
        return with_database(self.primary.url, self.database)

    @property
    def replica_url(self) -> str:
        return with_database(self.replica.url, self.database)

    @property
    def replica_port(self) -> int:
        return self._replica_cluster.port

    @property
    def primary_port(self) -> int:
        assert self.primary._cluster is not None
        return self.primary._cluster.port

    def replay_lsn(self) -> int:
        """How far the replica has replayed the primary's WAL (bytes)."""
        return int(self.replica.execute("SELECT pg_last_wal_replay_lsn() - '0/0'")[0][0])

    def primary_lsn(self) -> int:
        return int(self.primary.execute("SELECT pg_current_wal_insert_lsn() - '0/0'")[0][0])

    def stop_replica(self) -> None:
        """Stop the replica at once (its connections are cut); ``start_replica`` again."""
        _pg_ctl(self._replica_cluster, "stop", "-w", "-m", "immediate")

    def start_replica(self) -> None:
        cluster = self._replica_cluster
        _pg_ctl(
            cluster, "start", "-w", "-t", "60", "-l", str(cluster.logfile),
            "-o", cluster._server_options(),
        )  # fmt: skip

    def stop_primary(self) -> None:
        """Crash-stop the primary (``pg_ctl stop -m immediate``): as a failed server."""
        assert self.primary._cluster is not None
        _pg_ctl(self.primary._cluster, "stop", "-w", "-m", "immediate")

    def promote(self) -> None:
        """``pg_ctl promote`` the replica and wait until it takes writes."""
        _pg_ctl(self._replica_cluster, "promote", "-w", "-t", "60")

    def stop(self) -> None:
        try:
            self.replica.stop()
        finally:
            self.primary.stop()


def _pg_ctl(cluster: Cluster, *args: str) -> None:
    proc = cluster._run("pg_ctl", args[0], "-D", str(cluster.datadir), *args[1:])
    if proc.returncode != 0:
        raise PgClusterError(
            f"pg_ctl {args[0]} failed: {cluster.redact(proc.stdout + proc.stderr).strip()}"
            f"{cluster.log_tail()}"
        )


def start_pair(*, synchronous: bool = False) -> ReplicaPair:
    """Start a primary, make and start its streaming replica, create database ``app``
    on the primary (the replica receives it) and return the pair once the replica
    streams. ``synchronous``: a commit returns only once the replica has the WAL
    (``synchronous_standby_names='*'``), so that a failover loses no committed work."""
    bindir = ensure_bindir()
    user = _server_user()
    settings = dict(SMALL_SETTINGS)
    if synchronous:
        settings["synchronous_commit"] = "on"
    primary = start_postgres(password=PASSWORD, settings=settings, bindir=bindir, user=user)
    try:
        primary.create_database("app")
        assert primary._cluster is not None
        source = primary._cluster
        standby = Cluster(bindir, user, password=PASSWORD, settings=settings)
        try:
            proc = standby._run(
                "pg_basebackup",
                "-D", str(standby.datadir), "-R", "-X", "stream", "-c", "fast", "--no-sync",
                "-h", str(source.base), "-p", str(source.port), "-U", SUPERUSER,
                "-d", "application_name=dualdb_replica",
            )  # fmt: skip
            if proc.returncode != 0:
                raise PgClusterError(
                    f"pg_basebackup failed: {standby.redact(proc.stdout + proc.stderr).strip()}"
                )
            standby.start()
        except BaseException:
            standby.destroy()
            raise
        replica = PostgresServer(standby.url, cluster=standby)
        pair = ReplicaPair(primary, replica, standby)
    except BaseException:
        primary.stop()
        raise
    try:
        _wait_streaming(pair)
        if synchronous:
            # Only now: with it set, the CREATE DATABASE above would have waited for a
            # standby that did not exist yet.
            primary.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
            primary.execute("SELECT pg_reload_conf()")
    except BaseException:
        pair.stop()
        raise
    return pair


def _wait_streaming(pair: ReplicaPair) -> None:
    deadline = time.monotonic() + _STREAM_TIMEOUT
    while True:
        rows = pair.primary.execute(
            "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
        )
        if rows[0][0] >= 1 and pair.replay_lsn() >= 0:
            return
        if time.monotonic() > deadline:
            raise PgClusterError(
                f"the replica did not stream within {_STREAM_TIMEOUT:.0f} s"
                f"{pair._replica_cluster.log_tail()}"
            )
        time.sleep(0.05)
