"""Backups and restores on both backends: consistent while writers insert, checked by
checksum and row counts, refusing to restore over tables unless forced."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest

import dualdb
from dualdb import Param, Query, Table

ITEMS = Table("items")
_INSERT = Query.into(ITEMS).columns(ITEMS.id, ITEMS.payload).insert(Param("id"), Param("payload"))
_ALL = Query.from_(ITEMS).select(ITEMS.id, ITEMS.payload).orderby(ITEMS.id)


def _payload(item: int) -> str:
    return hashlib.sha256(str(item).encode()).hexdigest() * 4


async def _make_items(db: dualdb.Database, count: int) -> None:
    await db.execute(
        dualdb.raw("CREATE TABLE items (id BIGINT PRIMARY KEY, payload TEXT NOT NULL)")
    )
    async with db.transaction() as tx:
        await tx.execute_many(_INSERT, [{"id": i, "payload": _payload(i)} for i in range(count)])


async def _rows(url: str) -> dict[int, str]:
    async with dualdb.connect(url) as db:
        return {row["id"]: row["payload"] for row in await db.fetch_all(_ALL)}


def _checksum(rows: dict[int, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(rows.items())).encode()).hexdigest()


async def test_a_backup_taken_while_writers_insert_restores_a_consistent_snapshot(
    migrated_database_url: str, restore_url: str, tmp_path: Path
) -> None:
    async with dualdb.connect(migrated_database_url) as db:
        await _make_items(db, 3000)
        committed_before = 3000
        next_id = 3000
        during = 0
        done = asyncio.Event()

        async def writer() -> None:
            nonlocal next_id, during
            while not done.is_set():
                item, next_id = next_id, next_id + 1
                await db.execute(_INSERT, id=item, payload=_payload(item))
                during += 1

        writers = [asyncio.create_task(writer()) for _ in range(3)]
        await asyncio.sleep(0)
        try:
            backup = await asyncio.to_thread(dualdb.backup_database, db.settings, folder=tmp_path)
        finally:
            done.set()
            await asyncio.gather(*writers)
    assert during > 0  # the writers really ran while the copy was made
    assert backup.path.is_file() and backup.manifest.is_file()
    assert backup.path.parent == tmp_path
    assert backup.row_counts["users"] == 0
    assert committed_before <= backup.row_counts["items"] <= next_id

    settings = dualdb.load_settings(url=restore_url, env_file=None)
    restored = dualdb.restore_database(backup.path, settings)
    assert not restored.replaced
    assert restored.row_counts == backup.row_counts
    source, copy = await _rows(migrated_database_url), await _rows(restore_url)
    assert len(copy) == backup.row_counts["items"]
    # Every restored row was committed in the source, with its content; nothing committed
    # before the backup began is missing; and the rows are one prefix of each writer's.
    assert _checksum(copy) == _checksum({item: source[item] for item in copy})
    assert set(range(committed_before)) <= set(copy)
    async with dualdb.connect(restore_url) as db:
        assert await db.fetch_val(dualdb.raw("SELECT count(*) FROM _yoyo_migration")) > 0


async def test_restore_refuses_a_database_with_tables_and_force_replaces_them(
    migrated_database_url: str, tmp_path: Path
) -> None:
    async with dualdb.connect(migrated_database_url) as db:
        await _make_items(db, 10)
        settings = db.settings
    backup = dualdb.backup_database(settings, tmp_path / "copy.bak")
    async with dualdb.connect(migrated_database_url) as db:
        await db.execute(_INSERT, id=99, payload="later")
    with pytest.raises(dualdb.errors.TargetNotEmpty, match="--force"):
        dualdb.restore_database(backup.path, settings)
    assert len(await _rows(migrated_database_url)) == 11  # untouched
    restored = dualdb.restore_database(backup.path, settings, force=True)
    assert restored.replaced
    assert await _rows(migrated_database_url) == {i: _payload(i) for i in range(10)}


async def test_a_changed_backup_file_is_refused_by_its_checksum(
    migrated_database_url: str, restore_url: str, tmp_path: Path
) -> None:
    settings = dualdb.load_settings(url=migrated_database_url, env_file=None)
    backup = dualdb.backup_database(settings, folder=tmp_path)
    with backup.path.open("r+b") as file:
        file.seek(backup.size // 2)
        file.write(b"\x00damaged\x00")
    target = dualdb.load_settings(url=restore_url, env_file=None)
    with pytest.raises(dualdb.errors.BackupError, match="checksum"):
        dualdb.restore_database(backup.path, target)


def test_an_existing_output_file_is_never_overwritten(
    migrated_database_url: str, tmp_path: Path
) -> None:
    settings = dualdb.load_settings(url=migrated_database_url, env_file=None)
    taken = tmp_path / "taken.bak"
    taken.write_text("keep me")
    with pytest.raises(dualdb.errors.BackupError, match="exists"):
        dualdb.backup_database(settings, taken)
    assert taken.read_text() == "keep me"
    first = dualdb.backup_database(settings, folder=tmp_path)
    second = dualdb.backup_database(settings, folder=tmp_path)
    assert first.path != second.path  # same second, still two files
