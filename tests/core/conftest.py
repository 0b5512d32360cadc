"""Fixtures for the core API tests: a typed table on the test's fresh database."""

from __future__ import annotations

import pytest

import dualdb
from dualdb import Table

ITEMS = Table("items")


@pytest.fixture
async def items(db: dualdb.Database) -> dualdb.Database:
    """``db`` with an ``items`` table holding a column of every portable type."""
    t = db.dialect.column_type
    await db.execute(
        dualdb.raw(
            f"""CREATE TABLE items (
                id {t("uuid")} PRIMARY KEY NOT NULL,
                name {t("text")},
                qty {t("bigint")},
                flag {t("boolean")},
                at {t("timestamptz")},
                day {t("date")},
                doc {t("json")},
                price {t("decimal")},
                blob {t("bytes")},
                ratio {t("float")}
            )"""
        )
    )
    return db
