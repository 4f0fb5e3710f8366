"""Redaction: engine output and CI logs pass through here before anything reaches the ref."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

MASK = "[REDACTED]"

# Known token shapes. Order matters only for readability; every pattern is applied.
TOKEN_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,255}\b"),  # GitHub classic/oauth/app tokens
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{40,255}\b"),  # GitHub fine-grained PAT
    re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}\b"),  # GitLab personal access token
    re.compile(r"\bgl(?:cbt|dt|ptt|rt|soat|ft|imt|agent)-[A-Za-z0-9_\-]{20,}\b"),  # other GitLab
    re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{20,}\b"),  # Anthropic
    re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}\b"),  # OpenAI
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),  # AWS access key id
    re.compile(r"(?i)(aws_secret_access_key\s*[=:]\s*)[A-Za-z0-9/+=]{40}"),  # AWS secret
    re.compile(r"(?i)(authorization\s*:\s*(?:bearer|token|basic)\s+)[^\s\"']+"),  # auth headers
    re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/\-]{16,}=*"),  # bare bearer tokens
)

# Environment variables whose values are secret wherever they appear.
DEFAULT_SECRET_ENV = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GITLAB_TOKEN",
    "GLAB_TOKEN",
    "CI_JOB_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "DFLOW_OPENAI_API_KEY",
)
MIN_SECRET_LEN = 6  # shorter values would mask ordinary words


def secret_values(names: Iterable[str] = (), env: Mapping[str, str] | None = None) -> list[str]:
    """Values of the default and configured secret variables that are set."""
    env = os.environ if env is None else env
    values = {env[n] for n in (*DEFAULT_SECRET_ENV, *names) if env.get(n)}
    return sorted((v for v in values if len(v) >= MIN_SECRET_LEN), key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known token patterns and the given secret values."""
    for value in secrets:
        if value:
            text = text.replace(value, MASK)
    for pattern in TOKEN_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
    return text
