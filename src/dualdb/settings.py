"""Environment (and ``.env``) → one validated, immutable :class:`Settings`.

All configuration is read here and nowhere else, so that every setting is checked in one
place, every error names the variable it came from, and no password can leak through a
``repr`` or an error message: the password lives only in :attr:`Settings.password`, which
is excluded from ``repr`` and from :meth:`Settings.display_url`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from dotenv import dotenv_values

from dualdb.dialects import DialectName, dialect_names, is_registered
from dualdb.errors import ConfigurationError

__all__ = ["Backend", "Settings", "load_settings"]

#: The name of a backend; kept under its old name for existing imports.
Backend = DialectName

_BACKEND_ALIASES: dict[str, Backend] = {
    "sqlite": "sqlite",
    "sqlite3": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "pg": "postgresql",
}
_SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_SQLITE_MEMORY = ":memory:"
DEFAULT_SQLITE_FILE = "./data/app.db"

T = TypeVar("T", int, float)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything dualdb needs to open a :class:`~dualdb.Database`.

    Build it with :func:`load_settings` (environment + ``.env``) or directly; every
    field has the documented default. ``password`` never appears in ``repr``.
    """

    backend: Backend = "sqlite"
    #: SQLite database file (``":memory:"`` for a private in-memory database).
    sqlite_file: str = DEFAULT_SQLITE_FILE
    #: PostgreSQL connection parts (from ``DATABASE_URL`` or ``DB_HOST`` …).
    host: str = "localhost"
    port: int = 5432
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    database: str | None = None
    sslmode: str | None = None
    #: Extra ``?key=value`` options of the URL, passed to the server as settings.
    url_options: tuple[tuple[str, str], ...] = ()

    pool_min_size: int = 1
    pool_max_size: int = 20
    pool_timeout: float = 10.0
    idle_timeout: float = 30.0
    connect_timeout: float = 2.0
    statement_timeout: float | None = None
    statement_cache_size: int = 100

    sqlite_pool_size: int = 5
    sqlite_busy_timeout: float = 5.0

    slow_query_threshold: float | None = 0.5

    #: The database must be configured explicitly (``DB_PRODUCTION``): no SQLite file
    #: by default, and no new SQLite database made by connecting.
    production: bool = False

    def __post_init__(self) -> None:
        if not is_registered(self.backend):
            raise ConfigurationError(
                f"backend must be one of {', '.join(map(repr, dialect_names()))}, "
                f"got {self.backend!r}",
                variable="DB_TYPE",
            )
        if self.sslmode is not None and self.sslmode not in _SSL_MODES:
            raise ConfigurationError(
                f"DB_SSLMODE must be one of {', '.join(_SSL_MODES)}; got {self.sslmode!r}",
                variable="DB_SSLMODE",
            )
        for name, (variable, kind, minimum) in _NUMBERS.items():
            _check_number(name, getattr(self, name), variable, kind, minimum)
        if self.pool_min_size > self.pool_max_size:
            raise ConfigurationError(
                f"DB_POOL_MIN_SIZE ({self.pool_min_size}) must not exceed "
                f"DB_POOL_MAX_SIZE ({self.pool_max_size})",
                variable="DB_POOL_MIN_SIZE",
            )
        if self.backend == "postgresql" and not self.database:
            raise ConfigurationError(
                "PostgreSQL needs a database name: set DATABASE_URL "
                "(postgresql://user:password@host:5432/dbname) or DB_NAME",
                variable="DATABASE_URL",
            )

    def display_url(self) -> str:
        """The connection target as a URL with the password masked, for messages and logs."""
        if self.backend == "sqlite":
            return f"sqlite:///{self.sqlite_file}"
        auth = ""
        if self.user:
            auth = quote(self.user, safe="")
            if self.password:
                auth += ":***"
            auth += "@"
        options = _masked(self.url_options)
        query = f"?{urlencode(options)}" if options else ""
        return f"postgresql://{auth}{self.host}:{self.port}/{self.database}{query}"

    def __repr__(self) -> str:
        # The dataclass's own, with secret URL options masked (``password`` is left out).
        shown = []
        for item in fields(self):
            if item.repr:
                value = getattr(self, item.name)
                if item.name == "url_options":
                    value = _masked(value)
                shown.append(f"{item.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    def postgres_url(self) -> str:
        """A full ``postgresql://`` URL *including the password*, for drivers only.

        Never log or print this value; use :meth:`display_url`.
        """
        auth = ""
        if self.user:
            auth = quote(self.user, safe="")
            if self.password is not None:
                auth += ":" + quote(self.password, safe="")
            auth += "@"
        options = list(self.url_options)
        if self.sslmode:
            options.append(("sslmode", self.sslmode))
        query = f"?{urlencode(options)}" if options else ""
        return f"postgresql://{auth}{self.host}:{self.port}/{quote(self.database or '')}{query}"

    def with_options(self, **options: Any) -> Settings:
        """A copy with some fields replaced; unknown names are a ConfigurationError."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigurationError(
                f"unknown option(s) {', '.join(unknown)}; accepted: {', '.join(sorted(known))}",
                variable=unknown[0],
            )
        return replace(self, **options)


#: The numeric settings: (environment variable, int or float, minimum); the float ones
#: that may be None ("off") are listed in ``_OPTIONAL``.
_NUMBERS: dict[str, tuple[str, type, float]] = {
    "port": ("DB_PORT", int, 1),
    "pool_min_size": ("DB_POOL_MIN_SIZE", int, 0),
    "pool_max_size": ("DB_POOL_MAX_SIZE", int, 1),
    "pool_timeout": ("DB_POOL_TIMEOUT", float, 0.0),
    "idle_timeout": ("DB_IDLE_TIMEOUT", float, 0.0),
    "connect_timeout": ("DB_CONNECT_TIMEOUT", float, 0.001),
    "statement_timeout": ("DB_STATEMENT_TIMEOUT", float, 0.0),
    "statement_cache_size": ("DB_STATEMENT_CACHE_SIZE", int, 0),
    "sqlite_pool_size": ("SQLITE_POOL_SIZE", int, 1),
    "sqlite_busy_timeout": ("SQLITE_BUSY_TIMEOUT", float, 0.0),
    "slow_query_threshold": ("DB_SLOW_QUERY_SECONDS", float, 0.0),
}
_OPTIONAL = frozenset({"statement_timeout", "slow_query_threshold"})


def _check_number(name: str, value: object, variable: str, kind: type, minimum: float) -> None:
    """Settings given as keyword options (``connect(url, pool_timeout=…)``) get the same
    checks as the environment's: a wrong type would fail much later, inside the pool."""
    if value is None and name in _OPTIONAL:
        return
    accepted = (int,) if kind is int else (int, float)
    if (
        isinstance(value, bool)
        or not isinstance(value, accepted)
        or (isinstance(value, float) and value != value)
    ):
        what = "a whole number" if kind is int else "a number of seconds"
        raise ConfigurationError(
            f"{name} ({variable}) must be {what}; got {type(value).__name__}", variable=variable
        )
    if value < minimum:
        raise ConfigurationError(
            f"{name} ({variable}) must be ≥ {minimum}; got {value}", variable=variable
        )


def _number(env: Mapping[str, str], name: str, kind: Callable[[str], T], minimum: T) -> T | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = kind(raw.strip())
    except ValueError:
        what = "a whole number" if kind is int else "a number of seconds"
        raise ConfigurationError(
            f"{name} must be {what} ≥ {minimum}; got {raw!r}", variable=name
        ) from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be ≥ {minimum}; got {raw!r}", variable=name)
    return value


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw not in _TRUE | _FALSE:
        raise ConfigurationError(
            f"{name} must be true or false (1/0, yes/no, on/off); got {env[name]!r}",
            variable=name,
        )
    return raw in _TRUE


def _parse_backend(raw: str, variable: str) -> Backend:
    backend = _BACKEND_ALIASES.get(raw.strip().lower())
    if backend is None:
        raise ConfigurationError(
            f"{variable} must be 'sqlite' or 'postgresql' (also 'postgres', 'pg'); got {raw!r}",
            variable=variable,
        )
    return backend


#: URL options whose values are secrets (or say where one is): masked wherever shown.
_SECRET_OPTIONS = frozenset({"password", "sslpassword", "passfile"})


def _masked(options: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    return tuple((k, "***" if k.lower() in _SECRET_OPTIONS else v) for k, v in options)


def parse_url(url: str, variable: str = "DATABASE_URL") -> dict[str, Any]:
    """Split a database URL into :class:`Settings` fields.

    Accepts ``postgresql://`` / ``postgres://`` and ``sqlite:///relative/path``,
    ``sqlite:////absolute/path`` or ``sqlite:///:memory:``. The URL itself is never
    quoted back in an error, because it may hold a password.
    """
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise ConfigurationError(
            f"{variable} must look like postgresql://user:password@host:5432/dbname or "
            "sqlite:///path/to/file.db",
            variable=variable,
        )
    scheme = scheme.lower()
    if scheme.startswith("sqlite"):
        path = url[len(scheme) + 3 :]
        if path.startswith("/"):
            path = path[1:]  # sqlite:///rel → rel, sqlite:////abs → /abs (yoyo's convention)
        path = path.split("?", 1)[0]
        if not path:
            raise ConfigurationError(
                f"{variable} names no SQLite file; use sqlite:///path/to/file.db or "
                "sqlite:///:memory:",
                variable=variable,
            )
        return {"backend": "sqlite", "sqlite_file": unquote(path)}
    if scheme not in ("postgresql", "postgres"):
        raise ConfigurationError(
            f"{variable} has an unsupported scheme {scheme!r}; accepted: postgresql://, "
            "postgres://, sqlite:///",
            variable=variable,
        )
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise ConfigurationError(
            f"{variable} has an invalid port; expected a number from 1 to 65535",
            variable=variable,
        ) from None
    result: dict[str, Any] = {"backend": "postgresql"}
    if parts.hostname:
        result["host"] = parts.hostname
    if port is not None:
        result["port"] = port
    if parts.username:
        result["user"] = unquote(parts.username)
    if parts.password is not None:
        result["password"] = unquote(parts.password)
    database = unquote(parts.path.lstrip("/"))
    if database:
        result["database"] = database
    options = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "sslmode":
            result["sslmode"] = value
        elif key == "password":  # libpq's spelling in the query string: the password
            result["password"] = value
        elif key.lower() in ("standard_conforming_strings", "backslash_quote"):
            raise ConfigurationError(
                f"{variable} must not set {key}: dualdb keeps standard_conforming_strings on "
                "(with it off, a backslash in a quoted literal could end the literal)",
                variable=variable,
            )
        else:
            options.append((key, value))
    result["url_options"] = tuple(options)
    return result


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    env_file: str | os.PathLike[str] | None = ".env",
    url: str | None = None,
    **options: Any,
) -> Settings:
    """Read settings from ``environ`` (default ``os.environ``) over the ``.env`` file.

    Precedence, highest first: keyword ``options``, ``url``, real environment variables,
    ``.env`` in the working directory, defaults. See ``.env.example`` for every variable.
    """
    env: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        env.update(
            {k: v for k, v in dotenv_values(env_file, interpolate=False).items() if v is not None}
        )
    env.update(os.environ if environ is None else environ)

    values: dict[str, Any] = {}
    production = _flag(env, "DB_PRODUCTION")
    if production:
        values["production"] = True
    declared: Backend | None = None
    if env.get("DB_TYPE", "").strip():
        declared = _parse_backend(env["DB_TYPE"], "DB_TYPE")

    url_variable = "url" if url is not None else "DATABASE_URL"
    database_url = url if url is not None else env.get("DATABASE_URL", "").strip() or None
    if database_url:
        values.update(parse_url(database_url, url_variable))
        if declared is not None and url is None and declared != values["backend"]:
            raise ConfigurationError(
                f"DB_TYPE={declared} but DATABASE_URL is a {values['backend']} URL; "
                "make them agree or remove DB_TYPE",
                variable="DB_TYPE",
            )
    else:
        if production and declared is None and not env.get("SQLITE_FILE", "").strip():
            raise ConfigurationError(
                "DB_PRODUCTION is on but no database is configured: set DATABASE_URL "
                "(postgresql://user:password@host:5432/dbname), or DB_TYPE=postgresql with "
                "DB_HOST and DB_NAME. In production dualdb falls back to no SQLite file.",
                variable="DATABASE_URL",
            )
        values["backend"] = declared or "sqlite"
        if values["backend"] == "sqlite":
            values["sqlite_file"] = env.get("SQLITE_FILE", "").strip() or DEFAULT_SQLITE_FILE
        else:
            for variable, key in (
                ("DB_HOST", "host"),
                ("DB_USER", "user"),
                ("DB_NAME", "database"),
            ):
                if env.get(variable, "").strip():
                    values[key] = env[variable].strip()
            if env.get("DB_PASSWORD"):
                values["password"] = env["DB_PASSWORD"]
            port = _number(env, "DB_PORT", int, 1)
            if port is not None:
                if port > 65535:
                    raise ConfigurationError(
                        f"DB_PORT must be a port number from 1 to 65535; got {port}",
                        variable="DB_PORT",
                    )
                values["port"] = port

    if env.get("DB_SSLMODE", "").strip() and "sslmode" not in values:
        values["sslmode"] = env["DB_SSLMODE"].strip().lower()

    for key, (variable, kind, minimum) in _NUMBERS.items():
        if key == "port":
            continue  # PostgreSQL's own, read above with its range
        value = _number(env, variable, kind, minimum)
        if value is not None:
            values[key] = value
    # 0 means "off" for the two optional thresholds, as in PostgreSQL's statement_timeout.
    for key in ("statement_timeout", "slow_query_threshold"):
        if values.get(key) == 0:
            values[key] = None

    return Settings(**values).with_options(**options) if options else Settings(**values)
