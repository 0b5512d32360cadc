"""Settings from the environment and .env: defaults, every variable, bad values, redaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dualdb import ConfigurationError, Settings, load_settings
from dualdb.migrate.connection import scrub


def load(env: dict[str, str], **kwargs: Any) -> Settings:
    return load_settings(env, env_file=None, **kwargs)


def test_no_environment_means_sqlite_in_data_folder() -> None:
    settings = load({})
    assert settings.backend == "sqlite"
    assert settings.sqlite_file == "./data/app.db"


def test_sqlite_file_variable_sets_the_path() -> None:
    assert load({"SQLITE_FILE": "/tmp/x.db"}).sqlite_file == "/tmp/x.db"


@pytest.mark.parametrize("alias", ["postgresql", "postgres", "pg", "PG", " Postgres "])
def test_db_type_accepts_postgres_aliases(alias: str) -> None:
    settings = load({"DB_TYPE": alias, "DB_NAME": "app"})
    assert settings.backend == "postgresql"


def test_bad_db_type_names_variable_and_accepted_values() -> None:
    with pytest.raises(ConfigurationError) as info:
        load({"DB_TYPE": "mysql"})
    assert info.value.variable == "DB_TYPE"
    assert "sqlite" in str(info.value) and "postgresql" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_database_url_alone_chooses_the_backend() -> None:
    settings = load({"DATABASE_URL": "postgres://u:pw@db.example:6543/app"})
    assert (settings.backend, settings.host, settings.port) == ("postgresql", "db.example", 6543)
    assert (settings.user, settings.password, settings.database) == ("u", "pw", "app")


def test_sqlite_url_relative_and_absolute_paths() -> None:
    assert load({"DATABASE_URL": "sqlite:///data/x.db"}).sqlite_file == "data/x.db"
    assert load({"DATABASE_URL": "sqlite:////abs/x.db"}).sqlite_file == "/abs/x.db"
    assert load({"DATABASE_URL": "sqlite:///:memory:"}).sqlite_file == ":memory:"


def test_db_type_disagreeing_with_url_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="DB_TYPE") as info:
        load({"DB_TYPE": "sqlite", "DATABASE_URL": "postgresql://u:pw@h/app"})
    assert "pw" not in str(info.value)


def test_postgres_from_parts() -> None:
    settings = load(
        {
            "DB_TYPE": "pg",
            "DB_HOST": "h",
            "DB_PORT": "5433",
            "DB_USER": "u",
            "DB_PASSWORD": "s3cret",
            "DB_NAME": "app",
        }
    )
    assert (settings.host, settings.port, settings.user, settings.database) == (
        "h",
        5433,
        "u",
        "app",
    )
    assert settings.password == "s3cret"


def test_postgres_without_database_name_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="DB_NAME"):
        load({"DB_TYPE": "postgresql"})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DB_PORT", "abc"),
        ("DB_PORT", "70000"),
        ("DB_POOL_MAX_SIZE", "0"),
        ("DB_POOL_MIN_SIZE", "-1"),
        ("DB_CONNECT_TIMEOUT", "soon"),
        ("DB_STATEMENT_CACHE_SIZE", "1.5"),
        ("SQLITE_BUSY_TIMEOUT", "-3"),
        ("DB_SSLMODE", "sometimes"),
    ],
)
def test_bad_number_names_the_variable(variable: str, value: str) -> None:
    env = {"DB_TYPE": "postgresql", "DB_NAME": "app", variable: value}
    with pytest.raises(ConfigurationError) as info:
        load(env)
    assert info.value.variable == variable
    assert variable in str(info.value)


def test_sqlite_inline_reads_is_on_unless_turned_off() -> None:
    assert load({"DB_TYPE": "sqlite"}).sqlite_inline_reads is True
    assert load({"DB_TYPE": "sqlite", "SQLITE_INLINE_READS": "off"}).sqlite_inline_reads is False
    assert load({"DB_TYPE": "sqlite", "SQLITE_INLINE_READS": "1"}).sqlite_inline_reads is True


def test_sqlite_inline_reads_that_is_not_a_yes_or_no_names_the_variable() -> None:
    with pytest.raises(ConfigurationError) as info:
        load({"DB_TYPE": "sqlite", "SQLITE_INLINE_READS": "sometimes"})
    assert info.value.variable == "SQLITE_INLINE_READS"
    with pytest.raises(ConfigurationError) as info:
        load({"DB_TYPE": "sqlite"}).with_options(sqlite_inline_reads="no")
    assert info.value.variable == "SQLITE_INLINE_READS"


def test_pool_and_timeout_variables_are_read() -> None:
    settings = load(
        {
            "DATABASE_URL": "postgresql://u@h/app?sslmode=require&application_name=x",
            "DB_POOL_MIN_SIZE": "2",
            "DB_POOL_MAX_SIZE": "7",
            "DB_POOL_TIMEOUT": "1.5",
            "DB_IDLE_TIMEOUT": "12",
            "DB_CONNECT_TIMEOUT": "0.5",
            "DB_STATEMENT_TIMEOUT": "3",
            "DB_STATEMENT_CACHE_SIZE": "0",
            "DB_SLOW_QUERY_SECONDS": "0.25",
        }
    )
    assert settings.sslmode == "require"
    assert settings.url_options == (("application_name", "x"),)
    assert (settings.pool_min_size, settings.pool_max_size, settings.pool_timeout) == (2, 7, 1.5)
    assert (settings.idle_timeout, settings.connect_timeout) == (12.0, 0.5)
    assert (settings.statement_timeout, settings.statement_cache_size) == (3.0, 0)
    assert settings.slow_query_threshold == 0.25


def test_defaults_match_the_documented_ones() -> None:
    settings = Settings()
    assert (settings.pool_max_size, settings.idle_timeout, settings.connect_timeout) == (
        20,
        30.0,
        2.0,
    )


def test_db_sslmode_applies_when_url_has_none() -> None:
    settings = load({"DATABASE_URL": "postgresql://u@h/app", "DB_SSLMODE": "verify-full"})
    assert settings.sslmode == "verify-full"


def test_min_pool_larger_than_max_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="DB_POOL_MIN_SIZE"):
        load({"DB_POOL_MIN_SIZE": "5", "DB_POOL_MAX_SIZE": "2"})


def test_unsupported_url_scheme_is_an_error_without_the_password() -> None:
    with pytest.raises(ConfigurationError) as info:
        load({"DATABASE_URL": "mysql://root:hunter2@h/app"})
    assert info.value.variable == "DATABASE_URL"
    assert "hunter2" not in str(info.value)


def test_malformed_url_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        load({"DATABASE_URL": "not a url"})


def test_password_never_in_repr_or_display_url() -> None:
    settings = load({"DATABASE_URL": "postgresql://u:hunter2@h/app"})
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in settings.display_url()
    assert "***" in settings.display_url()


def test_special_characters_in_password_survive_the_url() -> None:
    settings = load({"DATABASE_URL": "postgresql://u:p%40ss%2Fw@h/app"})
    assert settings.password == "p@ss/w"
    assert "p%40ss%2Fw" in settings.postgres_url()


def test_env_file_is_read_and_real_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SQLITE_FILE=/from/dotenv.db\nDB_POOL_MAX_SIZE=3\n")
    settings = load_settings({"DB_POOL_MAX_SIZE": "9"}, env_file=env_file)
    assert settings.sqlite_file == "/from/dotenv.db"
    assert settings.pool_max_size == 9


def test_keyword_options_override_everything() -> None:
    settings = load({"DB_POOL_MAX_SIZE": "9"}, pool_max_size=4)
    assert settings.pool_max_size == 4


def test_unknown_keyword_option_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="pool_max"):
        load({}, pool_max=3)


def test_zero_statement_timeout_means_off() -> None:
    assert load({"DB_STATEMENT_TIMEOUT": "0"}).statement_timeout is None


@pytest.mark.parametrize(
    ("line", "password"),
    [
        ("DB_PASSWORD=pa${HOME}ss", "pa${HOME}ss"),
        ("DB_PASSWORD='pa$HOME${USER}ss'", "pa$HOME${USER}ss"),
        ('DATABASE_URL="postgresql://u:x${HOME}y@h/app"', "x${HOME}y"),
    ],
)
def test_env_file_values_are_taken_literally_without_interpolation(
    tmp_path: Path, line: str, password: str
) -> None:
    """Secrets often contain ``$``: ``pa${HOME}ss`` must not become ``pa/rootss``."""
    env_file = tmp_path / ".env"
    env_file.write_text(f"DB_TYPE=postgresql\nDB_NAME=app\n{line}\n")
    settings = load_settings({"HOME": "/root", "USER": "me"}, env_file=env_file)
    assert settings.password == password


def test_a_password_given_as_a_url_option_is_the_password_and_never_shown() -> None:
    """libpq reads ``?password=`` as the password; it is neither sent to the server as
    a setting nor shown by ``display_url()`` or ``repr``."""
    settings = load({"DATABASE_URL": "postgresql://u@h/app?password=S3cret&application_name=a"})
    assert settings.password == "S3cret"
    assert dict(settings.url_options) == {"application_name": "a"}
    for shown in (settings.display_url(), repr(settings), str(settings)):
        assert "S3cret" not in shown


@pytest.mark.parametrize("option", ["sslpassword", "passfile", "SSLPASSWORD"])
def test_secret_url_options_are_masked_wherever_settings_are_shown(option: str) -> None:
    settings = load({"DATABASE_URL": f"postgresql://u:pw@h/app?{option}=S3cret"})
    for shown in (settings.display_url(), repr(settings)):
        assert "S3cret" not in shown and "pw@" not in shown
    assert "S3cret" in settings.postgres_url()  # (for the driver only)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "cannot connect to postgresql://postgres:postgres@h:5432/postgres",
            "cannot connect to postgresql://postgres:***@h:5432/postgres",
        ),
        ("postgresql://u:p@ss@h/db failed", "postgresql://u:***@h/db failed"),
        ("host=h password='a b\\'c' user=u", "host=h password=*** user=u"),
        ("x?sslpassword=abc&passfile=/p/q", "x?sslpassword=***&passfile=***"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
    ],
)
def test_messages_are_scrubbed_by_the_position_of_a_password(text: str, masked: str) -> None:
    assert scrub(text) == masked


@pytest.mark.parametrize("option", ["standard_conforming_strings=off", "backslash_quote=on"])
def test_a_url_option_that_would_let_a_backslash_end_a_literal_is_refused(option: str) -> None:
    with pytest.raises(ConfigurationError, match="standard_conforming_strings"):
        load({"DATABASE_URL": f"postgresql://u@h/app?{option}"})


@settings(max_examples=300)
@given(password=st.text(min_size=4, max_size=40).filter(lambda p: p.strip() == p and p))
def test_any_password_is_never_shown_wherever_settings_are(password: str) -> None:
    """Quotes, ``@``, ``%``, ``$``, format strings, NUL, non-ASCII: given as DB_PASSWORD,
    the password is the settings' password and appears in no repr, URL shown or message."""
    env = {"DB_TYPE": "postgresql", "DB_NAME": "app", "DB_USER": "u", "DB_PASSWORD": password}
    refused: ConfigurationError | None = None
    try:
        settings_ = load(env)
    except ConfigurationError as exc:
        refused = exc
    if refused is not None:
        assert password not in str(refused)
        return
    assert settings_.password == password
    # What is shown is what another password shows: the password changes none of it
    # (``password in repr(...)`` would be true of a password such as "None").
    other = load({**env, "DB_PASSWORD": "another"})
    assert repr(settings_) == repr(other)
    assert settings_.display_url() == other.display_url()
    assert str(settings_) == str(other)


# ------------------------------------------------------------- libpq's connection parameters


def test_a_multi_host_url_keeps_every_host_in_order() -> None:
    settings = load({"DATABASE_URL": "postgresql://u@db1:5433,db2,[::1]:5434/app"})
    assert settings.endpoints() == (("db1", 5433), ("db2", 5432), ("::1", 5434))
    assert settings.display_url() == "postgresql://u@db1:5433,db2:5432,[::1]:5434/app"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@/app?host=/var/run/postgresql",
        "postgresql://u@%2Fvar%2Frun%2Fpostgresql/app",
    ],
    ids=["host parameter", "percent-encoded host"],
)
def test_a_socket_folder_is_a_host(url: str) -> None:
    assert load({"DATABASE_URL": url}).endpoints() == (("/var/run/postgresql", 5432),)


@pytest.mark.parametrize(
    "url",
    ["postgresql://u@h:0/app", "postgresql://u@h:70000/app", "postgresql://u@h:x/app"],
)
def test_a_port_outside_1_to_65535_is_an_error(url: str) -> None:
    """Port 0 used to target 5432 silently."""
    with pytest.raises(ConfigurationError, match="port"):
        load({"DATABASE_URL": url})


def test_connection_parameters_go_to_the_driver_and_settings_to_the_server() -> None:
    settings = load(
        {
            "DATABASE_URL": "postgresql://u@h/app?sslmode=verify-full&sslrootcert=/ca.crt"
            "&target_session_attrs=read-write&connect_timeout=7&application_name=api"
            "&options=-c%20search_path%3Dapp"
        }
    )
    assert settings.sslmode == "verify-full"
    assert settings.connect_options == (
        ("sslrootcert", "/ca.crt"),
        ("target_session_attrs", "read-write"),
    )
    assert settings.connect_timeout == 7
    assert settings.url_options == (("application_name", "api"), ("search_path", "app"))


def test_the_urls_connect_timeout_wins_over_the_variable() -> None:
    url = "postgresql://u@h/app?connect_timeout=9"
    assert load({"DATABASE_URL": url, "DB_CONNECT_TIMEOUT": "3"}).connect_timeout == 9


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("target_session_attrs=bogus", "target_session_attrs"),
        ("connect_timeout=0", "connect_timeout"),
        ("connect_timeout=soon", "connect_timeout"),
        ("service=prod", "service"),
        ("options=-x", "options"),
    ],
)
def test_a_bad_connection_parameter_is_an_error_naming_it(query: str, error: str) -> None:
    with pytest.raises(ConfigurationError, match=error):
        load({"DATABASE_URL": f"postgresql://u@h/app?{query}"})


def test_libpq_variables_fill_in_where_dualdbs_are_not_set() -> None:
    settings = load(
        {
            "DB_TYPE": "postgresql",
            "PGHOST": "a,b",
            "PGPORT": "6432",
            "PGUSER": "svc",
            "PGDATABASE": "app",
            "PGSSLMODE": "require",
            "DB_USER": "mine",
        }
    )
    assert settings.endpoints() == (("a", 6432), ("b", 6432))
    assert (settings.user, settings.database, settings.sslmode) == ("mine", "app", "require")


def test_libpq_variables_are_defaults_under_a_url_too() -> None:
    """As libpq (``dualdb migrate``) reads them: what the URL leaves unsaid."""
    settings = load(
        {
            "DATABASE_URL": "postgresql://u@h/app?sslrootcert=/mine.crt",
            "PGAPPNAME": "billing",
            "PGSSLROOTCERT": "/theirs.crt",
            "PGSSLKEY": "/k.key",
        }
    )
    assert dict(settings.url_options) == {"application_name": "billing"}
    assert dict(settings.connect_options) == {"sslrootcert": "/mine.crt", "sslkey": "/k.key"}


def test_a_bad_sslmode_names_every_place_it_may_come_from() -> None:
    with pytest.raises(ConfigurationError, match=r"\?sslmode= in DATABASE_URL"):
        load({"DATABASE_URL": "postgresql://u@h/app?sslmode=bogus"})
