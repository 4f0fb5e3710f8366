"""dflow init --ci github|gitlab writes a workflow that runs the checks, then reports."""

from __future__ import annotations

from pathlib import Path

from tests.sync.conftest import Clone


def test_init_ci_github_writes_a_workflow_with_push_permission(clone: Clone, cli: object) -> None:
    a = clone("a")
    result = cli("init", "--ci", "github", "--checks", "make check", cwd=a.root)  # type: ignore[operator]
    assert result.exit_code == 0, result.output
    text = (a.root / ".github" / "workflows" / "dflow.yml").read_text()
    assert "permissions:\n  contents: write" in text
    assert "make check 2>&1 | tee dflow-checks.log" in text
    assert 'dflow ci report --status "$status" --log dflow-checks.log' in text
    assert "if: always()" in text and "\t" not in text


def test_init_ci_gitlab_uses_a_project_token_and_never_overwrites(
    clone: Clone, cli: object
) -> None:
    a = clone("a")
    (a.root / ".gitlab-ci.yml").write_text("stages: [build]\n")
    result = cli("init", "--ci", "gitlab", cwd=a.root)  # type: ignore[operator]
    assert result.exit_code == 0, result.output
    assert (a.root / ".gitlab-ci.yml").read_text() == "stages: [build]\n"
    snippet = (a.root / ".gitlab" / "dflow.gitlab-ci.yml").read_text()
    assert "DFLOW_PUSH_TOKEN" in snippet and "dflow ci report" in snippet
    again = cli("init", "--ci", "gitlab", cwd=a.root)  # type: ignore[operator]
    assert again.exit_code == 2 and "exists" in again.output


def test_init_ci_rejects_an_unknown_provider(clone: Clone, cli: object) -> None:
    a = clone("a")
    result = cli("init", "--ci", "jenkins", cwd=a.root)  # type: ignore[operator]
    assert result.exit_code == 2 and "--ci takes github or gitlab" in result.output
    assert not (Path(a.root) / ".github").exists()
