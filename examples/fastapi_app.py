"""FastAPI recipe: dualdb on app state, one transaction per request, dualdb.auth sessions.

Run it (after ``dualdb migrate``; settings come from the environment as everywhere in
dualdb: ``DATABASE_URL``, ``DB_*``, ``.env``)::

    uvicorn examples.fastapi_app:app

**The pitfall: commit before the response is sent.** The natural per-request transaction
is a dependency with ``yield``: ``async with db.transaction() as tx: yield tx``. With
FastAPI's default dependency scope (``"request"``), the code after ``yield`` -- here the
COMMIT -- runs *after the response has been sent* (checked on FastAPI 0.165; the test
suite pins it). A COMMIT that fails (a ``DEFERRABLE INITIALLY DEFERRED`` constraint is only
checked then, a serialization failure, a lost connection) then reaches no exception
handler: the client has already been told ``200 OK`` for data that was never written.
This recipe declares the dependency with ``scope="function"``, whose exit code runs once
the path operation has returned (its response prepared) and before anything is sent: a
failed COMMIT replaces that response with
a ``409`` (an integrity error) or a ``500``, and a session cookie set on the way is
dropped with it. ``tests/examples/test_example_apps.py`` pins both.

Routes: ``POST /signup``, ``POST /login`` (a DEMO, off by default: see :func:`create_app`),
``POST /logout``, ``GET /me``, and an OAuth sign-in (``GET /oauth/start``, ``GET
/oauth/callback``) whose provider is a dependency (:func:`get_oauth_provider`), so that
tests inject a fake one and no request leaves the process.
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
from typing import Annotated, Protocol
from uuid import UUID

from fastapi import Cookie, Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel

import dualdb
from dualdb import auth

SESSION_TTL = timedelta(days=14)  # extended on use (sliding) ...
SESSION_MAX_LIFETIME = timedelta(days=90)  # ... but never beyond this after sign-in
SESSION_COOKIE = "sid"
BINDING_COOKIE = "oauth_binding"  # ties an OAuth state to the browser that started it


# --------------------------------------------------------------------------- the database


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncGenerator[None, None]:
    """Open the pool at startup (from the environment), close it at shutdown."""
    async with dualdb.connect() as db:
        app.state.db = db
        yield


def get_db(request: Request) -> dualdb.Database:
    db: dualdb.Database = request.app.state.db
    return db


Db = Annotated[dualdb.Database, Depends(get_db)]


async def request_transaction(db: Db) -> AsyncIterator[dualdb.Transaction]:
    """The request's transaction: committed when the path operation returns, before the
    response is sent (see the module docstring); rolled back if it raises."""
    async with db.transaction() as tx:
        yield tx


#: Use this, never a plain ``Depends(request_transaction)`` (scope "request": the COMMIT
#: would run after the response was sent). FastAPI resolves it once per request, so
#: ``current_user`` and the route share one transaction.
Tx = Annotated[dualdb.Transaction, Depends(request_transaction, scope="function")]


# --------------------------------------------------------------------------- the user


async def current_user(
    tx: Tx, sid: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None
) -> auth.User:
    """The signed-in user, or 401. Validation slides the session's expiry at most once
    per 5 minutes, in the request's transaction."""
    found = None
    if sid is not None:
        found = await auth.validate_session(
            tx, sid, sliding=SESSION_TTL, max_lifetime=SESSION_MAX_LIFETIME
        )
    if found is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not signed in")
    return found.user


CurrentUser = Annotated[auth.User, Depends(current_user)]


class UserOut(BaseModel):
    id: UUID
    email: str
    name: str | None

    @classmethod
    def of(cls, user: auth.User) -> UserOut:
        return cls(id=user.id, email=user.email, name=user.name)


class SignUp(BaseModel):
    email: str
    name: str | None = None


class DemoLogin(BaseModel):
    email: str


def set_session_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_MAX_LIFETIME.total_seconds()),
        httponly=True,
        secure=True,
        samesite="lax",
    )


def client_of(request: Request) -> tuple[str | None, str | None]:
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


class OAuthProvider(Protocol):
    """The part that talks to the provider (with an HTTP client such as httpx)."""

    name: str

    def authorize_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str: ...

    async def exchange(
        self, code: str, code_verifier: str | None, redirect_uri: str
    ) -> ProviderIdentity: ...


def get_oauth_provider() -> OAuthProvider:
    """Replace with your provider (``app.dependency_overrides[get_oauth_provider]``)."""
    raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, "no OAuth provider configured")


Provider = Annotated[OAuthProvider, Depends(get_oauth_provider)]


# --------------------------------------------------------------------------- the app


def create_app(*, demo_login: bool = False) -> FastAPI:
    """The application. ``demo_login`` adds ``POST /login``, which signs anyone in who
    knows an address: a DEMO of session creation, never for production (sign in with a
    passkey, see ``dualdb.auth.record_webauthn_use``, or OAuth)."""
    app = FastAPI(lifespan=lifespan)

    @app.exception_handler(auth.InvalidEmail)
    async def invalid_email(request: Request, exc: auth.InvalidEmail) -> JSONResponse:
        return JSONResponse({"detail": "not an email address"}, status_code=422)

    @app.exception_handler(dualdb.IntegrityError)
    async def conflict(request: Request, exc: dualdb.IntegrityError) -> JSONResponse:
        # Also raised by a COMMIT that a deferred constraint refused: nothing was written.
        detail = "already registered" if isinstance(exc, auth.EmailTaken) else "conflict"
        return JSONResponse({"detail": detail}, status_code=409)

    @app.post("/signup", status_code=201)
    async def sign_up(body: SignUp, request: Request, response: Response, tx: Tx) -> UserOut:
        # The user and its first session in the request's one transaction.
        user = await auth.create_user(tx, body.email, name=body.name)
        issued = await auth.create_session(tx, user.id, SESSION_TTL, *client_of(request))
        set_session_cookie(response, issued.token)
        return UserOut.of(user)

    if demo_login:

        @app.post("/login")
        async def log_in(body: DemoLogin, request: Request, response: Response, tx: Tx) -> UserOut:
            user = await auth.get_user_by_email(tx, body.email)
            if user is None:
                raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown user")
            issued = await auth.create_session(tx, user.id, SESSION_TTL, *client_of(request))
            set_session_cookie(response, issued.token)
            return UserOut.of(user)

    @app.post("/logout", status_code=204)
    async def log_out(
        response: Response, tx: Tx, sid: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None
    ) -> None:
        if sid is not None:
            await auth.revoke_session(tx, sid)
        response.delete_cookie(SESSION_COOKIE)

    @app.get("/me")
    async def me(user: CurrentUser) -> UserOut:
        return UserOut.of(user)

    @app.get("/oauth/start")
    async def oauth_start(
        request: Request,
        db: Db,
        provider: Provider,
        binding: Annotated[str | None, Cookie(alias=BINDING_COOKIE)] = None,
    ) -> RedirectResponse:
        binding = binding or auth.new_token()  # a random value kept in this browser
        verifier = secrets.token_urlsafe(48)  # PKCE
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        redirect_uri = str(request.url_for("oauth_callback"))
        state = await auth.create_state(db, redirect_uri, verifier, browser_binding=binding)
        url = provider.authorize_url(
            state=state, code_challenge=challenge, redirect_uri=redirect_uri
        )
        redirect = RedirectResponse(url, status_code=303)
        redirect.set_cookie(BINDING_COOKIE, binding, httponly=True, secure=True, samesite="lax")
        return redirect

    @app.get("/oauth/callback")
    async def oauth_callback(
        code: str,
        state: str,
        request: Request,
        response: Response,
        db: Db,
        provider: Provider,
        binding: Annotated[str | None, Cookie(alias=BINDING_COOKIE)] = None,
    ) -> UserOut:
        # No request transaction here: the code exchange is a network call, and a
        # transaction must not stay open (on SQLite: hold the write lock) across it.
        # Single use, unexpired, and only in the browser that started the flow.
        flow = await auth.consume_state(db, state, binding)
        if flow is None:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "invalid or expired sign-in")
        identity = await provider.exchange(code, flow.code_verifier, flow.redirect_uri)
        async with db.transaction() as tx:  # committed (or raised) before the response
            user = await auth.find_user_by_account(tx, provider.name, identity.id)
            if user is None:
                # First sign-in: a new account. An address that is taken is a 409 (sign in
                # and link from the settings instead: linking by email alone would hand the
                # account to whoever controls that provider account).
                user = await auth.create_user(tx, identity.email, name=identity.name)
            await auth.link_account(
                tx,
                user.id,
                provider.name,
                identity.id,
                access_token=identity.access_token,
                refresh_token=identity.refresh_token,
            )
            issued = await auth.create_session(tx, user.id, SESSION_TTL, *client_of(request))
        set_session_cookie(response, issued.token)
        return UserOut.of(user)

    return app


app = create_app(demo_login=os.environ.get("DUALDB_DEMO_LOGIN", "").lower() in ("1", "true"))
