"""Which settings a person on this machine must trust before they take effect here.

A shared ref is data, not code (docs/decisions/1510-settings-trust.md): a setting that decides
what runs, where, with which secrets or who reviews arrives with a sync like any other file,
but a job that would use it waits on this machine until a person here ran `dflow trust`.
This module is pure: the classification of every settings key (one table, default-deny for a
key nobody classified), the difference between the trusted values and the current ones, and
which open job a changed key holds back. The record itself lives in the git dir
(context/settings_trust.py), never on the state ref.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

from .settings import PhasesSection

TRUST = "trust"
FREE = "free"

# Every leaf of ProjectSettings, as a pattern (`*` is one key of an open table such as
# [engines.NAME]). tests/domain/test_settings_trust.py fails when a field is not listed here;
# a key that still escapes the table is treated as TRUST (`classify`).
KEYS: Mapping[str, str] = {
    "project.name": FREE,
    "project.base_branch": TRUST,  # where runs land and PRs point
    "project.worktree_root": TRUST,  # where agents run and dflow writes
    "project.remote": TRUST,  # where work and state are pushed
    "project.sync": FREE,
    "phases.default": TRUST,
    "phases.plan": TRUST,
    "phases.execute": TRUST,
    "phases.qa": TRUST,
    "engines.*.kind": TRUST,
    "engines.*.model": TRUST,
    "engines.*.timeout": TRUST,
    "engines.*.options": TRUST,  # command lines, environment lists, endpoints, key variables
    "engines.*.env": TRUST,  # what of this machine's environment (tokens, keys) the agent gets
    "qa.policy": TRUST,
    "qa.auto_retry": TRUST,
    "retry.max_attempts": FREE,
    "retry.max_lost": FREE,
    "retry.backoff_base_s": FREE,
    "retry.backoff_max_s": FREE,
    "retry.*.max_attempts": FREE,
    "retry.*.backoff_base_s": FREE,
    "retry.*.backoff_max_s": FREE,
    "retry.*.findings": FREE,
    "budget.tokens": FREE,
    "budget.cost": FREE,
    "budget.mode": FREE,
    "budget.*.max_tokens": FREE,
    "budget.*.max_cost": FREE,
    "alerts.at": FREE,
    "alerts.command": TRUST,
    "alerts.timeout_s": FREE,
    "notify.command": TRUST,  # a program run here with each notice
    "notify.webhook_url": TRUST,  # where this machine posts what its runs do
    "notify.on": FREE,
    "notify.timeout_s": FREE,
    "review.fix": TRUST,  # an agent run on what a reviewer wrote
    "review.max_rounds": FREE,
    "intake.label": FREE,  # read when `dflow init --ci` writes the job, by a person here
    "models.allowed": FREE,
    "models.plan": FREE,
    "models.execute": FREE,
    "models.qa": FREE,
    "models.fix_ci": FREE,
    "variants.*.prompts": TRUST,  # the reviewer's instructions come from there
    "variants.*.model": FREE,
    "variants.*.share": FREE,
    "loop.mode": FREE,
    "plan.parallel": FREE,
    "ci.provider": FREE,
    "ci.install": TRUST,
    "ci.fix": TRUST,  # an agent with CI's push token
    "ci.max_fix_attempts": FREE,
    "secrets.env": TRUST,
    "secrets.allow_files": TRUST,
    "artifacts.max_bytes": FREE,
    "worker.grace_s": FREE,
    "worker.lease_s": FREE,
    "git.run_hooks": TRUST,
    "git.allow_submodules": TRUST,  # a nested repository an agent made
    "land.keep_protocols": FREE,  # read by a person's `dflow land`; runs nothing
    "limits.max_file_bytes": FREE,
    "limits.max_parallel_steps": FREE,
    "limits.max_agents": FREE,
}

AGENT_KINDS = ("plan", "execute", "qa", "fix_ci", "fix_review")
# Used where they take effect, not by a job: an untrusted alert command is not started, an
# untrusted CI install step is not written into a workflow, an untrusted notify command or
# webhook is not used (they never hold a job back).
AT_USE = ("alerts.command", "ci.install", "notify.command", "notify.webhook_url")
COMMAND = "dflow trust"
_SECRET_NAME = re.compile(r"key|token|secret|password|passwd|auth|credential", re.I)


# The table by first key (none is `*`), each pattern split once. Segment by segment, not by
# fnmatch: every command that reads settings classifies every leaf, and compiling the
# table's patterns into regular expressions was a tenth of a control's own work.
_BY_SECTION: dict[str, list[tuple[tuple[str, ...], str]]] = {}
for _pattern, _kind in KEYS.items():
    _BY_SECTION.setdefault(_pattern.split(".")[0], []).append((tuple(_pattern.split(".")), _kind))


@functools.lru_cache(maxsize=1024)
def classify(key: str) -> str:
    """TRUST or FREE for a dotted settings key; a key the table does not know is TRUST."""
    parts = key.split(".")
    for wanted, kind in _BY_SECTION.get(parts[0], ()):
        if _leaf_of(wanted, parts):
            return kind
    return TRUST


def _matches(pattern: str, key: str) -> bool:
    """`key` is the leaf the table's `pattern` names, or a value inside it."""
    return _leaf_of(tuple(pattern.split(".")), key.split("."))


def _leaf_of(wanted: tuple[str, ...], parts: list[str]) -> bool:
    """`parts` is the leaf `wanted` names, or a value inside it (engines.x.options.cmd
    belongs to engines.*.options); `*` is one key, whatever it holds."""
    return len(parts) >= len(wanted) and all(
        w == "*" or w == p for w, p in zip(wanted, parts, strict=False))


def leaves(doc: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of every setting: a field of the table above (a dict-valued one
    such as `engines.NAME.options` is one value), or a leaf the table does not know."""
    for k, v in doc.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v and not _is_field(key):
            yield from leaves(v, key + ".")
        else:
            yield key, v


@functools.lru_cache(maxsize=1024)
def _is_field(key: str) -> bool:
    parts = key.split(".")
    return any(len(wanted) == len(parts) and _leaf_of(wanted, parts)
               for wanted, _ in _BY_SECTION.get(parts[0], ()))


def gated(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The TRUST leaves of a settings document (`ProjectSettings.model_dump(mode="json")`)."""
    return {k: v for k, v in leaves(doc) if k != "schema_version" and classify(k) == TRUST}


def changed(trusted: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """The TRUST keys whose current value is not the trusted one (a key on one side only
    changed too)."""
    return sorted(k for k in trusted.keys() | current.keys()
                  if trusted.get(k) != current.get(k))


def is_secret(key: str) -> bool:
    """A key whose value is never printed (`dflow trust` shows that it changed, not to what)."""
    return key.startswith("secrets.") or bool(_SECRET_NAME.search(key.split(".")[-1]))


def reason(key: str) -> str:
    """The wait of a job held back by `key`, as status, show and the console print it."""
    return f"settings from origin changed {key}"


def phase_of(kind: str) -> str:
    """The phase whose engine a job kind runs (fix-CI runs the execute engine)."""
    return "execute" if kind in ("fix_ci", "fix_review") else kind


def holds_back(key: str, kind: str, engines: frozenset[str]) -> bool:
    """Whether a job of `kind` (running the engines named `engines`, when it is an agent's)
    would use the untrusted `key` on this machine."""
    parts = key.split(".")
    agent = kind in AGENT_KINDS
    if key in AT_USE:
        return False
    if parts[0] == "engines":
        return agent and len(parts) > 1 and parts[1] in engines
    if parts[0] == "phases":
        return agent and (parts[-1] in ("default", phase_of(kind)))
    if parts[0] == "variants":
        return agent
    if key == "ci.fix":
        return kind == "fix_ci"
    if key == "review.fix":
        return kind == "fix_review"
    return True  # secrets, git, where worktrees live, where work goes, who reviews


def blocker(untrusted: frozenset[str], kind: str, engines: frozenset[str]) -> str | None:
    """The first untrusted key that holds a job back here, or None."""
    for key in sorted(untrusted):
        if holds_back(key, kind, engines):
            return key
    return None


def engines_of(kind: str, phases: PhasesSection, run_engine: str = "",
               chosen: str = "") -> frozenset[str]:
    """The engines an agent job may run: the attempt's, the run's, the phase's (any of them
    changed holds it back, whichever wins in workflow/agents.engine_name)."""
    if kind not in AGENT_KINDS:
        return frozenset()
    return frozenset(n for n in (chosen, run_engine, phases.engine_for(phase_of(kind))) if n)
