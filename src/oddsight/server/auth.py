"""Token auth, dashboard sessions, login throttling and body-size limits, as plain ASGI middleware.

With a token set, every route but ``/api/v1/health`` and the login page needs it: the API as
``Authorization: Bearer TOKEN``, the dashboard as the HTTP-only, SameSite=Strict cookie the login form sets. That
cookie holds a random session id kept on the server (it expires after ``SESSION_S``; ``POST /logout`` ends it),
never the token or anything derived from it. Comparison is constant-time over the UTF-8 bytes; the token is never
logged or echoed. A client that gives a wrong token ``MAX_FAILURES`` times within ``FAILURE_WINDOW_S`` gets 429.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from collections import deque
from http.cookies import CookieError, SimpleCookie
from typing import Any

from oddsight.errors import ConfigError

COOKIE = "oddsight_session"
TOO_BIG = "oddsight.too_big"  # set in the ASGI scope when a body passed its limit
OPEN_PATHS = ("/api/v1/health", "/login", "/static/style.css")
SESSION_S = 12 * 3600.0
MAX_FAILURES = 5
FAILURE_WINDOW_S = 60.0


def check_token(token: str | None) -> None:
    """Refuse a token the server could not use: empty, or with characters a header cannot carry."""
    if token is None:
        return
    if not token.strip():
        raise ConfigError("--token (or $ODDSIGHT_TOKEN) is empty: give a real token, or leave it unset on 127.0.0.1")
    if token != token.strip() or any(ord(c) < 32 or ord(c) == 127 for c in token):
        raise ConfigError("--token must not have spaces at its ends or control characters")


def token_ok(token: str, given: str | bytes | None) -> bool:
    """Constant-time comparison of the UTF-8 bytes (a header arrives as bytes; a form field as text)."""
    if given is None:
        return False
    raw = given if isinstance(given, bytes) else given.encode("utf-8", "surrogatepass")
    return hmac.compare_digest(token.encode("utf-8"), raw)


class Sessions:
    """Dashboard sessions: random ids, each valid for ``SESSION_S`` from its login, in this process's memory
    (a restart logs everyone out)."""

    def __init__(self, lifetime_s: float = SESSION_S) -> None:
        self.lifetime_s = lifetime_s
        self._expires: dict[str, float] = {}

    def new(self) -> str:
        now = time.time()
        self._expires = {s: t for s, t in self._expires.items() if t > now}  # drop the expired ones
        session = secrets.token_urlsafe(32)
        self._expires[session] = now + self.lifetime_s
        return session

    def valid(self, session: str | None) -> bool:
        expires = self._expires.get(session or "")
        return expires is not None and expires > time.time()

    def end(self, session: str | None) -> None:
        self._expires.pop(session or "", None)


class Throttle:
    """At most ``MAX_FAILURES`` failed logins per client within ``FAILURE_WINDOW_S``."""

    def __init__(self, limit: int = MAX_FAILURES, window_s: float = FAILURE_WINDOW_S) -> None:
        self.limit, self.window_s = limit, window_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str) -> deque[float]:
        times = self._failures.setdefault(client, deque())
        while times and times[0] < time.monotonic() - self.window_s:
            times.popleft()
        return times

    def blocked(self, client: str) -> bool:
        return len(self._recent(client)) >= self.limit

    def failed(self, client: str) -> None:
        if len(self._failures) > 10_000:  # many clients: forget the quiet ones
            self._failures = {c: t for c, t in self._failures.items() if self._recent(c)}
        self._recent(client).append(time.monotonic())


def client_of(scope: Any) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "?"


def session_cookie(headers: dict[str, str]) -> str | None:
    try:
        morsel = SimpleCookie(headers.get("cookie", "")).get(COOKIE)
    except CookieError:
        return None
    return morsel.value if morsel is not None else None


async def reply_json(send: Any, status: int, body: dict[str, Any], headers: list | None = None) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
            + (headers or []),
        }
    )
    await send({"type": "http.response.body", "body": data})


TOO_MANY = "too many wrong tokens from this address: wait a minute"


class TokenAuth:
    """Refuse requests without the token or a live session (401 for the API, a redirect to /login for pages);
    429 for a client with too many wrong tokens."""

    def __init__(self, app: Any, token: str | None, sessions: Sessions, throttle: Throttle) -> None:
        self.app, self.token, self.sessions, self.throttle = app, token, sessions, throttle

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.token is None or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        raw = {k.lower(): v for k, v in scope["headers"]}
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw.items()}
        auth = raw.get(b"authorization", b"")
        bearer = auth[7:].strip() if auth[:7].lower() == b"bearer " else None
        if self.sessions.valid(session_cookie(headers)):
            return await self.app(scope, receive, send)
        client = client_of(scope)
        if bearer is not None and self.throttle.blocked(client):
            return await reply_json(send, 429, {"detail": TOO_MANY}, [(b"retry-after", b"60")])
        if token_ok(self.token, bearer):
            return await self.app(scope, receive, send)
        if bearer is not None:
            self.throttle.failed(client)
        if scope["path"].startswith("/api/"):
            reason = "wrong token" if bearer is not None else "this server needs a token: Authorization: Bearer TOKEN"
            return await reply_json(send, 401, {"detail": reason}, [(b"www-authenticate", b"Bearer")])
        await send({"type": "http.response.start", "status": 303, "headers": [(b"location", b"/login")]})
        await send({"type": "http.response.body", "body": b""})


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes (uploads get ``upload_limit``), whether or not the client
    sent a Content-Length: the body is counted as it arrives, and past the limit the app is told the client left
    (it answers 413)."""

    def __init__(self, app: Any, limit: int, upload_limit: int, upload_path: str) -> None:
        self.app, self.limit, self.upload_limit, self.upload_path = app, limit, upload_limit, upload_path

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.upload_limit if scope["path"] == self.upload_path else self.limit
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return await reply_json(send, 413, {"detail": _too_big(limit)})
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # the app sees a client that went away, and answers 413 (see app.py)
                    scope[TOO_BIG] = _too_big(limit)
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted, send)


def _too_big(limit: int) -> str:
    return f"request body over the limit of {limit / 1e6:g} MB"
