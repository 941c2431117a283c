"""Token auth and body-size limits, as plain ASGI middleware.

With a token set, every route but ``/api/v1/health`` and the login page needs it: the API as
``Authorization: Bearer TOKEN``, the dashboard as the HTTP-only cookie the login form sets. Comparison is
constant-time; the token is never logged or echoed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from http.cookies import SimpleCookie
from typing import Any

COOKIE = "oddsight_session"
TOO_BIG = "oddsight.too_big"  # set in the ASGI scope when a body passed its limit
OPEN_PATHS = ("/api/v1/health", "/login", "/static/style.css")


def session_value(token: str) -> str:
    """What the cookie holds: a digest of the token, so the token itself never sits in the browser."""
    return hmac.new(token.encode(), b"oddsight-dashboard-session", hashlib.sha256).hexdigest()


def token_ok(token: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(token.encode(), given.encode())


async def _reply(send: Any, status: int, body: dict[str, Any], headers: list | None = None) -> None:
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


class TokenAuth:
    """Refuse requests without the token (401 for the API, a redirect to /login for pages)."""

    def __init__(self, app: Any, token: str | None) -> None:
        self.app, self.token = app, token
        self.session = session_value(token) if token else None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.token is None or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        auth = headers.get("authorization", "")
        bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        cookie = SimpleCookie(headers.get("cookie", "")).get(COOKIE)
        if token_ok(self.token, bearer) or (cookie is not None and token_ok(self.session or "", cookie.value)):
            return await self.app(scope, receive, send)
        if scope["path"].startswith("/api/"):
            reason = "wrong token" if bearer is not None else "this server needs a token: Authorization: Bearer TOKEN"
            return await _reply(send, 401, {"detail": reason}, [(b"www-authenticate", b"Bearer")])
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
            return await _reply(send, 413, {"detail": _too_big(limit)})
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
