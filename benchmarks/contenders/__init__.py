"""The contenders, loaded on demand: optional libraries may be missing."""

from __future__ import annotations

import importlib

from benchmarks.contenders.base import Backend, Contender, Target, Unavailable

__all__ = ["Contender", "Target", "Unavailable", "available"]

#: (module, class) per contender, in report order; the first is the raw-driver baseline.
_REGISTRY: dict[str, tuple[tuple[str, str], ...]] = {
    "postgresql": (
        ("raw_asyncpg", "RawAsyncpg"),
        ("raw_asyncpg", "RawAsyncpgDecoded"),
        ("raw_asyncpg", "RawAsyncpgExecutemany"),
        ("raw_asyncpg", "RawAsyncpgConnection"),
        ("with_dualdb", "DualdbPrebuilt"),
        ("with_dualdb", "DualdbAdhoc"),
        ("with_sqlalchemy", "SqlalchemyCore"),
        ("with_sqlalchemy", "SqlalchemyAdhoc"),
        ("with_sqlalchemy", "SqlalchemyDefaults"),
        ("with_databases", "EncodeDatabases"),
    ),
    "sqlite": (
        ("raw_aiosqlite", "RawAiosqlite"),
        ("raw_aiosqlite", "RawAiosqliteDecoded"),
        ("raw_aiosqlite", "RawAiosqliteValues"),
        ("with_dualdb", "DualdbPrebuilt"),
        ("with_dualdb", "DualdbAdhoc"),
        ("with_sqlalchemy", "SqlalchemyCore"),
        ("with_sqlalchemy", "SqlalchemyAdhoc"),
        ("with_sqlalchemy", "SqlalchemyDefaults"),
        ("with_databases", "EncodeDatabases"),
    ),
}


def available(backend: Backend) -> tuple[list[type[Contender]], dict[str, str]]:
    """The contender classes that can run on ``backend``, and why the others cannot."""
    found: list[type[Contender]] = []
    missing: dict[str, str] = {}
    for module_name, class_name in _REGISTRY[backend]:
        try:
            module = importlib.import_module(f"benchmarks.contenders.{module_name}")
        except Unavailable as exc:
            missing[module_name.removeprefix("with_")] = str(exc)
            continue
        found.append(getattr(module, class_name))
    return found, missing
