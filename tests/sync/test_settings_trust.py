"""A shared ref is not a remote shell (issue 22 part 5, decision 1510): a teammate who pushes
settings that name a program never gets it run on another machine before a person there
trusted them with `dflow trust`.

Each clone is its own machine: its own folder, HOME, XDG dirs and dflow user config, on one
bare remote; every command is the real CLI in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deksdenflow.sync import service
from deksdenflow.wiring import open_project
from tests.conftest import git
from tests.sync.conftest import make_remote

MARKER = "pwned.txt"


class Machine:
    """One clone with its own user dirs; `dflow(...)` runs the CLI there."""

    def __init__(self, root: Path, name: str, remote: Path) -> None:
        self.home = root / f"{name}-home"
        self.home.mkdir()
        (self.home / ".gitconfig").write_text(
            f"[user]\n\tname = {name}\n\temail = {name}@example.com\n"
            "[init]\n\tdefaultBranch = main\n")
        self.repo = root / name
        git("clone", "-q", remote.as_uri(), str(self.repo), cwd=root)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DFLOW_")},
            "HOME": str(self.home), "GIT_CONFIG_GLOBAL": str(self.home / ".gitconfig"),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "DFLOW_CONFIG_FILE": str(self.home / "dflow.toml"),
            "DFLOW_ACTOR": f"{name}@{name}-host", "CI": "true",
        }

    def set_and_sync(self, values: dict[str, str]) -> None:
        """`dflow config set` of every value in one commit, then `dflow sync` (in-process: the
        same services the commands call, with this machine's environment)."""
        with pytest.MonkeyPatch.context() as env:
            for key, value in self.env.items():
                env.setenv(key, value)
            project = open_project(self.repo)
            project.set_settings(values)
            service.sync(project)

    def dflow(self, *args: str, ok: bool = True,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "deksdenflow.cli.main", *args],
                              cwd=self.repo, env=self.env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        if ok:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done


@pytest.fixture
def team(tmp_path: Path) -> tuple[Machine, Machine, Path]:
    """A teammate who set the project up with the demo engine, and a victim who adopted it."""
    remote = make_remote(tmp_path)
    mate = Machine(tmp_path, "mate", remote)
    mate.dflow("init", "--engine", "demo", "--yes")
    mate.dflow("config", "set", "retry.max_attempts", "1")  # a failed plan is not retried
    victim = Machine(tmp_path, "victim", remote)
    adopted = victim.dflow("init", "--yes")
    assert "adopted" in adopted.stdout
    return mate, victim, tmp_path / "victim-home" / MARKER


def _push_command_engine(mate: Machine, marker: Path) -> None:
    line = f"sh -c 'echo ran > {marker}'"
    mate.set_and_sync({"engines.demo.kind": "command",
                       "engines.demo.options": f"{{command = \"{line}\"}}"})


def test_a_teammates_engine_command_waits_for_trust_then_runs(
        team: tuple[Machine, Machine, Path]) -> None:
    mate, victim, marker = team
    _push_command_engine(mate, marker)
    synced = victim.dflow("sync")
    assert ("settings from origin changed engines.demo.kind, engines.demo.options: the jobs "
            "that use them wait here until you review them with `dflow trust`") in synced.stdout
    victim.dflow("new", "x", "--task", "add a file")
    victim.dflow("worker", "--burst", "-j", "1", timeout=60)
    victim.dflow("worker", "--remote", "origin", "--burst", timeout=60)  # a CI-style worker
    assert not marker.exists(), "the teammate's command ran before anyone here trusted it"

    reason = "settings from origin changed engines.demo.kind"
    assert f"waits: {reason} — `dflow trust`" in victim.dflow("status").stdout
    [line] = json.loads(victim.dflow("status", "--json").stdout)["runs"]
    assert line["waiting"] == {"reason": reason, "command": "dflow trust"}
    assert f"waits: {reason} — `dflow trust`" in victim.dflow("show", "x").stdout
    # the wait is this machine's: the teammate's clone (which trusts its own settings) and
    # the shared state know nothing of it
    mate.dflow("sync")
    assert reason not in mate.dflow("status").stdout
    assert reason not in git("log", "-p", "refs/deksdenflow/state", cwd=victim.repo)

    refused = victim.dflow("trust", ok=False)  # no terminal to ask, no --yes: nothing trusted
    assert refused.returncode == 1
    assert "engines.demo.kind: demo -> command  (by mate@mate-host in " in refused.stdout
    assert refused.stderr.strip() == ("error: nothing trusted: review the changes above and "
                                      "run `dflow trust --yes` to let them take effect here")
    shown = victim.dflow("trust", "--json")
    report = json.loads(shown.stdout)
    assert [(c["key"], c["author"]) for c in report["changes"]] == [
        ("engines.demo.kind", "mate@mate-host"), ("engines.demo.options", "mate@mate-host")]
    assert report["changes"][0]["old"] == "demo" and report["changes"][0]["new"] == "command"
    assert not report["trusted"] and not marker.exists()

    victim.dflow("trust", "--yes")
    # the status lines cached under the old trust record are not served (settings stamp)
    assert reason not in victim.dflow("status").stdout
    victim.dflow("worker", "--burst", "-j", "1", timeout=60, ok=False)
    assert marker.read_text() == "ran\n", "trusted, the command runs"
    nothing = victim.dflow("trust")
    assert nothing.stdout.startswith("nothing to trust")

    mate.dflow("pause", "x")  # syncs before and after (project.sync = auto)
    victim.dflow("sync")
    events = victim.dflow("show", "x").stdout.split("recent events:")[1]
    assert "run.paused mate@mate-host (from another clone)" in events
    assert "victim@victim-host (from" not in events and "victim@victim-host" in events


def test_each_kind_of_setting_from_origin_waits(team: tuple[Machine, Machine, Path]) -> None:
    mate, victim, _ = team
    changes = {"engines.evil.kind": "demo", "phases.qa": "evil", "alerts.command": "x",
               "qa.policy": "never", "secrets.env": '["A"]', "git.run_hooks": "true",
               "project.worktree_root": "/tmp", "ci.install": "evil-package",
               "budget.tokens": "5"}
    mate.set_and_sync(changes)
    victim.dflow("sync")
    pending = {c["key"]: c for c in json.loads(victim.dflow("trust", "--json").stdout)["changes"]}
    new_engine = {"engines.evil.model", "engines.evil.options", "engines.evil.timeout",
                  "engines.evil.env"}
    assert sorted(pending) == sorted(set(changes) - {"budget.tokens"} | new_engine)
    assert pending["secrets.env"]["new"] == pending["secrets.env"]["old"] == "(hidden)"
    victim.dflow("trust", "--yes")
    assert json.loads(victim.dflow("trust", "--json").stdout)["changes"] == []

    # a newcomer adopting this state without --yes (no terminal to ask) is shown it all and
    # trusts nothing; the set-up itself is done
    newcomer = Machine(victim.repo.parent, "newcomer", victim.repo.parent / "remote.git")
    adopted = newcomer.dflow("init")
    assert "  engines.demo.kind: demo -> command" not in adopted.stdout
    assert "  phases.qa: \"\" -> evil  (by mate@mate-host in " in adopted.stdout
    assert "  phases.default: codex -> demo  (by mate@mate-host in " in adopted.stdout
    assert "warning: nothing trusted" in adopted.stderr
    pending = json.loads(newcomer.dflow("trust", "--json").stdout)["changes"]
    assert {"phases.default", "phases.qa", "alerts.command"} <= {c["key"] for c in pending}


def test_a_setting_changed_here_runs_without_a_prompt(tmp_path: Path) -> None:
    victim = Machine(tmp_path, "victim", make_remote(tmp_path))
    victim.dflow("init", "--engine", "demo", "--yes")
    victim.dflow("config", "set", "retry.max_attempts", "1")
    marker = tmp_path / MARKER
    line = f"sh -c 'echo ran > {marker}'"
    victim.dflow("config", "set", "engines.demo.kind", "command")
    victim.dflow("config", "set", "engines.demo.options", f"{{command = \"{line}\"}}")
    assert victim.dflow("trust").stdout.startswith("nothing to trust")
    victim.dflow("new", "x", "--task", "add a file")
    victim.dflow("worker", "--burst", "-j", "1", timeout=60, ok=False)
    assert marker.read_text() == "ran\n"
