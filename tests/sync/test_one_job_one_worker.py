"""Two clones of one repository whose local pools run at once on one remote: every job is
executed by exactly one worker (issue 22 part 4). Each clone has its own folder and its own
HOME / XDG dirs; the pools are real `dflow worker` processes over the demo engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from deksdenflow.context.project import Project
from deksdenflow.domain.models import RunStatus
from deksdenflow.domain.payloads import JobClaimed
from deksdenflow.sync import service
from deksdenflow.workflow import runs
from tests.sync.conftest import Clone

DFLOW = Path(sys.executable).with_name("dflow")


def user_env(home: Path) -> dict[str, str]:
    """A separate user: HOME, git and dflow config, registry and data dirs of its own."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DFLOW_")}
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(Path(os.environ["GIT_CONFIG_GLOBAL"]).read_text())
    env.update(HOME=str(home), GIT_CONFIG_GLOBAL=str(gitconfig), CI="true",
               XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".data"),
               DFLOW_CONFIG_FILE=str(home / "dflow.toml"), DFLOW_ACTOR=f"{home.name}@host")
    return env


def claims_per_job(project: Project, uid: str) -> Counter[str]:
    """Every claim of every job in the union of both clones' events (rejected ones too)."""
    return Counter(e.data.job for e in project.view().run_events(uid)
                   if isinstance(e.data, JobClaimed))


def test_two_clones_pools_run_each_job_once(clone: Clone, tmp_path: Path) -> None:
    a = clone("a")
    b = clone("b")
    snap = runs.create_run(a, "greet", "a greeting, tested and documented")
    service.sync(a)
    service.sync(b)
    pools = [subprocess.Popen([str(DFLOW), "worker", "-j", "1", "--burst"], cwd=p.root,
                              env=user_env(tmp_path / f"home-{p.root.name}"),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for p in (a, b)]
    outputs = [w.communicate(timeout=120)[0] for w in pools]
    assert [w.returncode for w in pools] == [0, 0], outputs
    for _ in range(2):
        service.sync(a)
        service.sync(b)
    uid = snap.run.uid
    claims = claims_per_job(a, uid)
    assert claims and max(claims.values()) == 1, f"a job was claimed twice: {claims}\n{outputs}"
    done = a.view().run(uid)
    assert done is not None and done.run.status != RunStatus.FAILED
    assert [s.status.value for s in done.steps] == ["completed"] * len(done.steps)
    assert not done.rejected, [r.reason for r in done.rejected]
    assert all(s.attempts == 1 for s in done.steps), [s.attempts for s in done.steps]
    # one copy of each event, whichever clone shows them
    listed = subprocess.run([str(DFLOW), "events", snap.run.id, "--json"], cwd=b.root,
                            env=user_env(tmp_path / "home-b"), capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    ids = [e["id"] for e in json.loads(listed.stdout)]
    assert len(ids) == len(set(ids)), "dflow events listed an event twice"
