"""Issue 23, parts 1-3, with command-engine agents (no sandbox at all): dflow's git never enters
a repository the agent made or re-pointed, no agent process outlives its step, and the agent's
environment is an allowlist. Each test also checks `git fsck`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain import correlation
from deksdenflow.domain.runs.models import RunSnapshot, RunStatus, StepStatus
from deksdenflow.engines import process
from deksdenflow.workflow.lifecycle import runs
from tests.conftest import git
from tests.security.conftest import fsck
from tests.workflow.conftest import settle

# A nested repository with its own `filter.evil.clean`, a matching .gitattributes, declared in
# .gitmodules, and a file left stat-dirty: a `git status` that recursed into it ran the filter.
NESTED = """
set -e
mkdir -p vendor/lib && cd vendor/lib && git init -q
echo '* filter=evil' > .gitattributes
echo data > f.txt
git add -A && git -c user.name=a -c user.email=a@b -c filter.evil.clean=cat commit -qm lib
git config filter.evil.clean "sh -c 'touch {marker}; cat'"
touch -d '2000-01-01 00:00' f.txt
cd ../..
printf '[submodule "vendor/lib"]\\n\\tpath = vendor/lib\\n\\turl = ./vendor/lib\\n' > .gitmodules
echo work > work.txt
"""

# The worktree's `.git` re-pointed at a git dir the agent built, whose config runs programs
# on dflow's add (a clean filter), commit (gpg.program with commit.gpgsign) and more.
REPOINT = """
set -e
fake={fake}
git clone -q --bare "$(pwd)" "$fake"
git --git-dir="$fake" config core.bare false
git --git-dir="$fake" config filter.evil.clean "sh -c 'touch {marker}; cat'"
git --git-dir="$fake" config commit.gpgsign true
git --git-dir="$fake" config gpg.program "sh -c 'touch {marker}; exit 1'"
echo '* filter=evil' > .gitattributes
echo work > work.txt
printf 'gitdir: %s\\n' "$fake" > .git
"""


def _agent(project: Project, tmp_path: Path, script: str, **env: str) -> Path:
    path = tmp_path / "attack.sh"
    path.write_text(script)
    extra = f"env = {json.dumps(list(env))}\n" if env else ""
    project.store.transact(lambda tx: tx.set_project_text(
        tx.view.project_text() + f'\n[engines.evil]\nkind = "command"\n{extra}'
        f'options = {{ command = "sh {path}" }}\n'))
    project.set_settings({"phases.default": '"demo"', "phases.execute": '"evil"'})
    return path


def _recorded_commits_are_real(snap: RunSnapshot, repo: Path) -> None:
    for commit in [snap.run.plan_commit, *(s.commit for s in snap.steps)]:
        if commit:
            assert subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"],
                                  cwd=repo).returncode == 0, commit


def test_a_nested_repository_with_a_filter_is_never_entered_and_its_gitlink_refused(
        project: Project, repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "outside" / "filter-ran"
    marker.parent.mkdir()
    _agent(project, tmp_path, NESTED.format(marker=marker))
    project.set_settings({"qa.policy": '"never"'})  # the next step's `git status` comes at once
    runs.create_run(project, "x", "add a greeting")

    done = settle(project)

    assert not marker.exists(), "dflow's git ran the nested repository's filter"
    step = done.steps[0]
    assert step.status in (StepStatus.FAILED, StepStatus.BLOCKED), step
    assert done.run.status == RunStatus.BLOCKED
    assert "vendor/lib" in step.reason and "gitlink" in step.reason, step.reason
    assert "vendor/lib" not in git("ls-tree", "-r", "--name-only", "0001-x", cwd=repo)
    _recorded_commits_are_real(done, repo)
    fsck(repo)


def test_a_repointed_git_file_is_refused_before_any_git_command_runs(
        project: Project, repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "outside" / "program-ran"
    marker.parent.mkdir()
    fake = tmp_path / "outside" / "fake.git"
    _agent(project, tmp_path, REPOINT.format(fake=fake, marker=marker))
    project.set_settings({"qa.policy": '"never"'})
    runs.create_run(project, "x", "add a greeting")

    done = settle(project)

    assert not marker.exists(), "dflow's git ran a program of the agent's git dir"
    step = done.steps[0]
    assert done.run.status == RunStatus.BLOCKED and step.commit is None
    assert ".git" in step.reason and "git worktree repair" in step.reason, step.reason
    # Nothing of dflow's landed in the fake git dir; what the state records is in the real one.
    assert "work.txt" not in subprocess.run(
        ["git", "--git-dir", str(fake), "log", "--all", "--name-only", "--format="],
        capture_output=True, text=True).stdout
    _recorded_commits_are_real(done, repo)
    fsck(repo)


DAEMON = """
python3 - <<'PY'
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for fd in (0, 1, 2):
            os.close(fd)
        open("{pidfile}", "w").write(str(os.getpid()))
        n = 0
        while True:
            n += 1
            open("late.txt", "w").write(str(n))
            time.sleep(0.005)  # dflow's recording of the step takes far longer
    os._exit(0)
os.wait()
while not os.path.exists("{pidfile}"):
    time.sleep(0.01)
PY
echo work > work-$(date +%s%N).txt
"""


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return False


@pytest.mark.skipif(not process.KEEPER_ON, reason="the keeper is Linux's (decision 1531)")
def test_a_setsid_daemon_of_the_agent_dies_with_its_step(
        project: Project, repo: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "outside" / "daemon.pid"
    pidfile.parent.mkdir()
    _agent(project, tmp_path, DAEMON.format(pidfile=pidfile))
    project.set_settings({"qa.policy": '"never"'})
    runs.create_run(project, "x", "add a greeting")

    done = settle(project, all_steps=False)

    assert _gone(int(pidfile.read_text())), "the daemon outlived its step"
    assert done.steps[0].status == StepStatus.COMPLETED, done.steps[0]
    assert "late.txt" in git("ls-tree", "-r", "--name-only", "0001-x", cwd=repo)
    fsck(repo)


def test_a_late_write_after_the_steps_commit_is_refused(
        project: Project, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Where no keeper can reach it (another platform, or the agent killed its keeper): the
    # daemon escapes, and its write after the step's commit is found before QA builds on it.
    monkeypatch.setattr(process, "KEEPER_ON", False)
    pidfile = tmp_path / "outside" / "daemon.pid"
    pidfile.parent.mkdir()
    _agent(project, tmp_path, DAEMON.format(pidfile=pidfile))
    runs.create_run(project, "x", "add a greeting")
    try:
        done = settle(project, all_steps=False)
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
    step = done.steps[0]
    assert step.status == StepStatus.BLOCKED, step
    assert "after step 01's commit" in step.reason and "late.txt" in step.reason, step.reason
    fsck(repo)


ENV_DUMP = "python3 -c 'import json, os; print(json.dumps(dict(os.environ)))' > {out}\n" \
           "echo work > work.txt\n"


def test_the_agent_gets_only_the_allowed_environment(
        project: Project, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    denied = {"GITHUB_TOKEN": "ghp_" + "a" * 36, "GH_TOKEN": "gho_" + "b" * 36,
              "AWS_SECRET_ACCESS_KEY": "c" * 40, "AWS_ACCESS_KEY_ID": "AKIA" + "D" * 16,
              "SSH_AUTH_SOCK": "/tmp/agent.sock", "DFLOW_PUSH_TOKEN": "e" * 20,
              "GOOGLE_APPLICATION_CREDENTIALS": "/secret.json", "OPENAI_API_KEY": "sk-x"}
    for name, value in {**denied, "MY_BUILD_FLAGS": "-O2", "LANG": "C.UTF-8"}.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "outside" / "env.json"
    out.parent.mkdir()
    _agent(project, tmp_path, ENV_DUMP.format(out=out), MY_BUILD_FLAGS="")

    runs.create_run(project, "x", "add a greeting")
    settle(project, all_steps=False)

    seen = json.loads(out.read_text())
    assert not set(denied) & set(seen), set(denied) & set(seen)
    assert seen["MY_BUILD_FLAGS"] == "-O2" and seen["LANG"] == "C.UTF-8"
    assert seen["PATH"].endswith(os.environ["PATH"]) and seen["HOME"] == os.environ["HOME"]
    # Only the ids dflow sets for the agent's logs (domain/correlation.py).
    assert {k for k in seen if k.startswith("DFLOW_")} <= set(correlation.ENV_NAMES.values())
    fsck(repo)
