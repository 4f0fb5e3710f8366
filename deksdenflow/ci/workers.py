"""`dflow init --ci github|gitlab --workers N`: CI runners are the fleet. A job that runs
`dflow worker --remote origin --burst` on N runners, on a schedule and on demand, with the
agent's credentials from CI secrets and nothing else (docs/ci.md, decision 1523)."""

from __future__ import annotations

import re
from pathlib import Path

from ..domain.config.settings import ProjectSettings
from ..errors import ConfigError, UsageError
from .install import github_setup, install_line

SCHEDULE = "*/30 * * * *"  # every half hour; `workflow_dispatch` / a web pipeline runs it now
TIMEOUT_MIN = 120  # a runner stops after this; its claims' leases run out and others go on
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KEY_OF_KIND = {"codex": "OPENAI_API_KEY", "claude": "ANTHROPIC_API_KEY",
               "openai": "OPENAI_API_KEY"}

GITHUB = """\
# Written by `dflow init --ci github --workers {n}`: {n} runners work the dflow queue
# (docs/ci.md). Each claims a job through origin (a claim ref, then the state ref), runs it,
# pushes the result, and exits when nothing is left (--burst). Runs every 30 minutes and on
# demand (Actions > dflow workers > Run workflow). The agent gets only the secrets below.
name: dflow workers
on:
  schedule:
    - cron: "{schedule}"
  workflow_dispatch:
permissions:
  contents: write
jobs:
  worker:
    runs-on: ubuntu-latest
    timeout-minutes: {timeout}
    strategy:
      fail-fast: false
      matrix:
        runner: [{runners}]
    steps:
{setup}      - name: Fetch the state and trust the settings of this commit
        run: |
          git config user.name "dflow worker"
          git config user.email "dflow-worker@users.noreply.github.com"
          dflow sync
          dflow trust --yes
      - name: Work the queue
        env:
          CI: "true"
{secrets_github}        run: dflow worker --remote origin --burst
"""

GITLAB = """\
# Written by `dflow init --ci gitlab --workers {n}`: {n} runners work the dflow queue
# (docs/ci.md). Each claims a job through origin (a claim ref, then the state ref), runs it,
# pushes the result, and exits when nothing is left (--burst). Run it from a pipeline
# schedule (Build > Pipeline schedules) or by hand (Run pipeline). Pushing needs a project
# access token with write_repository in the masked variable DFLOW_PUSH_TOKEN; the agent
# gets only the variables listed below.
dflow-workers:
  image: python:3.12
  parallel: {n}
  timeout: {timeout}m
  rules:
    - if: $CI_PIPELINE_SOURCE == "schedule" || $CI_PIPELINE_SOURCE == "web"
  variables:
    GIT_DEPTH: "0"
  script:
    - {install}
    - git remote set-url origin "https://dflow:${{DFLOW_PUSH_TOKEN}}@${{CI_SERVER_HOST}}/${{CI_PROJECT_PATH}}.git"
    - git config user.name "dflow worker" && git config user.email "dflow-worker@invalid"
    - dflow sync
    - dflow trust --yes
    - {run_gitlab}dflow worker --remote origin --burst
"""


def credentials(settings: ProjectSettings) -> list[str]:
    """The variables the project's agents read their keys from (the engines its phases use)."""
    names: list[str] = []
    for phase in ("plan", "execute", "qa"):
        name = settings.phases.engine_for(phase)
        engine = settings.engine(name)
        key = str(engine.options.get("api_key_env") or KEY_OF_KIND.get(engine.kind, ""))
        if key and not _VARIABLE.fullmatch(key):  # it is pasted into YAML and a shell line
            raise ConfigError(f"[engines.{name}] options.api_key_env '{key}' is not a "
                              "variable name; use letters, digits and _")
        if key and key not in names:
            names.append(key)
    return names


def render(provider: str, n: int, settings: ProjectSettings) -> str:
    if n < 1:
        raise UsageError("--workers must be at least 1")
    keys = credentials(settings)
    if provider == "github":
        secrets = "".join(f"          {k}: ${{{{ secrets.{k} }}}}\n" for k in keys)
        return GITHUB.format(n=n, schedule=SCHEDULE, timeout=TIMEOUT_MIN,
                             runners=", ".join(str(i) for i in range(1, n + 1)),
                             setup=github_setup(settings.ci.install), secrets_github=secrets)
    # GitLab hands every CI/CD variable to every job: the worker's agent gets only the keys.
    keep = " ".join(f'{k}="${k}"' for k in keys)
    run = f"env -i PATH=\"$PATH\" HOME=\"$HOME\" CI=true {keep} ".replace("  ", " ")
    return GITLAB.format(n=n, timeout=TIMEOUT_MIN, install=install_line(settings.ci.install),
                         run_gitlab=run)


def target(root: Path, provider: str) -> Path:
    if provider == "github":
        return root / ".github" / "workflows" / "dflow-workers.yml"
    return root / ".gitlab" / "dflow-workers.gitlab-ci.yml"
