"""Settings → an open yoyo backend, with dualdb's timeouts and error messages.

The CLI's commands are synchronous and use yoyo's DB-API connections, opened by the
dialect's :class:`~dualdb.dialects.MigrationBackend`. Every
message is built from :meth:`Settings.display_url` and scrubbed of the password: the full
URL (:meth:`Settings.postgres_url`) only ever reaches the driver.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from dualdb.dialects import DialectName, MigrationBackend, get_dialect
from dualdb.settings import Settings

__all__ = ["Target", "describe_error", "open_target", "scrub"]


def scrub(text: str) -> str:
    """``text`` with every password where a password is written masked by ``***``: a
    URL's userinfo (``//user:***@``) and ``password=`` (``sslpassword=``, ``passfile=``)
    options, in a URL's query or a DSN. By position, never by replacing the password's
    text wherever it occurs: with the password ``postgres`` that mangled every message
    (``[***ql] cannot connect to ***ql://…``) and still missed its other spellings."""
    text = _URL_PASSWORD.sub(r"\g<head>***", text)
    return _OPTION_PASSWORD.sub(r"\g<head>***", text)


#: The password of a URL: ``scheme://user:<password>@``.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s/]*(?=@)", re.I)
#: A password option: ``password=<value>`` in a URL query or a libpq DSN (quoted or not).
_OPTION_PASSWORD = re.compile(
    r"(?P<head>\b(?:ssl)?pass(?:word|file)\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s&'\"]*)", re.I
)


def describe_error(exc: BaseException, migrations: MigrationBackend) -> str:
    """A one-message description of ``exc``: the database's own text for driver errors,
    ``Type: message`` otherwise. Callers still :func:`scrub` it."""
    text = str(exc).strip()
    if migrations.is_driver_error(exc):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass
class Target:
    """An open connection to the database being migrated, through a yoyo backend.

    ``existed`` is false when a read-only command found no SQLite file: the backend then
    holds a private in-memory database, so that "nothing applied" needs no special case
    and the missing file is not created.
    """

    settings: Settings
    backend: Any
    existed: bool = True

    @property
    def dialect(self) -> DialectName:
        return self.settings.backend

    @property
    def migrations(self) -> MigrationBackend:
        return get_dialect(self.settings.backend).migrations()

    def describe_error(self, exc: BaseException) -> str:
        """:func:`describe_error`, scrubbed of the password."""
        return self.scrub(describe_error(exc, self.migrations))

    @property
    def display_url(self) -> str:
        return self.settings.display_url()

    def scrub(self, text: str) -> str:
        return scrub(text)

    def close(self) -> None:
        self.backend.connection.close()

    def __enter__(self) -> Target:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_target(settings: Settings, *, read_only: bool = False) -> Target:
    """Connect to the configured database.

    ``read_only`` commands (status, check, dry runs) create nothing: no SQLite file or
    folder, no yoyo tables. Otherwise yoyo's lock table is created if missing, as yoyo does.
    Raises :class:`ConnectionFailed` (unreachable, refused, not a database) or
    :class:`ConfigurationError` (unusable settings), never with the password in the message.
    """
    backend, existed = (
        get_dialect(settings.backend).migrations().open(settings, read_only=read_only)
    )
    target = Target(settings, backend, existed=existed)
    if not read_only:
        target.backend.init_database()
    return target
