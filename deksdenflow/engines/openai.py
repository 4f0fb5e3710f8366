"""The `openai` engine: one chat completion from any OpenAI-compatible server.

Works with OpenAI, Ollama (`http://127.0.0.1:11434/v1`), vLLM, llama.cpp's server and anything
else that serves `POST {base_url}/chat/completions`. It answers in text only: it cannot run
commands or change files, so it suits planning and QA (docs/engines.md).
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..domain.runs.models import Usage
from ..errors import (
    ConfigError,
    EngineFailed,
    EngineNotFound,
    EngineOutputInvalid,
    EngineRefused,
    EngineTimeout,
)
from .base import ConfiguredEngine, EngineRequest, EngineResult
from .output import validate_output
from .process import TRY_DEMO
from .refusals import REFUSED_STATUSES, mentions_schema, schema_refusal

DEFAULT_BASE_URL = "https://api.openai.com/v1"
BASE_URL_ENV = "DFLOW_OPENAI_BASE_URL"
FALLBACK_KEY_ENV = "DFLOW_OPENAI_API_KEY"
CONNECT_TIMEOUT_S = 10.0
PROBE_TIMEOUT_S = 2.0  # `dflow doctor`: a server that does not answer by then counts as down


class OpenAIEngine(ConfiguredEngine):
    """POST the prompt as one user message; structured output when a schema is given."""

    kind = "openai"

    def run(self, request: EngineRequest) -> EngineResult:
        options = self.options(request)
        url = self.base_url(options) + "/chat/completions"
        body = self.body(request, options)
        response = self.post(url, body, options, request.timeout_s)
        transcript = _transcript(url, body, response)
        reply = self.reply(response, options, transcript, "response_format" in body)
        output = _message_text(reply, self.name, transcript)
        return EngineResult(
            output=validate_output(output, request.output_schema, self.name, transcript=transcript),
            usage=_usage(reply.get("usage")),
            exit_status=0,
            transcript=transcript,
            model=str(reply.get("model") or body["model"]),
        )

    def cannot_run(self) -> str | None:
        """The server does not accept a connection within PROBE_TIMEOUT_S (no request sent)."""

        url = self.base_url(self.config.options)
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((parts.hostname or "", port), PROBE_TIMEOUT_S):
                return None
        except OSError as exc:
            return (f"engine '{self.name}' cannot reach {url} ({exc}); start the server or set "
                    f"[engines.{self.name}] options.base_url")

    def base_url(self, options: dict[str, Any]) -> str:
        # DFLOW_* environment beats project.toml, as for every other setting.
        base = os.environ.get(BASE_URL_ENV) or options.get("base_url") or DEFAULT_BASE_URL
        return str(base).rstrip("/")

    def api_key(self, options: dict[str, Any]) -> str:
        name = str(options.get("api_key_env") or "OPENAI_API_KEY")
        return os.environ.get(name) or os.environ.get(FALLBACK_KEY_ENV) or ""

    def body(self, request: EngineRequest, options: dict[str, Any]) -> dict[str, Any]:
        model = self.model(request)
        if not model:
            raise ConfigError(
                f"engine '{self.name}' needs a model; set [engines.{self.name}] model in "
                "project.toml (for example gpt-4.1-mini, or llama3.1 for Ollama)"
            )
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": "user", "content": request.prompt}],
        }
        if request.output_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "output",
                    "schema": request.output_schema,
                    "strict": self.bool_option(options, "strict", True),
                },
            }
        extra = options.get("extra_body") or {}
        if not isinstance(extra, dict):
            raise ConfigError(f"[engines.{self.name}] options.extra_body must be a table")
        return {**body, **extra}

    def post(
        self, url: str, body: dict[str, Any], options: dict[str, Any], timeout_s: float
    ) -> httpx.Response:
        headers = {"content-type": "application/json"}
        key = self.api_key(options)
        if key:  # local servers (Ollama, llama.cpp) need none
            headers["authorization"] = f"Bearer {key}"
        timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S))
        sent = _transcript(url, body, None)
        try:
            with httpx.Client(timeout=timeout, trust_env=True) as client:
                return client.post(url, json=body, headers=headers)
        except httpx.TimeoutException:
            raise EngineTimeout(
                f"engine '{self.name}' got no answer from {url} within {timeout_s:g} s; raise "
                f"[engines.{self.name}] timeout or check the server",
                transcript=sent,
            ) from None
        except httpx.ConnectError as exc:
            raise EngineNotFound(
                f"engine '{self.name}' cannot reach {url} ({exc}); start the server, set "
                f"[engines.{self.name}] options.base_url or {BASE_URL_ENV}, or {TRY_DEMO}",
                transcript=sent,
            ) from None
        except httpx.HTTPError as exc:
            raise EngineFailed(
                f"engine '{self.name}' failed talking to {url}: {exc}", transcript=sent
            ) from None

    def reply(
        self, response: httpx.Response, options: dict[str, Any], transcript: str,
        with_schema: bool = False,
    ) -> dict[str, Any]:
        if response.status_code >= 400:
            raise self.http_failure(response, options, transcript, with_schema)
        try:
            reply = response.json()
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            raise EngineFailed(
                f"engine '{self.name}' got an answer from {response.request.url} that is not a "
                "JSON object; is base_url an OpenAI-compatible endpoint ending in /v1?",
                transcript=transcript,
            )
        return reply

    def http_failure(self, response: httpx.Response, options: dict[str, Any], transcript: str,
                     with_schema: bool) -> EngineFailed:
        """A 4xx that the same request gets again is permanent (`EngineRefused`); a refused
        response schema says how to do without it. 408, 429 and 5xx are worth a retry."""
        status = response.status_code
        if status not in REFUSED_STATUSES:
            return EngineFailed(self.http_error(response, options), transcript=transcript)
        said = _error_message(response)
        if with_schema and status in (400, 422) and mentions_schema(said):
            fix = (f"set [engines.{self.name}] options.strict = false, choose a model this "
                   "server can constrain to a JSON schema")
            what = f"HTTP {status} from {response.request.url}: {said}"
            return EngineRefused(schema_refusal(self.name, what, fix), transcript=transcript)
        return EngineRefused(self.http_error(response, options), transcript=transcript)

    def http_error(self, response: httpx.Response, options: dict[str, Any]) -> str:
        said = _error_message(response)
        message = (
            f"engine '{self.name}' got HTTP {response.status_code} from {response.request.url}"
        )
        message += f": {said}" if said else ""
        if response.status_code in (401, 403):
            key_env = options.get("api_key_env") or "OPENAI_API_KEY"
            message += f"; check the API key in ${key_env}"
        elif response.status_code == 404:
            message += "; check the model name and that base_url ends in /v1"
        return message


def _error_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:200]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or "")[:300]
    return str(error or "")[:300]


def _message_text(reply: dict[str, Any], engine: str, transcript: str) -> str:
    choices = reply.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else {}
    message = first.get("message") if isinstance(first, dict) else None
    if not isinstance(message, dict):
        raise EngineOutputInvalid(
            f"engine '{engine}' got a reply without choices[0].message", transcript=transcript
        )
    if message.get("refusal"):
        raise EngineOutputInvalid(
            f"engine '{engine}': the model refused: {message['refusal']}", transcript=transcript
        )
    content = message.get("content")
    return content if isinstance(content, str) else ""


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    details = raw.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else 0
    return Usage(
        input_tokens=_count(raw.get("prompt_tokens")),
        cached_input_tokens=_count(cached),
        output_tokens=_count(raw.get("completion_tokens")),
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def _transcript(url: str, body: dict[str, Any], response: httpx.Response | None) -> str:
    """Request and answer (never the Authorization header), raw: the caller redacts."""
    sent = f"POST {url}\n{json.dumps(body, indent=2, ensure_ascii=False)}\n"
    if response is None:
        return sent
    return sent + f"--- HTTP {response.status_code} ---\n{response.text}\n"
