"""What a contender is: one way of running the workloads against one database."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar, Literal
from uuid import UUID

import dualdb
from benchmarks.mixed import MixedRow
from benchmarks.workloads import ItemRow, Transfer
from dualdb.dialects import DialectName

__all__ = ["Contender", "Target", "Unavailable"]

Backend = DialectName


class Unavailable(Exception):
    """This contender cannot run here (library not installed, API missing); the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    """The database under test: a ``postgresql://`` URL, or a SQLite file path.

    The URL holds a password: never print it.
    """

    backend: Backend
    location: str

    @property
    def dualdb_url(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.location}"
        return self.location

    def dualdb_settings(self, **options: Any) -> dualdb.Settings:
        """dualdb's defaults for this database, unaffected by the environment and ``.env``."""
        return dualdb.load_settings({}, env_file=None, url=self.dualdb_url, **options)

    @property
    def sqlalchemy_url(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite+aiosqlite:///{self.location}"
        return "postgresql+asyncpg://" + self.location.split("://", 1)[1]


class Contender(abc.ABC):
    """One library (or one style of using it) running the workloads.

    Each workload method performs exactly one operation and returns its rows, so the
    harness can check that every contender returns the same values.
    """

    key: ClassVar[str]
    label: ClassVar[str]
    #: The workloads this contender runs (by :class:`~benchmarks.workloads.Workload` key).
    workloads: ClassVar[frozenset[str]]
    #: ``"adhoc"`` for contenders that build each query per call (compared with each other).
    style: ClassVar[Literal["prebuilt", "adhoc"]] = "prebuilt"
    #: A raw-driver contender: a floor that ratios are taken against.
    floor: ClassVar[bool] = False
    #: Whether rows of the mixed table come back as the Python values dualdb returns
    #: (UUID, aware datetime, Decimal, bool, parsed JSON); if not, only their number and
    #: shape are checked.
    decodes: ClassVar[bool] = True

    def __init__(self, target: Target) -> None:
        self.target = target

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect (raise :class:`Unavailable` if this contender cannot run here)."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    def describe(self) -> str:
        """How this contender is configured, for the report."""
        return ""

    async def pk_select(self, item_id: int) -> Any:
        raise NotImplementedError

    async def insert_one(self, row: ItemRow) -> None:
        raise NotImplementedError

    async def transaction(self, transfer: Transfer) -> None:
        raise NotImplementedError

    async def keyset_page(self, after: int) -> Any:
        raise NotImplementedError

    async def typed_rows(self, after: int) -> Any:
        """The next ``TYPED_ROWS`` items after ``after``, each as a ``workloads.Item``."""
        raise NotImplementedError

    def prepare_bulk(self, rows: list[ItemRow]) -> Any:
        """Turn rows into this library's input for a bulk insert (not timed)."""
        return rows

    async def bulk_insert(self, prepared: Any) -> None:
        raise NotImplementedError

    async def mixed_pk(self, row_id: UUID) -> Any:
        """One row of the mixed table by its uuid primary key (None if there is none)."""
        raise NotImplementedError

    async def mixed_page(self, after: int) -> Any:
        """The ``PAGE_SIZE`` mixed rows after ``seq`` ``after``, in ``seq`` order."""
        raise NotImplementedError

    async def mixed_stream(self, _: None) -> tuple[int, Any]:
        """Stream the whole mixed table; return the number of rows and the last one."""
        raise NotImplementedError

    def prepare_mixed_bulk(self, rows: list[MixedRow]) -> Any:
        """This library's input for the mixed bulk insert (not timed): by default the
        Python values themselves, so encoding them is part of the timed insert."""
        return rows

    async def mixed_bulk(self, prepared: Any) -> None:
        raise NotImplementedError

    async def concurrent_select(self, row_id: UUID) -> Any:
        """``mixed_pk`` as one of many concurrent tasks runs it (over the default pool)."""
        return await self.mixed_pk(row_id)

    async def concurrent_update(self, row_id: UUID, qty: int) -> None:
        """``UPDATE … SET qty = :qty WHERE id = :id`` as one of many concurrent tasks runs
        it, autocommit (over the default pool)."""
        raise NotImplementedError
