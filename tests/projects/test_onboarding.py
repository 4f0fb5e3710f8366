"""`dflow projects add`: a local path, a file:// URL, a setup resumed after a failed clone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from deksdenflow.domain.eventlog.payloads import ProjectSetup
from deksdenflow.projects import registry
from deksdenflow.wiring import open_project
from tests.conftest import git, make_repo


def make_bare(tmp_path: Path, name: str = "second") -> Path:
    src = make_repo(tmp_path / f"{name}-src", files={"app.py": "print(1)\n"})
    bare = tmp_path / f"{name}.git"
    git("clone", "-q", "--bare", str(src), str(bare), cwd=tmp_path)
    return bare


def test_add_a_local_path_registers_and_initializes_it(cli: Any, repo: Path) -> None:
    result = cli("projects", "add", str(repo), "--engine", "demo")
    assert result.exit_code == 0, result.output
    assert "repo: init done" in result.output
    entry = registry.load().projects["repo"]
    assert (entry.path, entry.managed, entry.base) == (str(repo.resolve()), False, "main")
    project = open_project(repo)
    assert project.settings().phases.default == "demo"
    setup = [e.data for e in project.view().root_events() if isinstance(e.data, ProjectSetup)]
    assert [(d.step, d.status) for d in setup] == [("init", "done")]
    listed = json.loads(cli("projects", "--json").output)
    assert [(p["name"], p["base"], p["engines"], p["runs_active"]) for p in listed] == [
        ("repo", "main", ["demo"], 0)]


def test_add_a_file_url_clones_it_into_the_data_dir(cli: Any, tmp_path: Path,
                                                    isolated_env: Path) -> None:
    bare = make_bare(tmp_path)
    result = cli("projects", "add", f"file://{bare}", "--engine", "demo", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    entry = registry.load().projects["second"]
    assert entry.managed and entry.remote == f"file://{bare}"
    assert Path(entry.path) == isolated_env / ".local/share/dflow/projects/second"
    assert (Path(entry.path) / "app.py").exists()
    steps = [e.data.step for e in open_project(entry.path).view().root_events()
             if isinstance(e.data, ProjectSetup)]
    assert steps == ["clone", "init"]
    removed = cli("projects", "remove", "second", "--delete-clone")
    assert removed.exit_code == 0 and not Path(entry.path).exists()


def test_a_setup_whose_clone_failed_half_way_resumes(cli: Any, tmp_path: Path) -> None:
    bare = make_bare(tmp_path)
    objects = bare / "objects"
    hidden = tmp_path / "hidden-objects"
    shutil.copytree(objects, hidden)
    for blob in [p for p in objects.rglob("*") if p.is_file() and len(p.parent.name) == 2]:
        blob.unlink()  # the remote lost its objects: the clone fails after it started
    failed = cli("projects", "add", f"file://{bare}", "--engine", "demo", cwd=tmp_path)
    assert failed.exit_code == 1
    assert "stopped at clone" in failed.output and "again to resume" in failed.output
    assert registry.load().projects["second"].setup == "clone"
    shutil.rmtree(objects)
    shutil.copytree(hidden, objects)
    again = cli("projects", "add", f"file://{bare}", "--engine", "demo", cwd=tmp_path)
    assert again.exit_code == 0, again.output
    entry = registry.load().projects["second"]
    assert entry.setup == "done" and (Path(entry.path) / "app.py").exists()


def test_an_init_that_failed_resumes_without_cloning_again(cli: Any, tmp_path: Path,
                                                           isolated_env: Path) -> None:
    bare = make_bare(tmp_path)
    user_config = isolated_env / "dflow-config.toml"
    user_config.write_text("[retry]\nmax_attempts = 0\n")  # init fails reading settings
    bad = cli("projects", "add", f"file://{bare}", "--engine", "demo", cwd=tmp_path)
    assert bad.exit_code == 1 and "stopped at init" in bad.output, bad.output
    assert registry.load().projects["second"].setup == "init"
    user_config.unlink()
    again = cli("projects", "add", f"file://{bare}", "--engine", "demo", cwd=tmp_path)
    assert again.exit_code == 0, again.output
    assert "clone skipped" in again.output


def test_init_registers_the_repository(cli: Any, repo: Path) -> None:
    result = cli("init", "--engine", "demo", cwd=repo)
    assert result.exit_code == 0
    assert "registered as project 'repo'" in result.output
    assert registry.load().projects["repo"].path == str(repo.resolve())
    assert "registered" not in cli("init", cwd=repo).output  # once is enough


def test_remove_never_deletes_your_own_repository(cli: Any, repo: Path) -> None:
    cli("init", "--engine", "demo", cwd=repo)
    refused = cli("projects", "remove", "repo", "--delete-clone")
    assert refused.exit_code == 2 and "not a clone dflow made" in refused.output
    assert cli("projects", "remove", "repo").exit_code == 0
    assert repo.exists() and registry.load().projects == {}


def test_add_of_a_repository_set_up_before_reports_its_own_engine_and_base(
        cli: Any, repo: Path) -> None:
    """Before: "engine codex" for a command-engine project and the detected base, not its."""
    git("branch", "trunk", cwd=repo)
    assert cli("init", "--yes", "--engine", "command", "--base", "trunk", cwd=repo).exit_code == 0
    result = cli("projects", "add", str(repo))
    assert result.exit_code == 0, result.output
    assert f"added repo: {repo.resolve()} (base trunk, engine command, ci none)" \
        in result.output
    assert registry.load().projects["repo"].base == "trunk"
