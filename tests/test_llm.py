"""The real language model: llama.cpp in process, and llama.cpp's own OpenAI-compatible server
started here on 127.0.0.1. A handful of calls each; the model is assembled from its pip parts."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from oddsight.errors import ConfigError, LLMError, ModelFileError
from oddsight.llm import prompts
from oddsight.llm.openai_http import OpenAIChat
from tests.helpers import send_json

FIGHT = "two men are punching each other in a shop"
CALM = "people are sitting quietly in a waiting room"


@pytest.fixture(scope="session")
def llama(gguf_file):
    from oddsight.llm.llamacpp import LlamaCpp

    llm = LlamaCpp(gguf_file, model_id="qwen2.5-coder-1.5b", n_ctx=2048)
    yield llm
    llm.close()


def expected(probs: dict[str, float] | None) -> float:
    """The 0..1 score the scorer takes from the digit probabilities."""
    assert probs is not None and abs(sum(probs.values()) - 1) < 1e-6
    return sum(p * int(digit) / 9 for digit, p in probs.items())


def score(llm, text: str) -> float:
    return expected(llm.choice_probabilities(prompts.score_messages(text), prompts.CHOICES))


def test_gguf_is_assembled_and_checked(gguf_file):
    from oddsight.models.registry import get_spec, sha256_file

    expected = get_spec("qwen2.5-coder-1.5b").sources[0]["sha256"]
    assert gguf_file.name == "model.gguf" and sha256_file(gguf_file) == expected
    assert (gguf_file.parent / "oddsight-recipe.json").exists()


def test_llamacpp_scores_deterministically_and_prefix_reuse_changes_nothing(llama):
    fight = score(llama, FIGHT)
    calm = score(llama, CALM)
    assert fight > calm + 0.1
    assert score(llama, FIGHT) == fight  # no prefix set: every prompt is evaluated whole
    llama.set_prefix(prompts.score_messages(""))
    fight_reused = score(llama, FIGHT)  # evaluates the prefix once, then the text
    calm_reused = score(llama, CALM)  # the prefix's KV cache is reused: only the text is evaluated
    # the same prompt gives the same score whatever came before it (the rest is always one batch)
    assert score(llama, FIGHT) == fight_reused and score(llama, CALM) == calm_reused
    llama.generate(prompts.reason_messages(CALM), max_tokens=4)  # other tokens in the KV cache
    assert score(llama, FIGHT) == fight_reused
    assert fight_reused == pytest.approx(fight, abs=0.01)
    reason = llama.generate(prompts.reason_messages(FIGHT), max_tokens=24)
    assert reason and any(w in reason.lower() for w in ("fight", "punch", "violen", "assault", "abnormal"))


def test_bad_model_files_get_a_clear_error(tmp_path):
    from oddsight.llm.gguf import check_gguf
    from oddsight.llm.llamacpp import LlamaCpp

    not_gguf = tmp_path / "weights.gguf"
    not_gguf.write_bytes(b"PK\x03\x04 this is a zip")
    with pytest.raises(ModelFileError, match="not a GGUF"):
        check_gguf(not_gguf)
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 40)
    with pytest.raises(ModelFileError, match="cannot load"):
        LlamaCpp(truncated)
    with pytest.raises(ConfigError, match="not a language model"):
        from oddsight.llm.gguf import gguf_path

        gguf_path("minilm-l6")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(gguf_file):
    """llama-cpp-python's OpenAI-compatible server, a real separate process on 127.0.0.1."""
    port = _free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_file), "--model_alias", "qwen"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--verbose", "False"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            urllib.request.urlopen(url + "/v1/models", timeout=2).read()
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("llama_cpp.server did not start in 120 s")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_http_backend_against_a_real_openai_compatible_server(llama_server, llama):
    api = OpenAIChat(llama_server, "qwen", api_key="sk-secret-value", concurrency=2, timeout_s=120)
    assert "sk-secret" not in repr(api)
    msgs = [prompts.score_messages(FIGHT), prompts.score_messages(CALM)]
    fight, calm = api.choice_probabilities_many(msgs, prompts.CHOICES)
    assert expected(fight) > expected(calm) + 0.1
    # the same model in process gives the same verdict (from the server's top-20 log-probabilities)
    assert expected(fight) == pytest.approx(score(llama, FIGHT), abs=0.05)
    assert api.generate(prompts.reason_messages(FIGHT), max_tokens=16)


class _Flaky(BaseHTTPRequestHandler):
    """A real HTTP server that fails in scripted ways: 503 twice, then a reply in the given shape."""

    replies: ClassVar[list] = []
    seen_auth: ClassVar[list] = []

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).seen_auth.append(self.headers.get("Authorization"))
        status, body = type(self).replies.pop(0) if type(self).replies else (200, {"choices": []})
        send_json(self, status, body)

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Flaky.replies, _Flaky.seen_auth = [], []
    yield f"http://127.0.0.1:{server.server_address[1]}", _Flaky
    server.shutdown()


def test_http_retries_then_reads_free_text_when_no_logprobs(flaky_server):
    url, handler = flaky_server
    text_reply = {"choices": [{"message": {"content": "Score: 9"}}]}
    handler.replies = [(503, {}), (503, {}), (200, text_reply)]
    api = OpenAIChat(url, "m", api_key="k", retries=3)
    assert expected(api.choice_probabilities(prompts.score_messages(FIGHT), prompts.CHOICES)) == 1.0
    assert handler.seen_auth == ["Bearer k"] * 3
    handler.replies = [(200, {"choices": [{"message": {"content": "I am not sure"}}]})]
    assert api.choice_probabilities(prompts.score_messages(CALM), prompts.CHOICES) is None


def test_http_failures_are_typed_errors(flaky_server):
    url, handler = flaky_server
    handler.replies = [(200, b"<html>not json</html>")]
    with pytest.raises(LLMError, match="not JSON"):
        OpenAIChat(url, "m", retries=0).generate(prompts.reason_messages(FIGHT))
    handler.replies = [(200, {"error": "oops"})]
    with pytest.raises(LLMError, match="without choices"):
        OpenAIChat(url, "m", retries=0).generate(prompts.reason_messages(FIGHT))
    handler.replies = [(401, {})]
    with pytest.raises(LLMError, match="HTTP 401"):
        OpenAIChat(url, "m", api_key="sk-do-not-print", retries=3).generate([])
    dead = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(LLMError, match="failed after 2 tries") as err:
        OpenAIChat(dead, "m", retries=1, timeout_s=2).generate([])
    assert "sk-" not in str(err.value)
    with pytest.raises(ConfigError):
        OpenAIChat("ftp://x", "m")
