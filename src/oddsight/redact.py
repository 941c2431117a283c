"""Credentials in URLs are never shown: every message, name, file and reply that holds a URL goes through here.

Two kinds are redacted: a URL's user information (``scheme://user:pass@host``) and the values of query (or
fragment) parameters that usually hold a secret (``?user=admin&pwd=secret``, ``&token=...``, ``&sig=...``).
"""

from __future__ import annotations

import re
from typing import Any

# scheme://<anything without spaces up to the last @ of the token>@ : an empty user, a '/', ':' or '@' inside the
# password and a bare token are all caught; a URL whose path holds an '@' is redacted too (the safe side)
_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^\s'\"]*@")
SENSITIVE_PARAMS = (
    "user",
    "username",
    "pwd",
    "pass",
    "password",
    "passwd",
    "token",
    "access_token",
    "key",
    "apikey",
    "api_key",
    "auth",
    "secret",
    "sig",
    "signature",
)
# ?name=value, &name=value, ;name=value or #name=value, any case; the value runs to the next separator
_PARAMS = re.compile(r"([?&;#](?:" + "|".join(SENSITIVE_PARAMS) + r")=)[^&;#\s'\"]*", re.IGNORECASE)


def redact_urls(text: str) -> str:
    """``text`` with the credentials of every URL in it (user information, secret parameters) replaced by ``***``."""
    return _PARAMS.sub(r"\1***", _CREDENTIALS.sub(r"\1***@", text))


def redact_value(value: Any) -> Any:
    """``value`` (a string, or lists and dicts of them, as a JSON reply holds) with every string redacted."""
    if isinstance(value, str):
        return redact_urls(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value
