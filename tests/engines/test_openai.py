"""The openai engine against a real HTTP server on 127.0.0.1 (an ephemeral port)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from deksdenflow.domain.config.settings import EngineConfig
from deksdenflow.engines.registry import get_engine
from deksdenflow.errors import (
    ConfigError,
    EngineFailed,
    EngineNotFound,
    EngineOutputInvalid,
    EngineTimeout,
)

from .conftest import VERDICT_SCHEMA, request


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    delay_s: float = 0.0


@dataclass
class ChatServer:
    """Answers each POST with the next queued Reply and records what it was sent."""

    replies: list[Reply] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def completion(content: str | None, **message: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "served-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, **message}}],
        "usage": {
            "prompt_tokens": 120,
            "completion_tokens": 15,
            "total_tokens": 135,
            "prompt_tokens_details": {"cached_tokens": 64},
        },
    }


@pytest.fixture
def server() -> Iterator[ChatServer]:
    state = ChatServer()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.requests.append((self.path, headers, json.loads(raw or b"{}")))
            reply = state.replies.pop(0) if state.replies else Reply(500, {"error": "no reply"})
            time.sleep(reply.delay_s)
            data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def openai(server: ChatServer | None = None, **options: Any) -> Any:
    if server is not None:
        options.setdefault("base_url", server.base_url)
    return get_engine("openai", EngineConfig(kind="openai", model="m-1", options=options))


def test_openai_structured_output_and_usage(
    server: ChatServer, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key-000000000000000000")
    server.replies.append(Reply(body=completion('{"verdict": "PASS"}')))

    result = openai(server).run(request(workdir, output_schema=VERDICT_SCHEMA, prompt="judge\n"))

    assert json.loads(result.output) == {"verdict": "PASS"}
    assert (result.usage.input_tokens, result.usage.cached_input_tokens) == (120, 64)
    assert (result.usage.output_tokens, result.model, result.cost) == (15, "served-model", None)
    ((path, headers, body),) = server.requests
    assert path == "/v1/chat/completions"
    assert headers["authorization"] == "Bearer sk-test-key-000000000000000000"
    assert body["model"] == "m-1"
    assert body["messages"] == [{"role": "user", "content": "judge\n"}]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == VERDICT_SCHEMA
    assert body["response_format"]["json_schema"]["strict"] is True
    assert "sk-test-key" not in result.transcript and '"verdict"' in result.transcript


def test_openai_plain_text_without_schema_or_key(
    server: ChatServer, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server.replies.append(Reply(body=completion("just words")))

    result = openai(server, extra_body={"temperature": 0}).run(request(workdir))

    ((_, headers, body),) = server.requests
    assert "authorization" not in headers and "response_format" not in body
    assert body["temperature"] == 0
    assert result.output == "just words"


def test_openai_key_from_the_named_env_and_base_url_from_dflow_env(
    server: ChatServer, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_LLM_KEY", "local-key-123456")
    monkeypatch.setenv("DFLOW_OPENAI_BASE_URL", server.base_url + "/")
    server.replies.append(Reply(body=completion("ok")))

    openai(base_url="http://127.0.0.1:9/v1", api_key_env="MY_LLM_KEY").run(request(workdir))

    ((_, headers, _),) = server.requests
    assert headers["authorization"] == "Bearer local-key-123456"


def test_openai_http_500_is_a_failed_attempt(server: ChatServer, workdir: Path) -> None:
    server.replies.append(Reply(500, {"error": {"message": "model crashed", "type": "server"}}))

    with pytest.raises(EngineFailed, match=r"got HTTP 500 from .*: model crashed") as exc:
        openai(server).run(request(workdir))

    assert "--- HTTP 500 ---" in exc.value.transcript


def test_openai_http_401_points_at_the_key(server: ChatServer, workdir: Path) -> None:
    server.replies.append(Reply(401, {"error": {"message": "Incorrect API key provided"}}))

    with pytest.raises(EngineFailed, match=r"HTTP 401 .*Incorrect API key.*\$OPENAI_API_KEY"):
        openai(server).run(request(workdir))


def test_openai_timeout(server: ChatServer, workdir: Path) -> None:
    server.replies.append(Reply(body=completion("late"), delay_s=3))

    with pytest.raises(EngineTimeout, match=r"no answer from .* within 0.5 s"):
        openai(server).run(request(workdir, timeout_s=0.5))


def test_openai_connection_refused_names_the_demo_engine(workdir: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with pytest.raises(EngineNotFound, match=r"cannot reach .*--engine demo"):
        openai(base_url=f"http://127.0.0.1:{port}/v1").run(request(workdir))


def test_openai_answer_failing_the_schema(server: ChatServer, workdir: Path) -> None:
    server.replies.append(Reply(body=completion('{"verdict": "pass"}')))

    with pytest.raises(EngineOutputInvalid, match=r"at verdict: 'pass' is not one of"):
        openai(server).run(request(workdir, output_schema=VERDICT_SCHEMA))


def test_openai_refusal_is_an_output_error(server: ChatServer, workdir: Path) -> None:
    server.replies.append(Reply(body=completion(None, refusal="I can't help with that.")))

    with pytest.raises(EngineOutputInvalid, match=r"refused: I can't help"):
        openai(server).run(request(workdir, output_schema=VERDICT_SCHEMA))


def test_openai_non_json_answer(server: ChatServer, workdir: Path) -> None:
    server.replies.append(Reply(body=b"<html>proxy error</html>"))

    with pytest.raises(EngineFailed, match=r"not a JSON object"):
        openai(server).run(request(workdir))


def test_openai_needs_a_model(workdir: Path) -> None:
    engine = get_engine("openai", EngineConfig(kind="openai"))

    with pytest.raises(ConfigError, match=r"needs a model; set \[engines.openai\] model"):
        engine.run(request(workdir))


def test_openai_strict_must_be_a_boolean(workdir: Path) -> None:
    with pytest.raises(ConfigError, match=r"options.strict in project.toml must be true or false"):
        openai(base_url="http://127.0.0.1:9/v1", strict="no").run(
            request(workdir, output_schema=VERDICT_SCHEMA)
        )


def test_openai_schema_refused_by_the_server_is_permanent_with_the_fix(
    server: ChatServer, workdir: Path
) -> None:
    """vLLM, llama.cpp or an older model answering 400 to `response_format` never will accept
    it: retrying is pointless, so the error is permanent and says what to change."""
    said = ("Invalid schema for response_format 'output': In context=(), 'additionalProperties' "
            "is required to be supplied and to be false")
    server.replies.append(Reply(400, {"error": {"message": said, "type": "invalid_request_error",
                                                "code": "invalid_json_schema"}}))

    with pytest.raises(EngineFailed) as exc:
        openai(server).run(request(workdir, output_schema=VERDICT_SCHEMA))

    assert exc.value.permanent
    message = str(exc.value)
    assert "refused the output schema" in message and "additionalProperties" in message
    assert "options.strict = false" in message and "--engine" in message


@pytest.mark.parametrize(("status", "permanent"), [(400, True), (404, True), (401, True),
                                                   (429, False), (500, False), (503, False)])
def test_openai_errors_the_same_request_repeats_are_permanent(
    server: ChatServer, workdir: Path, status: int, permanent: bool
) -> None:
    server.replies.append(Reply(status, {"error": {"message": "no"}}))

    with pytest.raises(EngineFailed) as exc:
        openai(server).run(request(workdir))

    assert exc.value.permanent is permanent
