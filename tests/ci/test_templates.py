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


def test_init_ci_github_workers_writes_a_fleet_of_remote_workers(clone: Clone,
                                                                 cli: object) -> None:
    """`--workers 3`: a scheduled and on-demand workflow runs `dflow worker --remote origin
    --burst` on 3 runners; the worker step's environment holds the agent's key alone."""
    a = clone("a")
    assert cli("config", "set", "phases.default", "claude", cwd=a.root).exit_code == 0  # type: ignore[operator]
    result = cli("init", "--ci", "github", "--workers", "3", cwd=a.root)  # type: ignore[operator]
    assert result.exit_code == 0, result.output
    text = (a.root / ".github" / "workflows" / "dflow-workers.yml").read_text()
    assert "schedule:" in text and "workflow_dispatch:" in text
    assert "runner: [1, 2, 3]" in text and "\t" not in text
    assert "dflow trust --yes" in text and "dflow sync" in text
    step = text[text.index("- name: Work the queue"):]
    assert step.splitlines()[-1].strip() == "run: dflow worker --remote origin --burst"
    env = [ln.strip() for ln in step.splitlines()[2:-1]]
    assert env == ['CI: "true"', "ANTHROPIC_API_KEY: ${{ secrets.ANTHROPIC_API_KEY }}"]
    assert "secrets." not in text.replace(step, "")  # no other step sees a secret


def test_init_ci_gitlab_workers_run_the_agent_with_its_key_alone(clone: Clone,
                                                                 cli: object) -> None:
    a = clone("a")
    assert cli("config", "set", "phases.default", "codex", cwd=a.root).exit_code == 0  # type: ignore[operator]
    result = cli("init", "--ci", "gitlab", "--workers", "2", cwd=a.root)  # type: ignore[operator]
    assert result.exit_code == 0, result.output
    text = (a.root / ".gitlab-ci.yml").read_text()
    assert "dflow-workers:\n" in text and "parallel: 2" in text
    assert '$CI_PIPELINE_SOURCE == "schedule"' in text
    last = text.strip().splitlines()[-1]
    assert last.strip().startswith("- env -i ") and 'OPENAI_API_KEY="$OPENAI_API_KEY"' in last
    assert last.endswith("dflow worker --remote origin --burst")


def test_workers_without_ci_is_a_usage_error(clone: Clone, cli: object) -> None:
    a = clone("a")
    result = cli("init", "--workers", "2", cwd=a.root)  # type: ignore[operator]
    assert result.exit_code == 2 and "give --ci github or --ci gitlab" in result.output


def test_init_ci_github_writes_the_intake_workflow_for_the_label(
    clone: Clone, cli: object
) -> None:
    a = clone("a")
    cli("config", "set", "intake.label", '"agent-ready"', cwd=a.root)  # type: ignore[operator]
    result = cli("init", "--ci", "github", cwd=a.root)  # type: ignore[operator]
    assert result.exit_code == 0, result.output
    text = (a.root / ".github" / "workflows" / "dflow-intake.yml").read_text()
    assert "on:\n  issues:\n    types: [opened, labeled]\n" in text
    assert "github.event.label.name == 'agent-ready'" in text
    assert "contains(github.event.issue.labels.*.name, 'agent-ready')" in text
    assert text.rstrip().endswith(
        'dflow sync\n          dflow new --from-event "$GITHUB_EVENT_PATH"\n          dflow sync')
    assert "pull_request_review:\n    types: [submitted]" in text
    assert 'run: dflow review report --event-file "$GITHUB_EVENT_PATH"' in text
    assert "\t" not in text


def _folded(text: str, start: str) -> str:
    """The `- >-` block scalar that follows `start`, folded as YAML folds it (one line)."""
    lines = text[text.index(start):].splitlines()[1:]
    block = []
    for line in lines:
        if not line.startswith("      "):
            break
        block.append(line.strip())
    return " ".join(block)


def test_the_gitlab_intake_job_runs_only_for_an_issue_with_the_label(
    clone: Clone, cli: object, tmp_path: Path
) -> None:
    import subprocess

    a = clone("a")
    result = cli("init", "--ci", "gitlab", cwd=a.root)  # type: ignore[operator]
    assert result.exit_code == 0, result.output
    text = (a.root / ".gitlab-ci.yml").read_text()
    job = text[text.index("dflow-intake:"):]
    assert '$CI_PIPELINE_SOURCE == "trigger"' in job
    assert '- dflow new --from-event "$TRIGGER_PAYLOAD"\n    - dflow sync' in job
    assert '- dflow review report --event-file "$TRIGGER_PAYLOAD"' in job
    check = _folded(job, "    - >-")
    payload = Path(__file__).parent / "payloads" / "gitlab-issue-open.json"
    unlabelled = tmp_path / "unlabelled.json"
    unlabelled.write_text(payload.read_text().replace('"title": "dflow"', '"title": "bug"'))
    for path, goes_on in ((payload, True), (unlabelled, False)):
        done = subprocess.run(["sh", "-c", f"{check}\necho GOES-ON"], capture_output=True,
                              text=True, env={"TRIGGER_PAYLOAD": str(path),
                                              "PATH": "/usr/bin:/bin"})
        assert done.returncode == 0 and ("GOES-ON" in done.stdout) is goes_on, done
