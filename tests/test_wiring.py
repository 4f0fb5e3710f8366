"""The composition root (deksdenflow/wiring.py): lazy, no module state, one source of parts."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.runs.models import JobKind
from deksdenflow.errors import UsageError
from deksdenflow.wiring import Wiring

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import sys
from deksdenflow.cli.main import main
sys.argv = ["dflow", "status"]
try:
    main()
except SystemExit:
    pass
print(" ".join(sorted(m for m in sys.modules if m.startswith("deksdenflow"))), file=sys.stderr)
"""


def test_a_read_command_builds_no_handler_registry_and_imports_no_engine(
    project: Project, cli: object
) -> None:
    assert cli("new", "a", "--task", "a task", "--no-plan", cwd=project.root).exit_code == 0  # type: ignore[operator]
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=project.root, capture_output=True,
                          text=True, timeout=120)
    loaded = done.stderr.split()
    assert "0001-a" in done.stdout
    built = [m for m in loaded if m.startswith(("deksdenflow.engines", "deksdenflow.ci.handlers",
                                                "deksdenflow.workflow.handlers"))]
    assert built == []


def test_a_wiring_goes_to_a_worker_process_without_its_registry(project: Project) -> None:
    wiring = Wiring()
    assert wiring.handler(JobKind.PLAN) is not None  # built here
    copy = pickle.loads(pickle.dumps(wiring))
    assert copy._registry is None and copy.handler(JobKind.PLAN) is not None


def test_a_handler_module_without_handlers_is_one_sentence_naming_the_variable(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DFLOW_JOB_HANDLERS", "json")
    with pytest.raises(UsageError, match="job handler module 'json' has no HANDLERS mapping; "
                                         "fix DFLOW_JOB_HANDLERS"):
        Wiring().handler(JobKind.NOOP)


def test_handlers_given_to_a_wiring_replace_the_built_in_ones(project: Project) -> None:
    class Stand:
        def run(self, project: Project, job: object, worker: str) -> None:
            return None

        def on_failure(self, *args: object) -> None:
            return None

    stand = Stand()
    opened = Wiring(handlers={JobKind.PLAN: stand}).open_project(project.root)
    assert opened.parts.handler(JobKind.PLAN) is stand
    assert project.parts.handler(JobKind.PLAN) is not stand  # another root, its own registry
