"""The one row interface of dualdb, on both backends.

A row is read by column name (``row["email"]``) or position (``row[0]``), has
``keys()``, ``values()``, ``items()``, ``get()``, converts with ``dict(row)`` and compares
equal to the tuple of its values. On PostgreSQL rows are asyncpg's own C ``Record``
(which already behaves this way, at no cost per row); on SQLite they are instances of a
tuple subclass made once per result shape. ``isinstance(row, dualdb.Record)`` holds for both
(the PostgreSQL dialect registers asyncpg's class when it loads).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import Any, ClassVar

__all__ = ["Record", "record_class"]


class _RecordMeta(abc.ABCMeta):
    pass


class Record(tuple[Any, ...], metaclass=_RecordMeta):
    """A result row; see the module docstring for the interface."""

    __slots__ = ()
    _keys: ClassVar[tuple[str, ...]] = ()
    _index: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:
        if type(key) is str:
            try:
                key = self._index[key]
            except KeyError:
                raise KeyError(key) from None
        return tuple.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        index = self._index.get(key)
        return default if index is None else tuple.__getitem__(self, index)

    def keys(self) -> Iterator[str]:
        return iter(self._keys)

    def values(self) -> Iterator[Any]:
        return tuple.__iter__(self)

    def items(self) -> Iterator[tuple[str, Any]]:
        return zip(self._keys, tuple.__iter__(self), strict=True)

    def __contains__(self, key: object) -> bool:
        # Like asyncpg.Record: ``in`` tests column names.
        return key in self._index

    def __repr__(self) -> str:
        fields = " ".join(f"{k}={v!r}" for k, v in self.items())
        return f"<Record {fields}>"


_classes: dict[tuple[str, ...], type[Record]] = {}


def record_class(names: tuple[str, ...]) -> type[Record]:
    """The Record subclass for rows with these column names (made once, then reused)."""
    cls = _classes.get(names)
    if cls is None:
        index: dict[str, int] = {}
        for position, name in enumerate(names):
            index.setdefault(name, position)  # first wins, as in asyncpg
        cls = type("Record", (Record,), {"__slots__": (), "_keys": names, "_index": index})
        if len(_classes) < 4096:
            _classes[names] = cls
    return cls
