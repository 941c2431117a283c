"""Credentials in URLs are never shown: every message and file that names a URL goes through here."""

from __future__ import annotations

import re

# scheme://<anything without spaces up to the last @ of the token>@ : an empty user, a '/', ':' or '@' inside the
# password and a bare token are all caught; a URL whose path holds an '@' is redacted too (the safe side)
_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^\s'\"]*@")


def redact_urls(text: str) -> str:
    """``text`` with the credentials of every URL in it replaced by ``***``."""
    return _CREDENTIALS.sub(r"\1***@", text)
