"""The framework recipes (examples/fastapi_app.py, examples/litestar_app.py) as running apps.

Each app runs with its lifespan (asgi-lifespan) behind httpx's ASGI transport, against a
fresh migrated database of the test's own, on both backends: sign-up, demo login, ``/me``,
401s, an OAuth callback with a fake provider, and the point of the per-request
transaction dependency: a COMMIT refused by a ``DEFERRABLE INITIALLY DEFERRED`` foreign key
(PostgreSQL and SQLite both check it only at COMMIT) is a 409, and the row is not there.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import fastapi
import httpx
import litestar
import pytest
from asgi_lifespan import LifespanManager
from fastapi import Depends
from litestar.datastructures import Cookie
from litestar.params import FromQuery

import dualdb
from dualdb import Param, Query, Table, auth, raw

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BASE_URL = "https://testserver"  # https: the session cookie is Secure


def _load(name: str) -> ModuleType:
    """The example file as a module (examples/ is not a package on sys.path)."""
    spec = importlib.util.spec_from_file_location(f"dualdb_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic and dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


fastapi_app = _load("fastapi_app")
litestar_app = _load("litestar_app")

if TYPE_CHECKING:  # mypy cannot import examples/ (not a package): the type they annotate
    FastapiTx = dualdb.Transaction
    LitestarTx = dualdb.Transaction
else:  # the recipes' own dependency aliases, as a route of the application would use them
    FastapiTx = fastapi_app.Tx
    LitestarTx = litestar_app.Tx

#: What the FastAPI recipe warns against: the transaction dependency in FastAPI's default
#: scope ("request"), whose exit (the COMMIT) runs after the response was sent.
DefaultScopeTx = Annotated[dualdb.Transaction, Depends(fastapi_app.request_transaction)]

# The table the failed-commit test adds: its foreign key is checked at COMMIT only.
DEFERRED_DDL = (
    "CREATE TABLE parents (id INTEGER PRIMARY KEY)",
    "CREATE TABLE children (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL"
    " REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)",
    "INSERT INTO parents (id) VALUES (1)",
)
children = Table("children")
ADD_CHILD = (
    Query.into(children)
    .columns(children.id, children.parent_id)
    .insert(Param("id"), Param("parent_id"))
)
CHILD_IDS = Query.from_(children).select(children.id).orderby(children.id)


@dataclass
class FakeProvider:
    """The OAuth provider, without the network: hands out one identity for any code."""

    identity_type: Callable[..., Any]  # each example has its own ProviderIdentity
    name: str = "github"
    challenges: list[str] = field(default_factory=list)
    exchanged: list[tuple[str, str | None, str]] = field(default_factory=list)

    def authorize_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        self.challenges.append(code_challenge)
        query = urlencode({"state": state, "redirect_uri": redirect_uri})
        return f"https://provider.test/authorize?{query}"

    async def exchange(self, code: str, code_verifier: str | None, redirect_uri: str) -> Any:
        self.exchanged.append((code, code_verifier, redirect_uri))
        return self.identity_type(
            id="583231", email="Octocat@Example.com", name="The Octocat", access_token="gho_x"
        )


@dataclass
class Harness:
    app: Any
    provider: FakeProvider
    handled: list[int]  # parent ids whose INSERT the /children route ran to the end


def _fastapi_harness() -> Harness:
    provider = FakeProvider(fastapi_app.ProviderIdentity)
    handled: list[int] = []
    app = fastapi_app.create_app(demo_login=True)
    app.dependency_overrides[fastapi_app.get_oauth_provider] = lambda: provider

    async def add_child(
        id: int, parent_id: int, response: fastapi.Response, tx: FastapiTx
    ) -> dict[str, int]:
        await tx.execute(ADD_CHILD, id=id, parent_id=parent_id)
        response.set_cookie("child", str(id))
        handled.append(parent_id)
        return {"id": id}

    async def add_child_commit_after_response(
        id: int,
        parent_id: int,
        tx: DefaultScopeTx,
    ) -> dict[str, int]:
        await tx.execute(ADD_CHILD, id=id, parent_id=parent_id)
        handled.append(parent_id)
        return {"id": id}

    app.add_api_route("/children", add_child, methods=["POST"], status_code=201)
    app.add_api_route(
        "/children-default-scope",
        add_child_commit_after_response,
        methods=["POST"],
        status_code=201,
    )
    return Harness(app, provider, handled)


def _litestar_harness() -> Harness:
    provider = FakeProvider(litestar_app.ProviderIdentity)
    handled: list[int] = []

    @litestar.post("/children", status_code=201)
    async def add_child(
        id: FromQuery[int], parent_id: FromQuery[int], tx: LitestarTx
    ) -> litestar.Response[dict[str, int]]:
        await tx.execute(ADD_CHILD, id=id, parent_id=parent_id)
        handled.append(parent_id)
        return litestar.Response({"id": id}, cookies=[Cookie(key="child", value=str(id))])

    app = litestar_app.create_app(oauth_provider=provider, demo_login=True)
    app.register(add_child)
    return Harness(app, provider, handled)


HARNESSES = {"fastapi": _fastapi_harness, "litestar": _litestar_harness}


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest) -> Harness:
    return HARNESSES[request.param]()


@pytest.fixture
def app_env(migrated_database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The apps read their settings from the environment, as dualdb.connect() does."""
    monkeypatch.setenv("DATABASE_URL", migrated_database_url)
    monkeypatch.delenv("DB_TYPE", raising=False)
    return migrated_database_url


@asynccontextmanager
async def serve(app: Any, *, raise_app_exceptions: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client,
    ):
        yield client


async def test_sign_up_login_me_logout(harness: Harness, app_env: str) -> None:
    async with serve(harness.app) as client:
        signed_up = await client.post("/signup", json={"email": "Ada@Example.com", "name": "Ada"})
        assert signed_up.status_code == 201, signed_up.text
        user = signed_up.json()
        assert user["email"] == "ada@example.com" and user["name"] == "Ada"
        assert "httponly" in signed_up.headers["set-cookie"].lower()
        me = await client.get("/me")
        assert me.status_code == 200 and me.json() == user

        client.cookies.clear()
        logged_in = await client.post("/login", json={"email": "ada@EXAMPLE.com"})
        assert logged_in.status_code == 200, logged_in.text
        assert (await client.get("/me")).json() == user

        assert (await client.post("/logout")).status_code == 204
        assert (await client.get("/me")).status_code == 401

        taken = await client.post("/signup", json={"email": "ADA@example.com"})
        assert taken.status_code == 409 and "set-cookie" not in taken.headers
        assert (await client.post("/signup", json={"email": "not an email"})).status_code == 422
        assert (await client.post("/login", json={"email": "bob@example.com"})).status_code == 401

    async with dualdb.connect(app_env) as db:
        page = await auth.list_users(db)
        assert [u.email for u in page.items] == ["ada@example.com"]


async def test_me_without_a_valid_session_is_401(harness: Harness, app_env: str) -> None:
    async with serve(harness.app) as client:
        assert (await client.get("/me")).status_code == 401
        client.cookies.set("sid", auth.new_token(), domain="testserver.local")
        assert (await client.get("/me")).status_code == 401
        client.cookies.set("sid", "", domain="testserver.local")
        assert (await client.get("/me")).status_code == 401


async def test_a_commit_refused_by_a_deferred_constraint_is_not_a_success(
    harness: Harness, app_env: str
) -> None:
    async with dualdb.connect(app_env) as db:
        for statement in DEFERRED_DDL:
            await db.execute(raw(statement))

        async with serve(harness.app) as client:
            ok = await client.post("/children", params={"id": 1, "parent_id": 1})
            assert ok.status_code == 201, ok.text
            assert ok.cookies["child"] == "1"
            # The INSERT itself succeeds (the key is deferred): only the COMMIT fails.
            refused = await client.post("/children", params={"id": 2, "parent_id": 404})
            assert refused.status_code == 409, refused.text
            assert "set-cookie" not in refused.headers  # the handler's cookie went with it
            assert harness.handled == [1, 404]
            # The app goes on serving: the failed connection was not handed out again.
            again = await client.post("/children", params={"id": 3, "parent_id": 1})
            assert again.status_code == 201, again.text

        assert [row["id"] for row in await db.fetch_all(CHILD_IDS)] == [1, 3]


async def test_oauth_callback_checks_the_state_and_links_the_account(
    harness: Harness, app_env: str
) -> None:
    async with serve(harness.app) as client:
        started = await client.get("/oauth/start")
        assert started.status_code == 303, started.text
        sent = parse_qs(urlsplit(started.headers["location"]).query)
        state, redirect_uri = sent["state"][0], sent["redirect_uri"][0]
        assert redirect_uri == f"{BASE_URL}/oauth/callback"
        binding = client.cookies["oauth_binding"]

        # Another browser (no binding cookie) cannot use the state.
        client.cookies.delete("oauth_binding")
        stolen = await client.get("/oauth/callback", params={"code": "c1", "state": state})
        assert stolen.status_code == 400
        assert harness.provider.exchanged == []
        client.cookies.set("oauth_binding", binding, domain="testserver.local")

        done = await client.get("/oauth/callback", params={"code": "c1", "state": state})
        assert done.status_code == 200, done.text
        user = done.json()
        assert user["email"] == "octocat@example.com"
        assert (await client.get("/me")).json() == user
        # PKCE: the verifier the exchange got is the one the challenge was made from.
        ((code, verifier, uri),) = harness.provider.exchanged
        assert (code, uri) == ("c1", redirect_uri) and verifier is not None
        digest = hashlib.sha256(verifier.encode()).digest()
        assert (
            base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            == (harness.provider.challenges[0])
        )

        # A state is single-use.
        replay = await client.get("/oauth/callback", params={"code": "c2", "state": state})
        assert replay.status_code == 400
        assert (
            await client.get("/oauth/callback", params={"code": "c", "state": "x"})
        ).status_code == 400

    async with dualdb.connect(app_env) as db:
        account = await auth.get_account(db, "github", "583231")
        assert account is not None and str(account.user_id) == user["id"]
        assert account.access_token == "gho_x"


async def test_fastapi_pitfall_a_default_scope_dependency_commits_after_the_response(
    app_env: str,
) -> None:
    """Pins the installed FastAPI's behaviour that the recipe's ``scope="function"``
    avoids: with the default scope the client is told 201 for a row that was never
    written (the COMMIT fails after the response went out). If this starts failing,
    FastAPI changed when a dependency's exit code runs: re-check the recipe."""
    harness = _fastapi_harness()
    async with dualdb.connect(app_env) as db:
        for statement in DEFERRED_DDL:
            await db.execute(raw(statement))
        async with serve(harness.app, raise_app_exceptions=False) as client:
            lied = await client.post("/children-default-scope", params={"id": 2, "parent_id": 404})
            assert lied.status_code == 201
            assert harness.handled == [404]
        assert await db.fetch_all(CHILD_IDS) == []
