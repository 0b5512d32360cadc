"""Environment (and ``.env``) → one validated, immutable :class:`Settings`.

All configuration is read here and nowhere else, so that every setting is checked in one
place, every error names the variable it came from, and no password can leak through a
``repr`` or an error message: the password lives only in :attr:`Settings.password`, which
is excluded from ``repr`` and from :meth:`Settings.display_url`.
"""

from __future__ import annotations

import os
import re
import shlex
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
    #: Every server to try, in order, where the URL names several (``host`` and
    #: ``port`` are the first); a host starting with ``/`` is a Unix socket's folder.
    hosts: tuple[tuple[str, int], ...] = ()
    #: libpq connection parameters of the URL (``sslrootcert``, ``target_session_attrs``
    #: …, see ``CONNECT_OPTIONS``), passed to the driver, not to the server.
    connect_options: tuple[tuple[str, str], ...] = ()

    pool_min_size: int = 1
    pool_max_size: int = 20
    pool_timeout: float = 10.0
    idle_timeout: float = 30.0
    connect_timeout: float = 2.0
    statement_timeout: float | None = None
    #: How long the client waits for any one call (None: the statement timeout plus
    #: two seconds, or no limit without one); see :meth:`call_timeout`.
    command_timeout: float | None = None
    statement_cache_size: int = 100
    #: Close a pooled connection this old when it is next idle (None: never).
    max_connection_lifetime: float | None = None
    #: At start, retry an unreachable PostgreSQL for up to this long (None: fail at once).
    connect_retry_timeout: float | None = None

    sqlite_pool_size: int = 5
    sqlite_busy_timeout: float = 5.0
    #: A SELECT outside a transaction starts in the event loop's thread and moves to its
    #: connection's after a moment (``SQLITE_INLINE_READS``; off: every statement goes to
    #: the connection's thread, as when SQLite functions of your own may block).
    sqlite_inline_reads: bool = True

    slow_query_threshold: float | None = 0.5

    #: The database must be configured explicitly (``DB_PRODUCTION``): no SQLite file
    #: by default, and no new SQLite database made by connecting.
    production: bool = False
    #: PostgreSQL is reached through PgBouncer in transaction (or statement) pooling mode
    #: (``DB_PGBOUNCER``, ``?pgbouncer=true``): each transaction may run on another server
    #: connection, so no named prepared statements (unless ``DB_STATEMENT_CACHE_SIZE`` is
    #: given, for PgBouncer's own ``max_prepared_statements``), no server settings at
    #: connect but the few PgBouncer accepts, and the statement timeout kept by the client.
    pgbouncer: bool = False

    #: Read replicas (``DATABASE_REPLICA_URLS``, comma-separated; ``replica_urls=``): the
    #: servers ``db.replica`` reads from. Not on an embedded backend: there, ``db.replica``
    #: is the database itself. A URL may leave out user, password and database name,
    #: which then come from the primary's settings.
    replica_urls: tuple[str, ...] = field(default=(), repr=False)
    #: A replica further behind than this many seconds is skipped (``DB_REPLICA_MAX_LAG``;
    #: None: any lag will do).
    replica_max_lag: float | None = 10.0
    #: Read-your-writes: how long a read on a replica waits for it to replay what this
    #: context committed before it reads the primary instead (``DB_REPLICA_WAIT_TIMEOUT``).
    replica_wait_timeout: float = 0.25

    def __post_init__(self) -> None:
        if isinstance(self.replica_urls, str):
            object.__setattr__(self, "replica_urls", split_replica_urls(self.replica_urls))
        elif not isinstance(self.replica_urls, tuple):
            object.__setattr__(self, "replica_urls", tuple(self.replica_urls))
        if not is_registered(self.backend):
            raise ConfigurationError(
                f"backend must be one of {', '.join(map(repr, dialect_names()))}, "
                f"got {self.backend!r}",
                variable="DB_TYPE",
            )
        if self.sslmode is not None and self.sslmode not in _SSL_MODES:
            raise ConfigurationError(
                f"sslmode (?sslmode= in DATABASE_URL, DB_SSLMODE or PGSSLMODE) must be one of "
                f"{', '.join(_SSL_MODES)}; got {self.sslmode!r}",
                variable="DB_SSLMODE",
            )
        for name, (variable, kind, minimum) in _NUMBERS.items():
            _check_number(name, getattr(self, name), variable, kind, minimum)
        if not isinstance(self.sqlite_inline_reads, bool):
            raise ConfigurationError(
                "sqlite_inline_reads (SQLITE_INLINE_READS) must be True or False; got "
                f"{type(self.sqlite_inline_reads).__name__}",
                variable="SQLITE_INLINE_READS",
            )
        if self.pool_min_size > self.pool_max_size:
            raise ConfigurationError(
                f"DB_POOL_MIN_SIZE ({self.pool_min_size}) must not exceed "
                f"DB_POOL_MAX_SIZE ({self.pool_max_size})",
                variable="DB_POOL_MIN_SIZE",
            )
        connect = dict(self.connect_options)
        if connect.get("sslrootcert") == "system" and self.sslmode not in (None, "verify-full"):
            raise ConfigurationError(
                f"sslrootcert=system trusts every CA of the system, so it needs the host name "
                f"checked: use sslmode=verify-full (or leave sslmode out), not {self.sslmode}",
                variable="DB_SSLMODE",
            )
        for key in ("ssl_min_protocol_version", "ssl_max_protocol_version"):
            if key in connect and connect[key] not in _TLS_VERSIONS:
                raise ConfigurationError(
                    f"{key} must be one of {', '.join(_TLS_VERSIONS)}; got {connect[key]!r}",
                    variable="DATABASE_URL",
                )
        if self.pgbouncer:
            refused = [key for key, _ in self.url_options if key.lower() not in _BOUNCER_PARAMETERS]
            if refused:
                raise ConfigurationError(
                    f"PgBouncer refuses server settings at connect ({', '.join(refused)}; of a "
                    "URL's, only application_name passes): set them for the role or database "
                    "instead (ALTER ROLE … SET / ALTER DATABASE … SET); DB_STATEMENT_TIMEOUT "
                    "works behind PgBouncer",
                    variable="DATABASE_URL",
                )
        if self.backend == "postgresql" and not self.database:
            raise ConfigurationError(
                "PostgreSQL needs a database name: set DATABASE_URL "
                "(postgresql://user:password@host:5432/dbname) or DB_NAME",
                variable="DATABASE_URL",
            )
        if self.replica_urls:
            self.replica_settings()  # (checks each URL now, not at the first read)

    def replica_settings(self) -> tuple[Settings, ...]:
        """One :class:`Settings` per replica URL: the primary's (pool, timeouts, server
        settings), with the replica's servers, and its credentials and database where the
        URL gives them. ``target_session_attrs`` is the replica's own: the primary's
        ``read-write`` would refuse every standby."""
        if not self.replica_urls:
            return ()
        if self.backend != "postgresql":
            raise ConfigurationError(
                f"read replicas need a server database; {self.backend} has none (db.replica "
                "reads the database itself there): remove DATABASE_REPLICA_URLS",
                variable="DATABASE_REPLICA_URLS",
            )
        out = []
        for index, url in enumerate(self.replica_urls):
            variable = f"DATABASE_REPLICA_URLS[{index}]"
            parsed = parse_url(url, variable)
            if parsed["backend"] != self.backend:
                raise ConfigurationError(
                    f"{variable} is a {parsed['backend']} URL; replicas of a {self.backend} "
                    "database must be postgresql:// URLs",
                    variable="DATABASE_REPLICA_URLS",
                )
            inherited = tuple(
                (k, v) for k, v in self.connect_options if k != "target_session_attrs"
            )
            given = {k for k, _ in parsed.get("connect_options", ())}
            parsed["connect_options"] = (
                *((k, v) for k, v in inherited if k not in given),
                *parsed.get("connect_options", ()),
            )
            parsed["url_options"] = (*self.url_options, *parsed.get("url_options", ()))
            parsed.setdefault("hosts", ())
            parsed.setdefault("host", "localhost")
            parsed.setdefault("port", 5432)
            out.append(
                replace(
                    self,
                    replica_urls=(),
                    # Opened on first use: a replica that is down must not stop the
                    # application from starting (its reads go to the primary).
                    pool_min_size=0,
                    connect_retry_timeout=None,
                    **parsed,
                )
            )
        return tuple(out)

    def call_timeout(self) -> float | None:
        """The client's bound on one call: past it the statement is cancelled, and a server
        that stopped answering (frozen, or cut off by a black-holed network) gives
        ``QueryTimeout`` and the connection is discarded. The server's statement timeout
        fires first when it can; behind PgBouncer, which cannot pass it on at connect, this
        is the statement timeout."""
        if self.command_timeout is not None:
            return self.command_timeout
        if self.statement_timeout is None:
            return None
        return self.statement_timeout + (0.0 if self.pgbouncer else 2.0)

    def endpoints(self) -> tuple[tuple[str, int], ...]:
        """The servers to try, in order: ``(host, port)`` pairs."""
        return self.hosts or ((self.host, self.port),)

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
        options = _masked((*self.connect_options, *self.url_options))
        if self.pgbouncer:
            options = (*options, ("pgbouncer", "true"))
        query = f"?{urlencode(options, safe='*/')}" if options else ""
        return f"postgresql://{auth}{self._hostspec()}/{self.database}{query}"

    def _hostspec(self) -> str:
        return ",".join(f"{_quote_host(host)}:{port}" for host, port in self.endpoints())

    def __repr__(self) -> str:
        # The dataclass's own, with secret URL options masked (``password`` is left out).
        shown = []
        for item in fields(self):
            if item.repr:
                value = getattr(self, item.name)
                if item.name in ("url_options", "connect_options"):
                    value = _masked(value)
                shown.append(f"{item.name}={value!r}")
        if self.replica_urls:
            # Each replica's display URL (password masked), however the URL spelled it.
            try:
                replicas = [r.display_url() for r in self.replica_settings()]
            except ConfigurationError:
                replicas = ["<invalid>"]
            shown.append(f"replica_urls={replicas!r}")
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
        options = [*self.connect_options, *self.url_options]
        if self.sslmode:
            options.append(("sslmode", self.sslmode))
        query = f"?{urlencode(options)}" if options else ""
        return f"postgresql://{auth}{self._hostspec()}/{quote(self.database or '')}{query}"

    def with_options(self, **options: Any) -> Settings:
        """A copy with some fields replaced; unknown names are a ConfigurationError."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigurationError(
                f"unknown option(s) {', '.join(unknown)}; accepted: {', '.join(sorted(known))}",
                variable=unknown[0],
            )
        if options.get("pgbouncer") and "statement_cache_size" not in options:
            options["statement_cache_size"] = 0  # (as load_settings does for DB_PGBOUNCER)
        _one_pool_size(
            options,
            backend=options.get("backend", self.backend),
            explicit="sqlite_pool_size" in options,
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
    "command_timeout": ("DB_COMMAND_TIMEOUT", float, 0.0),
    "statement_cache_size": ("DB_STATEMENT_CACHE_SIZE", int, 0),
    "max_connection_lifetime": ("DB_MAX_CONNECTION_LIFETIME", float, 0.0),
    "connect_retry_timeout": ("DB_CONNECT_RETRY_TIMEOUT", float, 0.0),
    "sqlite_pool_size": ("SQLITE_POOL_SIZE", int, 1),
    "sqlite_busy_timeout": ("SQLITE_BUSY_TIMEOUT", float, 0.0),
    "slow_query_threshold": ("DB_SLOW_QUERY_SECONDS", float, 0.0),
    "replica_max_lag": ("DB_REPLICA_MAX_LAG", float, 0.0),
    "replica_wait_timeout": ("DB_REPLICA_WAIT_TIMEOUT", float, 0.0),
}
_OPTIONAL = frozenset(
    {
        "statement_timeout",
        "slow_query_threshold",
        "command_timeout",
        "max_connection_lifetime",
        "connect_retry_timeout",
        "replica_max_lag",
    }
)


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
    return _boolean(env.get(name, ""), name, name)


def _boolean(text: str, what: str, variable: str) -> bool:
    raw = text.strip().lower()
    if raw not in _TRUE | _FALSE:
        raise ConfigurationError(
            f"{what} must be true or false (1/0, yes/no, on/off); got {text!r}",
            variable=variable,
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

#: libpq connection parameters dualdb hands to the driver (asyncpg, and libpq for the
#: migration CLI, read them as libpq does); any other ``?key=value`` of a URL is a
#: server setting.
CONNECT_OPTIONS = frozenset(
    {
        "passfile",
        "sslcert",
        "sslkey",
        "sslrootcert",
        "sslcrl",
        "sslpassword",
        "sslsni",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "target_session_attrs",
        "krbsrvname",
        "gsslib",
    }
)
#: The server settings of a URL that PgBouncer passes on at connect (it refuses most).
_BOUNCER_PARAMETERS = frozenset({"application_name"})
_TLS_VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_SESSION_ATTRS = ("any", "primary", "standby", "prefer-standby", "read-write", "read-only")

#: libpq's environment variables, read where dualdb's own are not set (``DB_TYPE=
#: postgresql`` without ``DATABASE_URL``): variable → setting or connection parameter.
_PG_ENVIRONMENT = {
    "PGSSLROOTCERT": "sslrootcert",
    "PGSSLCERT": "sslcert",
    "PGSSLKEY": "sslkey",
    "PGSSLCRL": "sslcrl",
    "PGTARGETSESSIONATTRS": "target_session_attrs",
    "PGPASSFILE": "passfile",
}


def _quote_host(host: str) -> str:
    if host.startswith("/"):
        return quote(host, safe="")  # a socket folder: percent-encoded, as libpq reads it
    return f"[{host}]" if ":" in host else host


def _hosts(spec: str, ports: str | None, variable: str) -> tuple[tuple[str, int], ...]:
    """libpq's host list (``h1:5432,h2``, ``[::1]:5433``, a percent-encoded socket
    folder), with ``ports`` (one for all, or one per host) for hosts that give none."""
    entries: list[tuple[str, int | None]] = []
    for entry in spec.split(","):
        port_text: str | None = None
        if entry.startswith("["):
            host, _, rest = entry[1:].partition("]")
            if rest and not rest.startswith(":"):
                raise ConfigurationError(f"{variable} has an invalid host", variable=variable)
            port_text = rest[1:] if rest else None
        else:
            host, colon, after = entry.partition(":")
            port_text = after if colon else None
        entries.append((unquote(host), _port(port_text, variable) if port_text else None))
    defaults = [_port(p, variable) for p in ports.split(",")] if ports else []
    if len(defaults) > 1 and len(defaults) != len(entries):
        raise ConfigurationError(
            f"{variable} names {len(entries)} host(s) but {len(defaults)} ports", variable=variable
        )
    out = []
    for index, (host, port) in enumerate(entries):
        fallback = defaults[index if len(defaults) > 1 else 0] if defaults else 5432
        out.append((host or "localhost", port if port is not None else fallback))
    return tuple(out)


def _port(text: str, variable: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ConfigurationError(
            f"{variable} has an invalid port; expected a number from 1 to 65535",
            variable=variable,
        )
    return int(text)


def _server_options(text: str, variable: str) -> list[tuple[str, str]]:
    """libpq's ``options`` parameter (``-c key=value …``) as server settings."""
    words = shlex.split(text)
    out = []
    while words:
        word = words.pop(0)
        if word == "-c" and words:
            word = words.pop(0)
        elif word.startswith(("-c", "--")):
            word = word[2:]
        else:
            raise ConfigurationError(
                f"{variable}: dualdb reads only '-c name=value' in the options parameter",
                variable=variable,
            )
        key, equals, value = word.partition("=")
        if not equals:
            raise ConfigurationError(
                f"{variable}: a server setting in options needs name=value", variable=variable
            )
        out.append((key.replace("-", "_"), value))
    return out


def _connect_timeout(text: str, variable: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value != value:
        raise ConfigurationError(
            f"{variable}: connect_timeout must be a number of seconds > 0", variable=variable
        )
    return value


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
    userinfo, at, hostspec = parts.netloc.rpartition("@")
    result: dict[str, Any] = {"backend": "postgresql"}
    if at:
        user, colon, password = userinfo.partition(":")
        if user:
            result["user"] = unquote(user)
        if colon:
            result["password"] = unquote(password)
    database = unquote(parts.path.lstrip("/"))
    if database:
        result["database"] = database
    query_hosts: str | None = None
    ports: str | None = None
    options: list[tuple[str, str]] = []
    connect: list[tuple[str, str]] = []
    query = parse_qsl(parts.query, keep_blank_values=True)
    for key, value in query:
        if key == "sslmode":
            result["sslmode"] = value
        elif key == "password":  # libpq's spelling in the query string: the password
            result["password"] = value
        elif key == "user":
            result["user"] = value
        elif key == "dbname":
            result["database"] = value
        elif key == "host":
            query_hosts = value
        elif key == "port":
            ports = value
        elif key == "connect_timeout":
            result["connect_timeout"] = _connect_timeout(value, variable)
        elif key == "options":
            options.extend(_server_options(value, variable))
        elif key == "pgbouncer":
            result["pgbouncer"] = _boolean(value, f"{variable}: pgbouncer", variable)
        elif key in CONNECT_OPTIONS:
            if key == "target_session_attrs" and value not in _SESSION_ATTRS:
                raise ConfigurationError(
                    f"{variable}: target_session_attrs must be one of "
                    f"{', '.join(_SESSION_ATTRS)}; got {value!r}",
                    variable=variable,
                )
            connect.append((key, value))
        elif key in ("service", "servicefile"):
            raise ConfigurationError(
                f"{variable}: connection service files are not supported; give the "
                "parameters in the URL",
                variable=variable,
            )
        else:
            options.append((key, value))
    for key, _ in options:
        if key.lower() in ("standard_conforming_strings", "backslash_quote"):
            raise ConfigurationError(
                f"{variable} must not set {key}: dualdb keeps standard_conforming_strings on "
                "(with it off, a backslash in a quoted literal could end the literal)",
                variable=variable,
            )
    spec = query_hosts if query_hosts is not None else hostspec
    if spec or ports:
        hosts = _hosts(spec, ports, variable)
        result["host"], result["port"] = hosts[0]
        if len(hosts) > 1:
            result["hosts"] = hosts
    result["url_options"] = tuple(options)
    result["connect_options"] = tuple(connect)
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
    from_url: dict[str, Any] = {}
    if database_url:
        from_url = parse_url(database_url, url_variable)
        values.update(from_url)
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
            # dualdb's variables, else libpq's (PGHOST, PGUSER …), as psql reads them.
            for variables, key in (
                (("DB_USER", "PGUSER"), "user"),
                (("DB_NAME", "PGDATABASE"), "database"),
            ):
                found = next((env[v].strip() for v in variables if env.get(v, "").strip()), None)
                if found:
                    values[key] = found
            password = env.get("DB_PASSWORD") or env.get("PGPASSWORD")
            if password:
                values["password"] = password
            host = next((env[v] for v in ("DB_HOST", "PGHOST") if env.get(v, "").strip()), None)
            port_text = next(
                (env[v].strip() for v in ("DB_PORT", "PGPORT") if env.get(v, "").strip()), None
            )
            if host is not None or port_text is not None:
                port_variable = "DB_PORT" if env.get("DB_PORT", "").strip() else "PGPORT"
                hosts = _hosts(host.strip() if host else "", port_text, port_variable)
                values["host"], values["port"] = hosts[0]
                if len(hosts) > 1:
                    values["hosts"] = hosts

    if values["backend"] == "postgresql":
        # libpq's variables are defaults for what the URL (or DB_*) leaves unsaid, as for
        # psql, libpq (dualdb migrate, yoyo) and asyncpg (which reads some itself).
        given = {key for key, _ in values.get("connect_options", ())}
        values["connect_options"] = (
            *values.get("connect_options", ()),
            *(
                (key, env[variable].strip())
                for variable, key in _PG_ENVIRONMENT.items()
                if env.get(variable, "").strip() and key not in given
            ),
        )
        if env.get("PGCONNECT_TIMEOUT", "").strip() and "connect_timeout" not in values:
            values["connect_timeout"] = _connect_timeout(
                env["PGCONNECT_TIMEOUT"].strip(), "PGCONNECT_TIMEOUT"
            )
        server = values.get("url_options", ())
        if env.get("PGAPPNAME", "").strip() and "application_name" not in dict(server):
            values["url_options"] = (*server, ("application_name", env["PGAPPNAME"].strip()))

    for variable in ("DB_SSLMODE", "PGSSLMODE"):
        if env.get(variable, "").strip() and "sslmode" not in values:
            values["sslmode"] = env[variable].strip().lower()

    if env.get("DATABASE_REPLICA_URLS", "").strip():
        values["replica_urls"] = split_replica_urls(env["DATABASE_REPLICA_URLS"])

    if env.get("SQLITE_INLINE_READS", "").strip():
        values["sqlite_inline_reads"] = _flag(env, "SQLITE_INLINE_READS")
    if _flag(env, "DB_PGBOUNCER") and "pgbouncer" not in values:
        values["pgbouncer"] = True
    if values.get("pgbouncer") and not env.get("DB_STATEMENT_CACHE_SIZE", "").strip():
        # asyncpg's prepared statements are named and live on one server connection.
        values["statement_cache_size"] = 0

    for key, (variable, kind, minimum) in _NUMBERS.items():
        if key == "port":
            continue  # PostgreSQL's own, read above with its range
        value = _number(env, variable, kind, minimum)
        if value is not None and key not in from_url:  # (the URL's connect_timeout wins)
            values[key] = value  # (and DB_CONNECT_TIMEOUT wins over PGCONNECT_TIMEOUT)
    # 0 means "off" for the optional ones, as in PostgreSQL's statement_timeout.
    for key in _OPTIONAL:
        if values.get(key) == 0:
            values[key] = None

    _one_pool_size(values, backend=values["backend"], explicit="sqlite_pool_size" in values)
    return Settings(**values).with_options(**options) if options else Settings(**values)


_REPLICA_SEPARATOR = re.compile(r",\s*(?=[A-Za-z][A-Za-z0-9+.-]*://)")


def split_replica_urls(text: str) -> tuple[str, ...]:
    """``DATABASE_REPLICA_URLS``: URLs separated by commas. A comma splits only before
    the next URL's scheme, since a URL's own host list (``h1,h2``) has commas too."""
    return tuple(url.strip() for url in _REPLICA_SEPARATOR.split(text.strip()) if url.strip())


def _one_pool_size(values: dict[str, Any], *, backend: str, explicit: bool) -> None:
    """``DB_POOL_MAX_SIZE`` / ``pool_max_size`` size SQLite's pool too (its default stays 5,
    PostgreSQL's 20): one vocabulary for both backends, never a setting silently ignored.
    ``SQLITE_POOL_SIZE`` / ``sqlite_pool_size``, when given, wins for SQLite."""
    if backend == "sqlite" and "pool_max_size" in values and not explicit:
        values["sqlite_pool_size"] = values["pool_max_size"]
