"""Litestar recipe: dualdb on app state, one transaction per request, dualdb.auth sessions.

Run it (after ``dualdb migrate``; settings come from the environment as everywhere in
dualdb: ``DATABASE_URL``, ``DB_*``, ``.env``)::

    litestar --app examples.litestar_app:app run

**The pitfall: commit before the response is sent.** A per-request transaction is a
generator dependency, ``async with db.transaction() as tx: yield tx``, and its COMMIT is
the code after ``yield``. If that code ran after the response was sent, a COMMIT that
fails (a ``DEFERRABLE INITIALLY DEFERRED`` constraint is only checked then, a
serialization failure, a lost connection) would leave the client with ``201 Created`` for
data that was never written. Litestar (checked on 2.25) runs a generator dependency's
cleanup after the handler returns and *before* the response is sent, and a COMMIT's
exception goes to the exception handlers: here a ``409`` for an integrity error, else a
``500``, and a session cookie the handler set is dropped with its response. Keep
``provide_transaction`` the only generator dependency of a route: with several, Litestar
closes them concurrently and raises their errors as an ``ExceptionGroup``, which the
``IntegrityError`` handler does not match (still a ``500``, never a ``2xx``).
``tests/examples/test_example_apps.py`` pins the behaviour.

Routes: ``POST /signup``, ``POST /login`` (a DEMO, off by default: see :func:`create_app`),
``POST /logout``, ``GET /me``, and an OAuth sign-in (``GET /oauth/start``, ``GET
/oauth/callback``) whose provider is a dependency (``oauth_provider``), so that tests
inject a fake one and no request leaves the process.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Protocol, runtime_checkable
from uuid import UUID

from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.params import CookieParameter, FromQuery, JSONBody, QueryParameter
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

import dualdb
from dualdb import auth

SESSION_TTL = timedelta(days=14)  # extended on use (sliding) ...
SESSION_MAX_LIFETIME = timedelta(days=90)  # ... but never beyond this after sign-in
SESSION_COOKIE = "sid"
BINDING_COOKIE = "oauth_binding"  # ties an OAuth state to the browser that started it

SessionToken = Annotated[str | None, CookieParameter(name=SESSION_COOKIE)]
BrowserBinding = Annotated[str | None, CookieParameter(name=BINDING_COOKIE)]
# Dependencies by name (the keys of ``create_app``'s ``dependencies``).
Db = NamedDependency[dualdb.Database]
Tx = NamedDependency[dualdb.Transaction]


# --------------------------------------------------------------------------- the database


@asynccontextmanager
async def db_lifespan(app: Litestar) -> AsyncGenerator[None, None]:
    """Open the pool at startup (from the environment), close it at shutdown."""
    async with dualdb.connect() as db:
        app.state.db = db
        yield


def provide_db(state: State) -> dualdb.Database:
    db: dualdb.Database = state.db
    return db


async def provide_transaction(db: Db) -> AsyncIterator[dualdb.Transaction]:
    """The request's transaction (dependency ``tx``): committed after the handler returns
    and before the response is sent (see the module docstring); rolled back if it raises.
    Litestar resolves it once per request, so ``user`` and the handler share it."""
    async with db.transaction() as tx:
        yield tx


# --------------------------------------------------------------------------- the user


async def provide_user(tx: Tx, sid: SessionToken = None) -> auth.User:
    """The signed-in user (dependency ``user``), or 401. Validation slides the session's
    expiry at most once per 5 minutes, in the request's transaction."""
    found = None
    if sid is not None:
        found = await auth.validate_session(
            tx, sid, sliding=SESSION_TTL, max_lifetime=SESSION_MAX_LIFETIME
        )
    if found is None:
        raise NotAuthorizedException("not signed in")
    return found.user


@dataclass(frozen=True)
class UserOut:
    id: UUID
    email: str
    name: str | None

    @classmethod
    def of(cls, user: auth.User) -> UserOut:
        return cls(id=user.id, email=user.email, name=user.name)


@dataclass(frozen=True)
class SignUp:
    email: str
    name: str | None = None


@dataclass(frozen=True)
class DemoLogin:
    email: str


def session_cookie(token: str) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        max_age=int(SESSION_MAX_LIFETIME.total_seconds()),
        httponly=True,
        secure=True,
        samesite="lax",
    )


def client_of(request: Request[object, object, State]) -> tuple[str | None, str | None]:
    """(ip, user agent) to store with a session."""
    ip = None if request.client is None else request.client.host
    return ip, request.headers.get("user-agent")


# --------------------------------------------------------------------------- OAuth


@dataclass(frozen=True)
class ProviderIdentity:
    """What the provider says about the user, after the code exchange."""

    id: str  # the provider's stable account id, not the email
    email: str
    name: str | None
    access_token: str
    refresh_token: str | None = None


@runtime_checkable  # Litestar checks a dependency against its annotation
class OAuthProvider(Protocol):
    """The part that talks to the provider (with an HTTP client such as httpx)."""

    name: str

    def authorize_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str: ...

    async def exchange(
        self, code: str, code_verifier: str | None, redirect_uri: str
    ) -> ProviderIdentity: ...


def no_oauth_provider() -> OAuthProvider:
    raise HTTPException(status_code=501, detail="no OAuth provider configured")


# --------------------------------------------------------------------------- handlers


def invalid_email(request: Request[object, object, State], exc: Exception) -> Response[str]:
    return Response("not an email address", status_code=422)


def conflict(request: Request[object, object, State], exc: Exception) -> Response[str]:
    # Also raised by a COMMIT that a deferred constraint refused: nothing was written.
    return Response(
        "already registered" if isinstance(exc, auth.EmailTaken) else "conflict",
        status_code=409,
    )


@post("/signup", status_code=201)
async def sign_up(
    data: JSONBody[SignUp], request: Request[object, object, State], tx: Tx
) -> Response[UserOut]:
    # The user and its first session in the request's one transaction.
    user = await auth.create_user(tx, data.email, name=data.name)
    issued = await auth.create_session(tx, user.id, SESSION_TTL, *client_of(request))
    return Response(UserOut.of(user), status_code=201, cookies=[session_cookie(issued.token)])


@post("/login", status_code=200)
async def demo_log_in(
    data: JSONBody[DemoLogin], request: Request[object, object, State], tx: Tx
) -> Response[UserOut]:
    """DEMO ONLY (see :func:`create_app`): signs in whoever knows the address."""
    user = await auth.get_user_by_email(tx, data.email)
    if user is None:
        raise NotAuthorizedException("unknown user")
    issued = await auth.create_session(tx, user.id, SESSION_TTL, *client_of(request))
    return Response(UserOut.of(user), cookies=[session_cookie(issued.token)])


@post("/logout", status_code=204)
async def log_out(tx: Tx, sid: SessionToken = None) -> Response[None]:
    if sid is not None:
        await auth.revoke_session(tx, sid)
    return Response(None, status_code=204, cookies=[Cookie(key=SESSION_COOKIE, max_age=0)])


@get("/me")
async def me(user: NamedDependency[auth.User]) -> UserOut:
    return UserOut.of(user)


@get("/oauth/start")
async def oauth_start(
    request: Request[object, object, State],
    db: Db,
    oauth_provider: NamedDependency[OAuthProvider],
    binding: BrowserBinding = None,
) -> Redirect:
    binding = binding or auth.new_token()  # a random value kept in this browser
    verifier = secrets.token_urlsafe(48)  # PKCE
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    redirect_uri = str(request.url_for("oauth_callback"))
    state = await auth.create_state(db, redirect_uri, verifier, browser_binding=binding)
    url = oauth_provider.authorize_url(
        state=state, code_challenge=challenge, redirect_uri=redirect_uri
    )
    cookie = Cookie(key=BINDING_COOKIE, value=binding, httponly=True, secure=True, samesite="lax")
    return Redirect(url, status_code=303, cookies=[cookie])


@get("/oauth/callback", name="oauth_callback")
async def oauth_callback(
    code: FromQuery[str],
    oauth_state: Annotated[str, QueryParameter(name="state")],
    request: Request[object, object, State],
    db: Db,
    oauth_provider: NamedDependency[OAuthProvider],
    binding: BrowserBinding = None,
) -> Response[UserOut]:
    # No request transaction here: the code exchange is a network call, and a transaction
    # must not stay open (on SQLite: hold the write lock) across it.
    # Single use, unexpired, and only in the browser that started the flow.
    flow = await auth.consume_state(db, oauth_state, binding)
    if flow is None:
        raise HTTPException(status_code=400, detail="invalid or expired sign-in")
    identity = await oauth_provider.exchange(code, flow.code_verifier, flow.redirect_uri)
    async with db.transaction() as tx:  # committed (or raised) before the response
        user = await auth.find_user_by_account(tx, oauth_provider.name, identity.id)
        if user is None:
            # First sign-in: a new account. An address that is taken is a 409 (sign in and
            # link from the settings instead: linking by email alone would hand the
            # account to whoever controls that provider account).
            user = await auth.create_user(tx, identity.email, name=identity.name)
        await auth.link_account(
            tx,
            user.id,
            oauth_provider.name,
            identity.id,
            access_token=identity.access_token,
            refresh_token=identity.refresh_token,
        )
        issued = await auth.create_session(tx, user.id, SESSION_TTL, *client_of(request))
    return Response(UserOut.of(user), cookies=[session_cookie(issued.token)])


def create_app(
    *,
    oauth_provider: OAuthProvider | None = None,
    demo_login: bool = False,
) -> Litestar:
    """The application. ``demo_login`` adds ``POST /login``, which signs anyone in who
    knows an address: a DEMO of session creation, never for production (sign in with a
    passkey, see ``dualdb.auth.record_webauthn_use``, or OAuth). Routes added with
    ``app.register(handler)`` may take ``tx``, ``db`` and ``user`` too."""
    handlers: list[ControllerRouterHandler] = [
        sign_up,
        log_out,
        me,
        oauth_start,
        oauth_callback,
    ]
    if demo_login:
        handlers.append(demo_log_in)

    def provide_oauth_provider() -> OAuthProvider:
        return no_oauth_provider() if oauth_provider is None else oauth_provider

    return Litestar(
        route_handlers=handlers,
        lifespan=[db_lifespan],
        dependencies={
            "db": Provide(provide_db, sync_to_thread=False),
            "tx": Provide(provide_transaction),
            "user": Provide(provide_user),
            "oauth_provider": Provide(provide_oauth_provider, sync_to_thread=False),
        },
        exception_handlers={auth.InvalidEmail: invalid_email, dualdb.IntegrityError: conflict},
    )


app = create_app(demo_login=os.environ.get("DUALDB_DEMO_LOGIN", "").lower() in ("1", "true"))
