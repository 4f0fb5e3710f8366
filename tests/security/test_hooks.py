"""A repository's hooks are programs the agent can edit: dflow's own git commands never run
them (unless the user turns them on)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.runs.models import StepStatus
from deksdenflow.engines.demo_files import plan as demo_plan
from deksdenflow.workflow.lifecycle import runs
from tests.conftest import git
from tests.engines.conftest import install_fake
from tests.workflow.conftest import configure, settle

PASS = json.dumps({"verdict": "PASS", "summary": "ok", "findings": []})


def _hook(marker: Path) -> str:
    return f"#!/bin/sh\necho ran >> {marker}\n"


def _tracked_hooks(repo: Path, marker: Path) -> None:
    hooks = repo / ".githooks"
    hooks.mkdir()
    for name in ("post-checkout", "pre-commit", "commit-msg", "post-commit"):
        path = hooks / name
        path.write_text(_hook(marker))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "--no-verify", "-m", "hooks", cwd=repo)
    git("config", "core.hooksPath", ".githooks", cwd=repo)


@pytest.mark.parametrize("run_hooks", [False, True])
def test_an_agent_edited_tracked_hook_is_never_run_by_dflow(
    project: Project, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    run_hooks: bool
) -> None:
    marker = tmp_path / "outside" / "hook-ran"
    marker.parent.mkdir()
    _tracked_hooks(repo, tmp_path / "outside" / "tracked-hook-ran")
    codex = install_fake("codex", tmp_path, monkeypatch)
    plan = demo_plan("0001-x")
    edit = (f"printf '#!/bin/sh\\necho pwned >> {marker}\\n' > .githooks/pre-commit && "
            "chmod +x .githooks/pre-commit")
    calls = [{"message": json.dumps(plan)}]
    for n in range(3):
        calls += [{"shell": [edit], "write": {f"f{n}.txt": "x\n"}, "message": "done"},
                  {"message": PASS}]
    codex.script(queue=calls)
    configure(project, {"phases.default": '"codex"', "git.run_hooks": str(run_hooks).lower()})
    runs.create_run(project, "x", "add a greeting")

    done = settle(project)

    assert [s.status for s in done.steps] == [StepStatus.COMPLETED] * 3
    if run_hooks:  # the documented opt-in really runs them (so the test above can fail)
        assert marker.exists()
    else:
        assert not marker.exists()
        assert not (tmp_path / "outside" / "tracked-hook-ran").exists()


def test_codex_executes_with_the_system_temp_dirs_outside_its_sandbox(
    project: Project, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codex = install_fake("codex", tmp_path, monkeypatch)
    calls = [{"message": json.dumps(demo_plan("0001-x"))}]
    for n in range(3):
        calls += [{"shell": ['echo "$TMPDIR" > tmpdir.txt && touch "$TMPDIR/scratch"'],
                   "write": {f"f{n}.txt": "x\n"}, "message": "done"}, {"message": PASS}]
    codex.script(queue=calls)
    configure(project, {"phases.default": '"codex"'})
    runs.create_run(project, "x", "add a greeting")

    done = settle(project)

    assert [s.status for s in done.steps] == [StepStatus.COMPLETED] * 3
    execute = [c["argv"] for c in codex.calls() if "workspace-write" in c["argv"]]
    assert len(execute) == 3
    for argv in execute:
        assert "sandbox_workspace_write.exclude_slash_tmp=true" in argv
        assert "sandbox_workspace_write.exclude_tmpdir_env_var=true" in argv
    tmpdir = git("show", "0001-x:tmpdir.txt", cwd=repo)
    assert tmpdir.endswith("/.dflow-tmp")  # private, inside the worktree
    files = git("ls-tree", "-r", "--name-only", "0001-x", cwd=repo).splitlines()
    assert not any(f.startswith(".dflow-tmp") for f in files)  # and never committed
