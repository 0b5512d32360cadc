"""Every error class, raised by a real violation on both backends, chained to the driver's."""

from __future__ import annotations

import uuid

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

        async with schema.transaction(isolation="serializable") as tx:
            assert await tx.fetch_val(age) == 1
            if backend == "sqlite":
                with pytest.raises(dualdb.SerializationFailure):
                    await concurrent_bump()
                await tx.execute(bump, id=uid)
            else:
                await concurrent_bump()
                with pytest.raises(dualdb.SerializationFailure):
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
