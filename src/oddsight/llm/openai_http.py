"""Any OpenAI-compatible chat server (ollama, vLLM, llama.cpp server, hosted APIs) as an :class:`LLM`.

Scoring asks for one token with ``logprobs``/``top_logprobs`` at temperature 0; a server that
returns no log-probabilities is read through the free-text parser instead. Calls have a timeout,
are retried with backoff on connection errors, 429 and 5xx, and run at most ``concurrency`` at a
time. The API key comes from the argument or ``$ODDSIGHT_API_KEY`` / ``$OPENAI_API_KEY`` and is
never logged or put in error messages.
"""

from __future__ import annotations

import json
import math
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from oddsight.errors import ConfigError, LLMError
from oddsight.llm.base import LLM, Messages
from oddsight.llm.parse import parse_verdict

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
ENDPOINTS_ENV = "ODDSIGHT_LLM_ENDPOINTS"


def normalize_base_url(url: str) -> str:
    """``url`` as the client calls it: no trailing ``/``, ending in ``/v1``, scheme and host in lower case."""
    scheme, sep, rest = url.strip().rstrip("/").partition("://")
    host, slash, path = rest.partition("/")
    url = f"{scheme.lower()}{sep}{host.lower()}{slash}{path}"
    return url if url.endswith("/v1") else url + "/v1"


def allowed_endpoints(extra: list[str] | tuple[str, ...] = ()) -> list[str] | None:
    """The base URLs a key from the environment may go to: ``extra`` and ``$ODDSIGHT_LLM_ENDPOINTS`` (comma or
    space separated), normalised; None when neither names any and the variable is unset (any endpoint: the CLI's
    user names it themself)."""
    listed = os.environ.get(ENDPOINTS_ENV)
    urls = [*extra, *(listed or "").replace(",", " ").split()]
    if listed is None and not extra:
        return None
    return sorted({normalize_base_url(u) for u in urls})


def environment_key(url: str) -> str | None:
    """``$ODDSIGHT_API_KEY`` or ``$OPENAI_API_KEY``, when ``url`` may receive it (see :func:`allowed_endpoints`)."""
    allowed = allowed_endpoints()
    if allowed is not None and normalize_base_url(url) not in allowed:
        return None
    return os.environ.get("ODDSIGHT_API_KEY") or os.environ.get("OPENAI_API_KEY")


def parse_endpoint(spec: str) -> tuple[str, str]:
    """``openai:<base url>#<model>`` -> (base url, model name)."""
    url, sep, model = spec.removeprefix("openai:").rpartition("#")
    if not spec.startswith("openai:") or not sep or not url or not model:
        raise ConfigError(f"expected openai:<base url>#<model>, got {spec!r}")
    return url, model


class OpenAIChat(LLM):
    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        retries: int = 3,
        concurrency: int = 4,
        top_logprobs: int = 20,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"LLM server URL must start with http:// or https://, got {base_url!r}")
        self.base_url = normalize_base_url(base_url)
        self.model_id = model
        self._api_key = api_key or environment_key(self.base_url)
        self.timeout_s = timeout_s
        self.retries = retries
        self.concurrency = max(1, concurrency)
        self.top_logprobs = top_logprobs

    def __repr__(self) -> str:  # no key, ever
        return f"OpenAIChat({self.base_url!r}, {self.model_id!r})"

    @property
    def cache_key(self) -> str:
        return f"openai:{self.base_url}:{self.model_id}"

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST JSON with retries; the decoded reply, or an :class:`LLMError` naming the last failure."""
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        data = json.dumps(body).encode()
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))
            request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
                    return json.loads(reply.read())
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code} {exc.reason}"
                if exc.code not in RETRY_STATUS:
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last = str(getattr(exc, "reason", exc))
            except ValueError:
                last = "reply is not JSON"
                break
        raise LLMError(f"LLM server {self.base_url} failed after {attempt + 1} tries: {last}")

    def _chat(self, messages: Messages, **options: Any) -> dict[str, Any]:
        reply = self.post("/chat/completions", {"model": self.model_id, "messages": messages, **options})
        try:
            return reply["choices"][0]
        except (KeyError, IndexError, TypeError):
            raise LLMError(f"LLM server {self.base_url} sent a reply without choices") from None

    def generate(self, messages: Messages, max_tokens: int = 64) -> str:
        choice = self._chat(messages, max_tokens=max_tokens, temperature=0)
        return str((choice.get("message") or {}).get("content") or "")

    def choice_probabilities(self, messages: Messages, choices: Sequence[str]) -> dict[str, float] | None:
        choice = self._chat(messages, max_tokens=1, temperature=0, logprobs=True, top_logprobs=self.top_logprobs)
        probs = _first_token_probs(choice, choices)
        if probs is not None:
            return probs
        # no usable log-probabilities: read the answer as text
        verdict = parse_verdict(str((choice.get("message") or {}).get("content") or ""), len(choices) - 1)
        if verdict is None:
            return None
        picked = choices[round(verdict * (len(choices) - 1))]
        return {c: float(c == picked) for c in choices}

    def choice_probabilities_many(
        self, prompts: Sequence[Messages], choices: Sequence[str]
    ) -> list[dict[str, float] | None]:
        if self.concurrency == 1 or len(prompts) < 2:
            return super().choice_probabilities_many(prompts, choices)
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(lambda m: self.choice_probabilities(m, choices), prompts))


def _first_token_probs(choice: dict[str, Any], choices: Sequence[str], min_mass: float = 0.05):
    try:
        top = choice["logprobs"]["content"][0]["top_logprobs"]
    except (KeyError, IndexError, TypeError):
        return None
    mass = {c: 0.0 for c in choices}
    wanted = {c.lower(): c for c in choices}
    for entry in top:
        token = str(entry.get("token", "")).strip().lower()
        logprob = entry.get("logprob")
        # a server's NaN, +inf or absurd value is ignored, not an OverflowError or a poisoned score
        if token in wanted and isinstance(logprob, (int, float)) and math.isfinite(logprob) and logprob <= 0:
            mass[wanted[token]] += math.exp(logprob)
    total = sum(mass.values())
    if total < min_mass:
        return None
    return {c: p / total for c, p in mass.items()}
