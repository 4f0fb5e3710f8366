"""`dflow init --ci github|gitlab`: a CI workflow that runs the checks, then reports back."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from ..context import config
from ..context.project import Project
from ..domain.config import settings_trust
from ..errors import ConfigError, UsageError
from ..store import Tx
from . import install
from . import workers as fleet
from .install import github_setup, install_line

GITHUB = """\
# Written by `dflow init --ci github`: runs the checks, then reports the result to the
# protocol run of this branch (docs/ci.md). The state ref is pushed with GITHUB_TOKEN,
# which needs `contents: write`.
name: dflow
on:
  push:
    branches-ignore: [{base}]
  pull_request:
permissions:
  contents: write
jobs:
  checks:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - name: Install dflow
        env:
          DFLOW_INSTALL: ${{{{ vars.DFLOW_INSTALL }}}}
        run: {install}
      - name: Report running
        run: dflow ci report --status running || true
      - name: Checks
        id: checks
        shell: bash
        run: |
          set -o pipefail
          {checks} 2>&1 | tee dflow-checks.log
      - name: Report the result
        if: always()
        shell: bash
        run: |
          status=failure
          if [ "${{{{ steps.checks.outcome }}}}" = "success" ]; then status=success; fi
          dflow ci report --status "$status" --log dflow-checks.log
"""

GITLAB = """\
# Written by `dflow init --ci gitlab`: runs the checks, then reports the result to the
# protocol run of this branch (docs/ci.md). Pushing the state ref needs a project access
# token with write_repository in the masked CI/CD variable DFLOW_PUSH_TOKEN.
stages: [test]

dflow-checks:
  stage: test
  image: python:3.12
  variables:
    GIT_DEPTH: "0"
  before_script:
    - {install}
    - git remote set-url origin "https://dflow:${{DFLOW_PUSH_TOKEN}}@${{CI_SERVER_HOST}}/${{CI_PROJECT_PATH}}.git"
    - dflow ci report --status running || true
  script:
    - set -o pipefail
    - ({checks}) 2>&1 | tee dflow-checks.log
  after_script:
    - if [ "$CI_JOB_STATUS" = "success" ]; then s=success; else s=failure; fi
    - dflow ci report --status "$s" --log dflow-checks.log
"""


GITHUB_INTAKE = """\
# Written by `dflow init --ci github`: an issue labelled `{label}` becomes a protocol run
# (`dflow new --from-event`, docs/ci.md), planned by whichever worker takes the job. The state
# ref and the run's branch are pushed with GITHUB_TOKEN (`contents: write`).
name: dflow-intake
on:
  issues:
    types: [opened, labeled]
  pull_request_review:
    types: [submitted]
  pull_request_review_comment:
    types: [created]
permissions:
  contents: write
jobs:
  review:
    # A reviewer's review or comment goes back to the run of the PR's branch (review.fix).
    if: github.event_name != 'issues'
    runs-on: ubuntu-latest
    steps:
{setup}      - name: Record the review
        run: dflow review report --event-file "$GITHUB_EVENT_PATH"
  intake:
    if: >-
      github.event_name == 'issues' && github.event.label.name == '{label}' ||
      github.event_name == 'issues' && github.event.action == 'opened' &&
      contains(github.event.issue.labels.*.name, '{label}')
    runs-on: ubuntu-latest
    steps:
{setup}      - name: The issue becomes a run
        env:
          DFLOW_TRUST_SETTINGS: "1"
        run: |
          git config user.name "dflow"
          git config user.email "dflow@users.noreply.github.com"
          dflow sync
          dflow new --from-event "$GITHUB_EVENT_PATH"
          dflow sync
"""

# What each GitLab job a webhook's pipeline trigger starts has before its own check of the
# payload: the trigger rule, the full history, dflow installed, a remote it can push to.
GITLAB_TRIGGERED = """\
  stage: test
  image: python:3.12
  rules:
    - if: $CI_PIPELINE_SOURCE == "trigger" && $TRIGGER_PAYLOAD
  variables:
    GIT_DEPTH: "0"
{variables}  script:
    - {install}
    - git remote set-url origin "https://dflow:${{DFLOW_PUSH_TOKEN}}@${{CI_SERVER_HOST}}/${{CI_PROJECT_PATH}}.git"
"""

# GitLab runs no pipeline on an issue event itself: a project webhook (Issues events) to the
# pipeline trigger URL starts this job with the event in the file variable TRIGGER_PAYLOAD.
GITLAB_INTAKE = """\

# Written by `dflow init --ci gitlab`: an issue labelled `{label}` becomes a protocol run
# (docs/ci.md: a project webhook for Issues events to the pipeline trigger URL starts it).
dflow-intake:
{intake_head}    - >-
      python3 -c 'import json, os, sys;
      d = json.load(open(os.environ["TRIGGER_PAYLOAD"]));
      sys.exit(0 if d.get("object_kind") == "issue" and "{label}" in
      [l.get("title") for l in d.get("labels") or []] else 1)'
      || {{ echo "not an issue labelled {label}"; exit 0; }}
    - git config user.name dflow && git config user.email dflow@noreply.invalid
    - dflow sync
    - dflow new --from-event "$TRIGGER_PAYLOAD"
    - dflow sync

# A merge request note (a project webhook for Comments events to the trigger URL) goes back
# to the run of its source branch (review.fix).
dflow-review:
{review_head}    - >-
      python3 -c 'import json, os, sys;
      d = json.load(open(os.environ["TRIGGER_PAYLOAD"]));
      sys.exit(0 if d.get("object_kind") == "note" and "merge_request" in d else 1)'
      || {{ echo "not a merge request note"; exit 0; }}
    - dflow review report --event-file "$TRIGGER_PAYLOAD"
"""


def detect_checks(root: Path) -> str:
    """A sensible default for the project's checks; `--checks` overrides it."""
    if (root / ".ci" / "run").exists():
        return "bash .ci/run"
    if (root / "pyproject.toml").exists() or (root / "setup.py").exists():
        return "pip install -e . pytest && python -m pytest"
    if (root / "package.json").exists():
        return "npm ci && npm test"
    if (root / "Makefile").exists():
        return "make test"
    return 'echo "set your checks with: dflow init --ci PROVIDER --checks CMD" && false'


def render(provider: str, checks: str, base: str, requirement: str = "",
           label: str = "") -> str:
    template = GITHUB if provider == "github" else GITLAB
    text = template.format(install=install_line(requirement), checks=checks, base=base)
    if provider == "gitlab" and label:  # one pipeline file: the intake job is in it
        text += render_intake(provider, label, requirement)
    return text


def render_intake(provider: str, label: str, requirement: str = "") -> str:
    """The job that turns an issue labelled `label` into a run."""
    template = GITHUB_INTAKE if provider == "github" else GITLAB_INTAKE
    install = install_line(requirement)
    return template.format(
        install=install, label=label.replace("'", ""), setup=github_setup(requirement),
        intake_head=GITLAB_TRIGGERED.format(install=install,
                                            variables='    DFLOW_TRUST_SETTINGS: "1"\n'),
        review_head=GITLAB_TRIGGERED.format(install=install, variables=""))


def intake_target(root: Path) -> Path:
    return root / ".github" / "workflows" / "dflow-intake.yml"


def target(root: Path, provider: str) -> Path:
    if provider == "github":
        return root / ".github" / "workflows" / "dflow.yml"
    gitlab = root / ".gitlab-ci.yml"
    # Never overwrite a project's pipeline: write a snippet it can `include:`.
    return root / ".gitlab" / "dflow.gitlab-ci.yml" if gitlab.exists() else gitlab


def write(project: Project, provider: str, checks: str | None = None,
          workers: int = 0) -> list[Path]:
    """The workflow; with `workers`, the job that runs that many remote workers too (its own
    workflow on GitHub, a job in the same file on GitLab: `ci/workers.py`)."""

    if provider not in ("github", "gitlab"):
        raise UsageError(f"--ci takes github or gitlab, not '{provider}'")
    root = project.root
    path = target(root, provider)
    extra = fleet.target(root, provider) if workers and provider == "github" else None
    for existing in (path, extra):
        if existing is not None and existing.exists():
            raise UsageError(f"{existing} exists; remove it or edit it by hand (docs/ci.md "
                             "shows it)")
    settings = project.settings()
    # The workflow would run these on CI with its tokens; with workers, the engines and
    # phases also choose which CI secrets reach the agent (ci/workers.credentials).
    for key in sorted(settings.untrusted()):
        if key in ("ci.install", "project.base_branch") or (
                workers and key.startswith(("engines.", "phases."))):
            raise ConfigError(f"{settings_trust.reason(key)}; review and accept it with "
                              f"`{settings_trust.COMMAND}`, then run this again")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render(provider, checks or detect_checks(root), settings.project.base_branch,
                  settings.ci.install, settings.intake.label)
    fleet_text = fleet.render(provider, workers, settings) if workers else ""
    path.write_text(text if extra is not None or not workers else f"{text}\n{fleet_text}")
    written = [path]
    if extra is not None:
        extra.write_text(fleet_text)
        written.append(extra)
    if provider == "github" and not intake_target(root).exists():
        intake = intake_target(root)
        intake.write_text(render_intake(provider, settings.intake.label, settings.ci.install))
        written.append(intake)
    return written


SECRET_HINT = {
    "github": "the workflow pushes the state with GITHUB_TOKEN: allow it to write (Settings > "
              "Actions > General > Workflow permissions: Read and write)",
    "gitlab": "add a masked CI/CD variable DFLOW_PUSH_TOKEN holding a project access token with "
              "write_repository (Settings > CI/CD > Variables)",
}


class CiSetup(BaseModel):
    paths: list[Path]
    provider: str
    install: str = ""
    why_no_install: str = ""
    secret: str = ""


def setup(project: Project, provider: str, checks: str | None = None,
          workers: int = 0) -> CiSetup:
    """`dflow init --ci`: ci.provider and ci.install on the ref (one commit), then the workflow."""
    if provider not in ("github", "gitlab"):
        raise UsageError(f"--ci takes github or gitlab, not '{provider}'")
    path = target(project.root, provider)
    if path.exists():
        raise UsageError(f"{path} exists; remove it or edit it by hand (docs/ci.md shows it)")
    found = install.detect()
    current = project.settings().ci.install

    def change(tx: Tx) -> None:
        text = config.set_in_project_text(tx.view.project_text(), "ci.provider", provider,
                                          kinds=project.parts.engine_kinds())
        if found.requirement and not current:
            text = config.set_in_project_text(text, "ci.install", json.dumps(found.requirement),
                                              kinds=())
        tx.set_project_text(text)

    project.store.transact(change, message=f"dflow: init --ci {provider}")
    if workers < 0:
        raise UsageError("--workers must be at least 1")
    paths = write(project, provider, checks, workers)
    chosen = project.settings().ci.install
    return CiSetup(paths=paths, provider=provider, install=chosen,
                   why_no_install="" if chosen else found.why_not, secret=SECRET_HINT[provider])
