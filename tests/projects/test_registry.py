"""The projects registry: round-trips, XDG dirs, and concurrent writers losing nothing."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from deksdenflow.errors import ConfigError
from deksdenflow.projects import registry
from deksdenflow.projects.registry import ProjectEntry


def test_registry_lives_in_xdg_config_home_and_round_trips(isolated_env: Path) -> None:
    assert registry.registry_path() == isolated_env / ".config" / "dflow" / "projects.toml"
    assert registry.default_clone_dir() == isolated_env / ".local/share/dflow/projects"
    registry.put(ProjectEntry(name="app", path="/src/app", remote="git@x:a.git", base="dev"))
    registry.put(ProjectEntry(name="lib", path="/src/lib", managed=True))
    loaded = registry.load()
    assert sorted(loaded.projects) == ["app", "lib"]
    assert loaded.projects["app"].base == "dev" and loaded.projects["app"].added is not None
    assert loaded.projects["lib"].managed
    assert registry.remove("app").path == "/src/app"
    assert list(registry.load().projects) == ["lib"]


def test_registry_finds_the_project_holding_a_path(tmp_path: Path) -> None:
    (tmp_path / "a" / "sub").mkdir(parents=True)
    registry.put(ProjectEntry(name="a", path=str((tmp_path / "a").resolve())))
    found = registry.load().find(str(tmp_path / "a" / "sub"))
    assert found is not None and found.name == "a"
    assert registry.load().find(str(tmp_path)) is None


def test_a_damaged_registry_is_one_clear_error(isolated_env: Path) -> None:
    path = registry.registry_path()
    path.parent.mkdir(parents=True)
    path.write_text("projects = [not toml")
    with pytest.raises(ConfigError, match="projects registry .* is not valid"):
        registry.load()


def _add_many(prefix: str, count: int, home: str) -> None:
    import os

    os.environ["XDG_CONFIG_HOME"] = home
    for i in range(count):
        registry.put(ProjectEntry(name=f"{prefix}{i}", path=f"/src/{prefix}{i}"))


def test_two_processes_adding_at_once_lose_nothing(isolated_env: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    home = str(isolated_env / ".config")
    procs = [ctx.Process(target=_add_many, args=(p, 25, home)) for p in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    names = set(registry.load().projects)
    assert names == {f"{p}{i}" for p in "ab" for i in range(25)}
    leftovers = [f.name for f in registry.registry_path().parent.iterdir() if ".tmp" in f.name]
    assert leftovers == []
