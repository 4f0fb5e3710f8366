"""A scripted model provider on 127.0.0.1: plays back replies to the real Codex CLI, the real
Claude Code CLI and to httpx.

It speaks three wire formats, learned from the public Codex source and the OpenAI and Anthropic
API docs:
- the Responses API (`POST /v1/responses`, `stream: true`), which `codex exec` uses for every
  model turn: server-sent events `response.created`, `response.output_item.done` (one per output
  item: an assistant message or a function call) and `response.completed` carrying token usage;
- Chat Completions (`POST /v1/chat/completions`), which dflow's `openai` engine uses;
- the Anthropic Messages API (`POST /v1/messages`, streamed or not), which `claude -p` uses:
  events `message_start` (with the input usage), `content_block_start|delta|stop` (a text block
  or a `tool_use` block whose input arrives as `input_json_delta`), `message_delta` (stop
  reason and output usage) and `message_stop`.

A test queues replies in the order the model will be asked (`server.queue(...)`); every request
pops the next one. Each request is recorded (path, headers, JSON body) so tests can assert on what
the client really sent. An unexpected request gets HTTP 400 with a message saying the script ran
out, which the client reports as a failure, so a test can never pass on a missing reply.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ids = itertools.count(1)


@dataclass(frozen=True)
class Usage:
    """Token figures the server reports; tests assert that the client recorded exactly these."""

    input_tokens: int = 100  # every prompt token, cached or not
    output_tokens: int = 20
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_input_tokens: int = 0  # Anthropic only: prompt tokens written to the cache

    def responses_json(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": self.cached_input_tokens},
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": self.input_tokens + self.output_tokens,
        }

    def anthropic_json(self) -> dict[str, Any]:
        """Anthropic counts cache reads and writes apart from `input_tokens`."""
        uncached = self.input_tokens - self.cached_input_tokens - self.cache_write_input_tokens
        return {
            "input_tokens": uncached,
            "cache_read_input_tokens": self.cached_input_tokens,
            "cache_creation_input_tokens": self.cache_write_input_tokens,
            "output_tokens": self.output_tokens,
        }

    def chat_json(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.input_tokens + self.output_tokens,
        }


@dataclass(frozen=True)
class Message:
    """The model's final answer for this turn (JSON text when the client asked for a schema)."""

    text: str
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True)
class ShellCall:
    """The model asks the client to run `command` in a shell (Codex's command tool)."""

    command: str
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True)
class ToolCall:
    """The model calls one of the client's own tools by name (Claude Code's `Write`, ...)."""

    name: str
    arguments: dict[str, Any]
    usage: Usage = field(default_factory=Usage)


Reply = Message | ShellCall | ToolCall

# Requests of the model API, by path (without a query string).
MODEL_PATHS = ("/responses", "/chat/completions", "/messages")


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def route(self) -> str:
        """The path without its query string (Claude Code asks for `/v1/messages?beta=true`)."""
        return self.path.split("?", 1)[0]

    def text(self) -> str:
        """Every text the client sent in this request, joined (to find the prompt in it)."""
        return json.dumps(self.body, ensure_ascii=False)


class ScriptedModelServer:
    """Start with `with ScriptedModelServer() as server:`; `server.base_url` ends in `/v1`."""

    def __init__(self) -> None:
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.errors: list[str] = []
        self.outbound: list[str] = []
        self._httpd = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def pending(self) -> list[Reply]:
        with self._lock:
            return list(self._replies)

    def model_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.route.endswith(MODEL_PATHS)]

    def next_reply(self, request: Recorded) -> Reply | None:
        with self._lock:
            self.requests.append(request)
            return self._replies.popleft() if self._replies else None

    def __enter__(self) -> ScriptedModelServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up (Codex does at exit) is not a failure; anything else is shown.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_for(server: ScriptedModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        scripted = server

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    scripted: ScriptedModelServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return  # keep pytest output clean; requests are recorded instead

    def do_CONNECT(self) -> None:
        # Clients get this server as their HTTP(S) proxy: any attempt to leave 127.0.0.1 lands
        # here, is recorded and refused, so a test can assert that there was none.
        self.scripted.outbound.append(f"CONNECT {self.path}")
        self._send_json(403, {"error": {"message": "no network beyond 127.0.0.1 in tests"}})

    def do_GET(self) -> None:
        if self.path.startswith("http"):
            self.scripted.outbound.append(f"GET {self.path}")
            self._send_json(403, {"error": {"message": "no network beyond 127.0.0.1 in tests"}})
            return
        self.scripted.requests.append(
            Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, {})
        )
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": [], "models": []})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        body = json.loads(raw or b"{}")
        request = Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        if request.route.endswith("/messages/count_tokens"):  # Anthropic: answered, no reply used
            self.scripted.requests.append(request)
            self._send_json(200, {"input_tokens": len(request.text()) // 4})
            return
        if not request.route.endswith(MODEL_PATHS):
            self.scripted.requests.append(request)
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        problem = _schema_problem(body)
        if problem:  # rejected before generation, as OpenAI does: no reply is used up
            self.scripted.requests.append(request)
            self.scripted.errors.append(problem)
            error = {"message": problem, "type": "invalid_request_error",
                     "code": "invalid_json_schema"}  # fmt: skip
            self._send_json(400, {"error": error})
            return
        reply = self.scripted.next_reply(request)
        if reply is None:
            message = (
                f"scripted model server: no reply left for request #{len(self.scripted.requests)}"
            )
            self.scripted.errors.append(message)
            # 400, not 500: clients retry a 5xx and show their own text, but pass a 4xx on.
            error = {"message": message, "type": "invalid_request_error"}
            self._send_json(400, {"type": "error", "error": error})
        elif request.route.endswith("/messages"):
            events = _anthropic_events(reply, body)
            if body.get("stream"):
                self._send_sse(events)
            else:
                self._send_json(200, _anthropic_message(events))
        elif request.route.endswith("/responses"):
            self._send_sse(_responses_events(reply, body))
        elif body.get("stream"):
            self._send_sse(_chat_chunks(reply, body))
        else:
            self._send_json(200, _chat_completion(reply, body))

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_sse(self, events: list[tuple[str | None, dict[str, Any] | str]]) -> None:
        chunks = []
        for name, payload in events:
            data = payload if isinstance(payload, str) else json.dumps(payload)
            chunks.append((f"event: {name}\n" if name else "") + f"data: {data}\n\n")
        data = "".join(chunks).encode()
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _requested_schema(body: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The strict JSON schema a request asks the output to follow (Responses or Chat form)."""
    fmt = (body.get("text") or {}).get("format") or (body.get("response_format") or {})
    if fmt.get("type") != "json_schema":
        return None
    spec = fmt.get("json_schema", fmt)  # chat nests it one level deeper
    if not spec.get("strict"):
        return None
    return str(spec.get("name", "")), spec.get("schema") or {}


def _schema_problem(body: dict[str, Any]) -> str:
    """Why OpenAI's strict structured outputs would reject the schema, or "" if it would not.

    Checks the two rules that matter in practice: every object sets `additionalProperties: false`
    and lists every property in `required`. A schema that breaks them works against a lenient
    local server but fails against the real API, so the scripted server refuses it too.
    """
    requested = _requested_schema(body)
    if requested is None:
        return ""
    name, schema = requested
    prefix = f"Invalid schema for response_format '{name}': In context={{}}, "
    for path, node in _schema_nodes(schema, "#"):
        if node.get("type") != "object" and "properties" not in node:
            continue
        if node.get("additionalProperties") is not False:
            rule = "'additionalProperties' is required to be supplied and to be false."
            return prefix.format(path) + rule
        missing = sorted(set(node.get("properties", {})) - set(node.get("required", [])))
        if missing:
            rule = (
                "'required' is required to be supplied and to be an array including every key "
                f"in properties. Missing '{missing[0]}'."
            )
            return prefix.format(path) + rule
    return ""


def _schema_nodes(node: Any, path: str) -> list[tuple[str, dict[str, Any]]]:
    """Every sub-schema with its JSON pointer, depth first."""
    if isinstance(node, list):
        return [n for i, item in enumerate(node) for n in _schema_nodes(item, f"{path}/{i}")]
    if not isinstance(node, dict):
        return []
    found = [(path, node)]
    for key, value in node.items():
        if key in ("properties", "$defs", "definitions"):
            for name, sub in value.items():
                found += _schema_nodes(sub, f"{path}/{key}/{name}")
        elif key in ("items", "anyOf", "allOf", "oneOf", "additionalProperties", "not"):
            found += _schema_nodes(value, f"{path}/{key}")
    return found


def _shell_arguments(command: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Call whichever command tool this Codex offers (its name and arguments differ by version)."""
    offered = {t.get("name") for t in body.get("tools", []) if isinstance(t, dict)}
    if "exec_command" in offered:  # unified exec: a command line string
        return "exec_command", {"cmd": command}
    if "shell_command" in offered:
        return "shell_command", {"command": command}
    return "shell", {"command": ["bash", "-lc", command]}


def _responses_events(reply: Reply, body: dict[str, Any]) -> list[tuple[str | None, Any]]:
    response_id = f"resp_{next(_ids)}"
    if isinstance(reply, ShellCall | ToolCall):
        name, arguments = (
            _shell_arguments(reply.command, body)
            if isinstance(reply, ShellCall)
            else (reply.name, reply.arguments)
        )
        item: dict[str, Any] = {
            "type": "function_call",
            "id": f"fc_{next(_ids)}",
            "call_id": f"call_{next(_ids)}",
            "name": name,
            "arguments": json.dumps(arguments),
        }
    else:
        item = {
            "type": "message",
            "id": f"msg_{next(_ids)}",
            "role": "assistant",
            "content": [{"type": "output_text", "text": reply.text, "annotations": []}],
        }
    created = {"id": response_id, "object": "response", "status": "in_progress"}
    completed = {**created, "status": "completed", "usage": reply.usage.responses_json()}
    return [
        ("response.created", {"type": "response.created", "response": created}),
        (
            "response.output_item.done",
            {"type": "response.output_item.done", "output_index": 0, "item": item},
        ),
        ("response.completed", {"type": "response.completed", "response": completed}),
    ]


def _anthropic_block(reply: Reply) -> dict[str, Any]:
    """The one content block of the reply: text, or a call of Claude Code's Bash or other tool."""
    if isinstance(reply, Message):
        return {"type": "text", "text": reply.text}
    name, arguments = (
        ("Bash", {"command": reply.command, "description": "scripted command"})
        if isinstance(reply, ShellCall)
        else (reply.name, reply.arguments)
    )
    return {"type": "tool_use", "id": f"toolu_{next(_ids):08d}", "name": name, "input": arguments}


def _anthropic_events(reply: Reply, body: dict[str, Any]) -> list[tuple[str | None, Any]]:
    """The streamed message: start (input usage), one block in one delta, stop (output usage)."""
    block = _anthropic_block(reply)
    usage = reply.usage.anthropic_json()
    message = {
        "id": f"msg_{next(_ids):08d}", "type": "message", "role": "assistant",
        "model": body.get("model", ""), "content": [], "stop_reason": None,
        "stop_sequence": None, "usage": {**usage, "output_tokens": 1},
    }  # fmt: skip
    if block["type"] == "text":
        start = {"type": "text", "text": ""}
        delta = {"type": "text_delta", "text": block["text"]}
    else:
        start = {**block, "input": {}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
    stop_reason = "end_turn" if block["type"] == "text" else "tool_use"
    return [
        ("message_start", {"type": "message_start", "message": message}),
        ("content_block_start",
         {"type": "content_block_start", "index": 0, "content_block": start}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                           "usage": {"output_tokens": usage["output_tokens"]}}),
        ("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip


def _anthropic_message(events: list[tuple[str | None, Any]]) -> dict[str, Any]:
    """The same message unstreamed (what a client without `stream: true` gets)."""
    message = dict(events[0][1]["message"])
    block = _anthropic_block_of(events)
    final = events[4][1]
    return {
        **message,
        "content": [block],
        "stop_reason": final["delta"]["stop_reason"],
        "usage": {**message["usage"], **final["usage"]},
    }


def _anthropic_block_of(events: list[tuple[str | None, Any]]) -> dict[str, Any]:
    start, delta = events[1][1]["content_block"], events[2][1]["delta"]
    if start["type"] == "text":
        return {"type": "text", "text": delta["text"]}
    return {**start, "input": json.loads(delta["partial_json"])}


def _chat_message(reply: Reply) -> dict[str, Any]:
    if not isinstance(reply, Message):
        raise ValueError("the chat completions route plays back messages only")
    return {"role": "assistant", "content": reply.text}


def _chat_completion(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion",
        "model": body.get("model", ""),
        "choices": [{"index": 0, "message": _chat_message(reply), "finish_reason": "stop"}],
        "usage": reply.usage.chat_json(),
    }


def _chat_chunks(reply: Reply, body: dict[str, Any]) -> list[tuple[str | None, Any]]:
    base = {
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion.chunk",
        "model": body.get("model", ""),
    }
    delta = {
        **base,
        "choices": [{"index": 0, "delta": _chat_message(reply), "finish_reason": "stop"}],
    }
    usage = {**base, "choices": [], "usage": reply.usage.chat_json()}
    return [(None, delta), (None, usage), (None, "[DONE]")]
