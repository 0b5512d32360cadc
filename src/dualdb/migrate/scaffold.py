"""``dualdb new NAME``: the next numbered migration, with its rollback, from a template.

Ids are ``NNNN_name`` so that file order is application order and a later change to an
existing table (say a column added to ``oauth_sessions``) simply becomes the next number.
Each new migration depends on the current heads, as ``yoyo new`` does, so branches merged in
the wrong order are still applied after what they were written against.
"""

from __future__ import annotations

import re
from pathlib import Path

from yoyo import read_migrations
from yoyo.migrations import heads

from dualdb.errors import ConfigurationError
from dualdb.migrate.checksums import SUM_FILE, render_sum, write_sum
from dualdb.migrate.source import Folders, folders_from, load_source

__all__ = ["SHIPPED_SOURCE", "init_project", "new_migration"]

_SQL_TEMPLATE = """\
-- {title}
-- depends: {depends}

-- Portable SQL, one statement per semicolon, run in one transaction on both backends.
-- Column types: UUID, TEXT, INTEGER, BIGINT, BOOLEAN, TIMESTAMPTZ, DOUBLE PRECISION, DATE;
-- json/decimal/bytes differ per backend: use `dualdb new --python` for those.
-- SQLite's ALTER TABLE can ADD/RENAME/DROP a column, not change one: see docs/migrations.md.

"""

_ROLLBACK_TEMPLATE = """\
-- Rollback of {migration_id}: undo {migration_id}.sql, statements in reverse order.

"""

_PYTHON_TEMPLATE = '''\
"""{title}

typed_sql() fills in each backend's type for {{uuid}}, {{json}}, {{decimal}}, {{bytes}}, …;
by_backend() runs different SQL on SQLite and PostgreSQL. Give every step its rollback.
"""

from dualdb.migrate.steps import by_backend, step, typed_sql  # noqa: F401 - for your steps

__depends__: set[str] = {depends}

steps: list[object] = [
    # step(
    #     typed_sql("ALTER TABLE example ADD COLUMN payload {{json}}"),
    #     "ALTER TABLE example DROP COLUMN payload",
    # ),
]
'''


#: What a migration name may be: ASCII letters, digits, ``_`` and ``-`` (and spaces
#: between words, as ``dualdb new add user phone`` joins them). A name becomes a file
#: name and a line in the file; names come from scripts, bots and CI parameters, so
#: nothing else gets through (a quote or newline would become SQL or Python).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\- ]{0,79}")


def _slug(name: str) -> str:
    if not _NAME.fullmatch(name):
        shown = repr(name[:40]) + ("…" if len(name) > 40 else "")
        raise ConfigurationError(
            f"migration name {shown} must be ASCII letters, digits, '_' and '-' (words may "
            "be separated by spaces), starting with a letter or digit, at most 80 "
            "characters; e.g. add_oauth_scope",
            variable="NAME",
        )
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def new_migration(
    directory: Path | Folders, name: str, *, python: bool = False, title: str | None = None
) -> list[Path]:
    """Create ``directory/NNNN_name.sql`` and ``.rollback.sql`` (or ``.py``); update the sum.

    With upstream folders (dualdb's shipped schema), the number continues the project's own
    folder and the first migration there depends on the upstream heads, so it runs after
    them whichever tool applies it. Returns the created paths. The folder is created if
    missing.
    """
    slug = _slug(name)
    folders = directory if isinstance(directory, Folders) else Folders(directory)
    directory = folders.own
    directory.mkdir(parents=True, exist_ok=True)
    found = read_migrations(*(str(folder) for folder in folders.all))
    existing = load_source(folders).migrations if found else []
    own = [mig for mig in existing if Path(mig.path).parent.resolve() == directory.resolve()]
    numbers = [int(m.group(1)) for m in (re.match(r"(\d+)", mig.id) for mig in own) if m]
    migration_id = f"{max(numbers, default=0) + 1:04d}_{slug}"
    depends = sorted(m.id for m in heads(existing))
    words = slug.replace("_", " ")  # (from the slug only: no character of the name's own)
    title = title or words[:1].upper() + words[1:] + "."
    if python:
        created = [directory / f"{migration_id}.py"]
        listed = "{" + ", ".join(repr(d) for d in depends) + "}" if depends else "set()"
        text = _PYTHON_TEMPLATE.format(title=title, depends=listed)
        created[0].write_text(text, encoding="utf-8")
    else:
        created = [directory / f"{migration_id}.sql", directory / f"{migration_id}.rollback.sql"]
        created[0].write_text(
            _SQL_TEMPLATE.format(title=title, depends=" ".join(depends)), encoding="utf-8"
        )
        created[1].write_text(
            _ROLLBACK_TEMPLATE.format(migration_id=migration_id), encoding="utf-8"
        )
    write_sum(directory)
    return created


# --------------------------------------------------------------------------- dualdb init

#: Where an installed dualdb keeps its own schema, as yoyo names a package source.
SHIPPED_SOURCE = "package:dualdb:migrations"

_YOYO_INI = """\
# Plain `yoyo` reads this file, and `dualdb` reads its `sources`: both apply dualdb's own
# schema (users, sessions, OAuth: shipped in the installed package) and then ./migrations.
#   dualdb migrate                          honours DATABASE_URL, DB_*, SQLITE_FILE and .env
#   yoyo apply                              migrates ./data/app.db
#   yoyo apply --database "$DATABASE_URL"   migrates that database
[DEFAULT]
sources = {shipped} %(here)s/migrations
database = sqlite:///%(here)s/data/app.db
migration_table = _yoyo_migration
batch_mode = on
verbosity = 0
"""

_ENV_EXAMPLE = """\
# Copy to .env (never commit .env). Real environment variables win over it.
# Development: nothing to set, the database is SQLite at ./data/app.db.
# Production: one URL (add ?sslmode=verify-full&sslrootcert=... for TLS).
#DATABASE_URL=postgresql://app:secret@db.example.com:5432/app
#DB_PRODUCTION=true
# Keys that encrypt stored OAuth tokens at rest: "kid:base64key[,kid:base64key...]" (32-byte
# keys, AES-256-GCM; the first encrypts, all decrypt). A key:
#   python -c "import base64, os; print('k1:' + base64.b64encode(os.urandom(32)).decode())"
#DUALDB_TOKEN_KEYS=
"""

_SEED = '''\
"""Development data, loaded by `dualdb seed` (it refuses PostgreSQL without --allow-production).

A seed module has `seed(connection, backend) -> lines`: `connection` is the DB-API connection
of the migration tools (sqlite3 or psycopg2), inside one transaction. Keep seeds idempotent.
"""

from __future__ import annotations

from typing import Any

DEV_USER_ID = "01890000-0000-7000-8000-00000000d001"
SEEDED_AT = "2024-01-01 00:00:00.000000+00:00"


def seed(conn: Any, backend: str) -> list[str]:
    mark = "?" if backend == "sqlite" else "%s"
    cursor = conn.cursor()
    try:
        cursor.execute(
            "INSERT INTO users (id, email, name, role, webauthn_counter, created_at, updated_at)"
            f" VALUES ({', '.join([mark] * 7)}) ON CONFLICT (id) DO NOTHING",
            (DEV_USER_ID, "dev@example.com", "Dev User", "admin", 0, SEEDED_AT, SEEDED_AT),
        )
    finally:
        cursor.close()
    return ["user dev@example.com (admin)"]
'''

_FIRST_TITLE = (
    "The application's first migration: it runs after dualdb's own schema (users, sessions, "
    "OAuth).\n\nAdd steps here while it is unreleased; later changes: `dualdb new NAME`."
)

_GITIGNORE = """\
.env
data/
"""


def init_project(root: Path) -> list[tuple[Path, bool]]:
    """Scaffold a project that uses dualdb (``dualdb init``): each path, and whether it was
    written (False: it existed and was kept; nothing the user has is overwritten).

    The first migration of the project's own folder depends on the shipped schema's heads, so
    plain yoyo and ``dualdb migrate`` both apply it after users/sessions/OAuth; the sum and
    the schema snapshot are written so ``dualdb check`` passes once the database is migrated.
    """
    results: list[tuple[Path, bool]] = []

    def write(path: Path, text: str) -> None:
        if path.exists():
            results.append((path, False))
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        results.append((path, True))

    folders = folders_from([SHIPPED_SOURCE, str(root / "migrations")])
    own = folders.own
    existing = own.is_dir() and bool(read_migrations(str(own)))
    if existing:
        # Before anything is written: the project's migrations must load after the shipped
        # ones (an id of its own such as 0001_users would clash with one of dualdb's).
        load_source(folders)
    root.mkdir(parents=True, exist_ok=True)
    write(root / "yoyo.ini", _YOYO_INI.format(shipped=SHIPPED_SOURCE))
    if existing:
        results.append((own, False))
        write(own / SUM_FILE, render_sum(own))
    else:
        created = new_migration(folders, "app", python=True, title=_FIRST_TITLE)
        results.extend((path, True) for path in [*created, own / SUM_FILE])
    write(root / "seeds" / "dev.py", _SEED)
    write(root / ".env.example", _ENV_EXAMPLE)
    write(root / ".gitignore", _GITIGNORE)
    (root / "data").mkdir(exist_ok=True)
    return results
