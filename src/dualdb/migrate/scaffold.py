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
from dualdb.migrate.checksums import write_sum
from dualdb.migrate.source import Folders, load_source

__all__ = ["new_migration"]

_SQL_TEMPLATE = """\
-- {title}
-- depends: {depends}

-- Portable SQL, one statement per semicolon, run in one transaction on both backends.
-- Column types: UUID, TEXT, INTEGER, BIGINT, BOOLEAN, TIMESTAMPTZ, DOUBLE PRECISION, DATE;
-- json/decimal/bytes differ per backend: use `dualdb new --python` for those.
-- SQLite's ALTER TABLE can ADD/RENAME/DROP a column, not change one: see the README.

"""

_ROLLBACK_TEMPLATE = """\
-- Rollback of {migration_id}: undo {migration_id}.sql, statements in reverse order.

"""

_PYTHON_TEMPLATE = '''\
"""{title}

typed_sql() fills in each backend's type for {{uuid}}, {{json}}, {{decimal}}, {{bytes}}, …;
by_backend() runs different SQL on SQLite and PostgreSQL. Give every step its rollback.
"""

from yoyo import step

from dualdb.migrate.steps import by_backend, typed_sql  # noqa: F401 - for your steps

__depends__ = {{{depends}}}

steps = [
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


def new_migration(directory: Path | Folders, name: str, *, python: bool = False) -> list[Path]:
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
    title = words[:1].upper() + words[1:] + "."
    if python:
        created = [directory / f"{migration_id}.py"]
        text = _PYTHON_TEMPLATE.format(title=title, depends=", ".join(repr(d) for d in depends))
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
