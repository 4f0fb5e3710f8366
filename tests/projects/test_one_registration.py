"""`dflow projects add` registers one repository once: a second registration of it — by a
symlink, a linked worktree, another clone of the same remote, or the URL it was cloned from —
is refused in one sentence, and the registry is unchanged (issue 22 part 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deksdenflow.projects import registry
from tests.conftest import git, make_repo


@pytest.fixture
def shared(tmp_path: Path) -> tuple[Path, Path]:
    """A bare remote and a clone of it registered by path."""
    src = make_repo(tmp_path / "src", files={"app.py": "print(1)\n"})
    bare = tmp_path / "shop.git"
    git("clone", "-q", "--bare", str(src), str(bare), cwd=tmp_path)
    first = tmp_path / "shop"
    git("clone", "-q", bare.as_uri(), str(first), cwd=tmp_path)
    return bare, first


def _second(tmp_path: Path, bare: Path, first: Path, how: str) -> tuple[str, str]:
    """The source and --name of the second registration."""
    if how == "symlink":
        (tmp_path / "link").symlink_to(first)
        return str(tmp_path / "link"), "link"
    if how == "worktree":
        git("worktree", "add", "-q", str(tmp_path / "wt"), "-b", "side", cwd=first)
        return str(tmp_path / "wt"), "wt"
    if how == "clone":
        git("clone", "-q", bare.as_uri(), str(tmp_path / "other"), cwd=tmp_path)
        return str(tmp_path / "other"), "other"
    if how == "subdir":
        (first / "pkg").mkdir()
        return str(first / "pkg"), "pkg"
    return bare.as_uri(), "by-url"


@pytest.mark.parametrize("how", ["symlink", "worktree", "clone", "subdir", "url"])
def test_a_second_registration_of_one_repository_is_refused(
        cli: Any, tmp_path: Path, shared: tuple[Path, Path], how: str) -> None:
    bare, first = shared
    assert cli("projects", "add", str(first), "--engine", "demo").exit_code == 0
    before = registry.registry_path().read_text()
    source, name = _second(tmp_path, bare, first, how)
    result = cli("projects", "add", source, "--name", name, "--engine", "demo", cwd=tmp_path)
    assert result.exit_code == 2, result.output
    assert "already registered as 'shop'" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert registry.registry_path().read_text() == before


def test_the_url_first_then_its_clone_by_path_is_refused(cli: Any, tmp_path: Path,
                                                         shared: tuple[Path, Path]) -> None:
    bare, first = shared
    assert cli("projects", "add", bare.as_uri(), "--engine", "demo", cwd=tmp_path).exit_code == 0
    result = cli("projects", "add", str(first), "--engine", "demo", cwd=tmp_path)
    assert result.exit_code == 2 and "already registered as 'shop'" in result.output


def test_adding_the_same_entry_again_still_resumes(cli: Any, shared: tuple[Path, Path]) -> None:
    _, first = shared
    assert cli("projects", "add", str(first), "--engine", "demo").exit_code == 0
    again = cli("projects", "add", str(first), "--engine", "demo")
    assert again.exit_code == 0, again.output
    assert list(registry.load().projects) == ["shop"]
