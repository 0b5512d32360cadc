"""Every error class, raised by a real violation on both backends, chained to the driver's."""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Awaitable, Callable

import pytest

import dualdb
from dualdb import Param, Query, raw


@pytest.fixture
async def schema(db: dualdb.Database) -> dualdb.Database:
    t = db.dialect.column_type
    await db.execute(
        raw(
            f"""CREATE TABLE parents (
                id {t("uuid")} PRIMARY KEY NOT NULL,
                email {t("text")} NOT NULL CONSTRAINT parents_email_key UNIQUE,
                age {t("integer")} CONSTRAINT parents_age_check CHECK (age >= 0)
            )"""
        )
    )
    await db.execute(
        raw(
            f"""CREATE TABLE children (
                id {t("uuid")} PRIMARY KEY NOT NULL,
                parent_id {t("uuid")} NOT NULL REFERENCES parents (id) ON DELETE CASCADE
            )"""
        )
    )
    return db


parents = dualdb.Table("parents")
children = dualdb.Table("children")
ADD_PARENT = (
    Query.into(parents)
    .columns(parents.id, parents.email, parents.age)
    .insert(Param("id"), Param("email"), Param("age"))
)
ADD_CHILD = (
    Query.into(children)
    .columns(children.id, children.parent_id)
    .insert(Param("id"), Param("parent_id"))
)


async def test_duplicate_unique_value_raises_unique_violation(
    schema: dualdb.Database, backend: str
) -> None:
    await schema.execute(ADD_PARENT, id=uuid.uuid4(), email="a@x", age=1)
    with pytest.raises(dualdb.UniqueViolation) as info:
        await schema.execute(ADD_PARENT, id=uuid.uuid4(), email="a@x", age=2)
    assert info.value.dialect == backend
    assert info.value.__cause__ is not None
    assert isinstance(info.value, dualdb.IntegrityError)
    if backend == "postgresql":
        assert info.value.constraint == "parents_email_key"
    else:
        assert (info.value.table, info.value.column) == ("parents", "email")


async def test_duplicate_primary_key_raises_unique_violation(schema: dualdb.Database) -> None:
    uid = uuid.uuid4()
    await schema.execute(ADD_PARENT, id=uid, email="a@x", age=1)
    with pytest.raises(dualdb.UniqueViolation):
        await schema.execute(ADD_PARENT, id=uid, email="b@x", age=1)


async def test_missing_parent_raises_foreign_key_violation(schema: dualdb.Database) -> None:
    with pytest.raises(dualdb.ForeignKeyViolation):
        await schema.execute(ADD_CHILD, id=uuid.uuid4(), parent_id=uuid.uuid4())


async def test_null_in_not_null_column_raises_not_null_violation(
    schema: dualdb.Database, backend: str
) -> None:
    with pytest.raises(dualdb.NotNullViolation) as info:
        await schema.execute(ADD_PARENT, id=uuid.uuid4(), email=None, age=1)
    assert info.value.column == "email"


async def test_failed_check_raises_check_violation(schema: dualdb.Database) -> None:
    with pytest.raises(dualdb.CheckViolation) as info:
        await schema.execute(ADD_PARENT, id=uuid.uuid4(), email="a@x", age=-1)
    assert info.value.constraint == "parents_age_check"


async def test_delete_cascades_to_children(schema: dualdb.Database) -> None:
    pid = uuid.uuid4()
    await schema.execute(ADD_PARENT, id=pid, email="a@x", age=1)
    await schema.execute(ADD_CHILD, id=uuid.uuid4(), parent_id=pid)
    await schema.execute(Query.from_(parents).delete().where(parents.id == Param("id")), id=pid)
    assert await schema.fetch_val(Query.from_(children).select(dualdb.fn.Count("*"))) == 0


async def test_unknown_table_raises_programming_error(db: dualdb.Database) -> None:
    with pytest.raises(dualdb.ProgrammingError) as info:
        await db.fetch_all(Query.from_("no_such_table").select("*"))
    assert info.value.__cause__ is not None


async def test_syntax_error_raises_programming_error(db: dualdb.Database) -> None:
    with pytest.raises(dualdb.ProgrammingError):
        await db.execute(raw("SELEKT 1"))


async def test_write_conflict_raises_serialization_failure(
    schema: dualdb.Database, database_url: str, backend: str
) -> None:
    """SQLite: a second writer cannot get the write lock. PostgreSQL: a SERIALIZABLE
    transaction cannot update a row a concurrent transaction changed and committed."""
    uid = uuid.uuid4()
    await schema.execute(ADD_PARENT, id=uid, email="a@x", age=1)
    age = Query.from_(parents).select(parents.age)
    bump = Query.update(parents).set(parents.age, parents.age + 1).where(parents.id == Param("id"))
    async with dualdb.connect(database_url, sqlite_busy_timeout=0.05) as other:

        async def concurrent_bump() -> None:
            async with other.transaction(isolation="serializable") as tx2:
                await tx2.execute(bump, id=uid)

        if backend == "sqlite":
            async with schema.transaction(isolation="serializable") as tx:
                assert await tx.fetch_val(age) == 1
                with pytest.raises(dualdb.SerializationFailure):
                    await concurrent_bump()
                await tx.execute(bump, id=uid)
        else:
            with pytest.raises(dualdb.SerializationFailure):
                async with schema.transaction(isolation="serializable") as tx:
                    assert await tx.fetch_val(age) == 1
                    await concurrent_bump()
                    await tx.execute(bump, id=uid)
    assert await schema.fetch_val(age) == 2


async def test_error_message_never_contains_bound_values(schema: dualdb.Database) -> None:
    secret = "s3cr3t-token-value"
    await schema.execute(ADD_PARENT, id=uuid.uuid4(), email=secret, age=1)
    with pytest.raises(dualdb.UniqueViolation) as info:
        await schema.execute(ADD_PARENT, id=uuid.uuid4(), email=secret, age=1)
    assert secret not in str(info.value)
    assert secret not in repr(info.value)


async def test_invalid_text_for_uuid_column_hides_the_value(
    schema: dualdb.Database, backend: str
) -> None:
    if backend == "sqlite":  # SQLite stores any text; nothing to reject
        return
    with pytest.raises(dualdb.DataError) as info:
        await schema.execute(raw("SELECT $1::uuid", "secret-not-a-uuid"))
    assert "secret-not-a-uuid" not in str(info.value)


async def test_wrongly_typed_argument_is_a_data_error_that_hides_the_value(
    schema: dualdb.Database,
) -> None:
    """An int compared with a text column: PostgreSQL refuses it, and so does SQLite."""
    query = Query.from_(parents).select(parents.id).where(parents.email == Param("email"))
    with pytest.raises(dualdb.DataError) as info:
        await schema.fetch_all(query, email=987654321)
    assert "987654321" not in str(info.value)
    assert "got int" in str(info.value)


SECRET = "s3cr3t-7b1f-api-key"
SECRET_ID = uuid.UUID("5ec2e7ed-0000-4000-8000-00000000c0de")


def _violations(db: dualdb.Database) -> dict[str, Callable[[], Awaitable[object]]]:
    """Statements that fail on both backends, each with the secrets among its values."""
    p = db.dialect.placeholder
    raw_insert = f"INSERT INTO parents (id, email, age) VALUES ({p(1)}, {p(2)}, {p(3)})"
    return {
        "unique": lambda: db.execute(ADD_PARENT, id=uuid.uuid4(), email=SECRET, age=2),
        "check": lambda: db.execute(ADD_PARENT, id=SECRET_ID, email=SECRET + "2", age=-1),
        "foreign key": lambda: db.execute(ADD_CHILD, id=uuid.uuid4(), parent_id=SECRET_ID),
        "not a uuid": lambda: db.fetch_all(
            Query.from_(parents).select(parents.id).where(parents.id == Param("id")), id=SECRET
        ),
        "inline literal": lambda: db.execute(
            Query.into(parents)
            .columns(parents.id, parents.email, parents.age)
            .insert(str(SECRET_ID), SECRET, 3)
        ),
        "raw arguments": lambda: db.execute(raw(raw_insert, str(SECRET_ID), SECRET, 4)),
    }


@pytest.mark.parametrize(
    "case", ["unique", "check", "foreign key", "not a uuid", "inline literal", "raw arguments"]
)
async def test_no_traceback_of_a_dualdb_error_shows_a_bound_value(
    schema: dualdb.Database, case: str
) -> None:
    """The driver's exception is not the cause: asyncpg's prints PostgreSQL's DETAIL
    (``Key (email)=(…) already exists``, ``Failing row contains (…)``), and a traceback
    prints the whole chain. The cause is a DriverError, which shows no values."""
    await schema.execute(ADD_PARENT, id=uuid.uuid4(), email=SECRET, age=1)
    with pytest.raises(dualdb.DatabaseError) as info:
        await _violations(schema)[case]()
    printed = "".join(traceback.format_exception(info.value))
    for secret in (SECRET, str(SECRET_ID)):
        assert secret not in printed
        assert secret not in repr(info.value) and secret not in repr(info.value.__cause__)
    assert isinstance(info.value.__cause__, dualdb.DriverError | None)


async def test_the_drivers_detail_is_kept_for_who_asks(
    schema: dualdb.Database, backend: str
) -> None:
    await schema.execute(ADD_PARENT, id=uuid.uuid4(), email=SECRET, age=1)
    with pytest.raises(dualdb.UniqueViolation) as info:
        await schema.execute(ADD_PARENT, id=uuid.uuid4(), email=SECRET, age=2)
    cause = info.value.__cause__
    assert isinstance(cause, dualdb.DriverError)
    if backend == "postgresql":
        assert (cause.driver, cause.sqlstate) == (
            "asyncpg.exceptions.UniqueViolationError",
            "23505",
        )
        assert cause.detail is not None and SECRET in cause.detail
    else:
        assert cause.driver == "sqlite3.IntegrityError"
        assert "SQLITE_CONSTRAINT_UNIQUE" in str(cause)
