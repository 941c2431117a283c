"""What a browser may do to this server, checked once for every request (plain ASGI middleware):

- the ``Host`` header must name this server (its bound address, ``localhost``, or an ``--allowed-host``): a page
  on another site whose name was re-pointed at 127.0.0.1 (DNS rebinding) gets 421;
- a state-changing request (POST, PUT, PATCH, DELETE) from a browser must come from this server's own origin
  (``Origin``, else ``Referer``, else ``Sec-Fetch-Site``): a form or script on another site gets 403;
- every reply carries headers that keep it out of other sites' frames and stop content sniffing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from oddsight.server.auth import reply_json

LOCAL_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARDS = ("0.0.0.0", "::", "")
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
SAFE_FETCH_SITES = ("same-origin", "none")
SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


def host_name(netloc: str) -> str:
    """The host of ``host[:port]`` (``[v6]:port`` too), lower case, without brackets."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1 : netloc.find("]")] if "]" in netloc else netloc
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostNames:
    """The names this server answers to: the local ones, the bound address, and the operator's list. A server
    bound to every interface (0.0.0.0, ::) also answers to any IP address (a rebinding attack needs a name)."""

    def __init__(self, bound: str, allowed: Iterable[str] = ()) -> None:
        self.names = {host_name(n) for n in (*LOCAL_NAMES, bound, *allowed) if n}
        self.any_ip = bound in WILDCARDS

    def ok(self, host: str) -> bool:
        name = host_name(host)
        return name in self.names or (self.any_ip and _is_ip(name))


def cross_site(method: str, headers: dict[str, str]) -> str | None:
    """Why a request with these (lower-cased) headers comes from another site, or None when it does not (or it is
    not a browser's: no Origin, Referer or Sec-Fetch-Site, as from curl or a script)."""
    if method not in UNSAFE_METHODS:
        return None
    host = headers.get("host", "").lower()
    origin = headers.get("origin")
    if origin is not None:
        return None if urlsplit(origin).netloc.lower() == host and host else f"origin {origin} is not this server"
    referer = headers.get("referer")
    if referer:
        return None if urlsplit(referer).netloc.lower() == host and host else "the referring page is not this server's"
    site = headers.get("sec-fetch-site")
    if site is not None and site.lower() not in SAFE_FETCH_SITES:
        return f"a {site} request"
    return None


class RequestGuard:
    """Host and origin checks, and the security headers on every reply (see the module's docstring)."""

    def __init__(self, app: Any, hosts: HostNames) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host")
        if host is not None and not self.hosts.ok(host):
            detail = f"Host {host[:100]!r} is not a name this server answers to (serve --allowed-host NAME)"
            return await reply_json(with_headers, 421, {"detail": detail})
        reason = cross_site(scope["method"], headers)
        if reason is not None:
            detail = f"refused: {reason[:200]} (state-changing requests must come from this server's own pages)"
            return await reply_json(with_headers, 403, {"detail": detail})
        await self.app(scope, receive, with_headers)
