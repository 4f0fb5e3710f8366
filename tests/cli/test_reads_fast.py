"""Read commands answered before Typer (docs/decisions/1310): the same bytes as the command.

Each fast answer is compared with the regular command's, which `--debug` forces (any other
argument leaves the fast path), in real processes on real repositories.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import Result

from deksdenflow.cli.text import DETAIL_KEYS
from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import (
    RunBlocked,
    RunNote,
    RunPaused,
    StepFinished,
    StepQaVerdict,
    StepStarted,
)
from deksdenflow.domain.runs.models import JobKind
from deksdenflow.jobs import queue
from deksdenflow.jobs.workers import WorkerRecord
from deksdenflow.store import Tx
from deksdenflow.store.encoding import codec
from deksdenflow.store.encoding.migrations import event_v1_to_v2
from deksdenflow.sync.service import sync
from tests.cli.test_lazy_cli import heavy_in, loaded_by
from tests.conftest import git
from tests.store.conftest import add_run
from tests.sync.conftest import clone_of, make_remote

DFLOW = str(Path(sys.executable).with_name("dflow"))


def dflow(cwd: Path, *args: str, code: int = 0, **env: str) -> tuple[str, str]:
    """stdout and stderr, with `4s ago` made independent of the clock (and so the padding
    of the column it ends)."""
    out = subprocess.run([DFLOW, *args], cwd=cwd, capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "120", **env}, timeout=120)
    assert out.returncode == code, out.stderr
    return _clockless(out.stdout), out.stderr


def _clockless(text: str) -> str:
    return "\n".join(re.sub(r"\d+[smh] ago *$", "<AGO>", line).rstrip(" ")
                     for line in text.split("\n"))


def same_both_ways(cwd: Path, *args: str, **env: str) -> str:
    """The fast answer, after checking that the command (through Typer) prints the same."""
    fast = dflow(cwd, *args, **env)
    assert fast == dflow(cwd, "--debug", *args, **env)
    return fast[0]


def answered_fast(cwd: Path, *args: str) -> bool:
    modules = loaded_by(list(args), cwd=cwd)
    assert heavy_in(modules) == []
    return "typer" not in modules


def test_the_fast_paths_name_the_plain_values_instead_of_copying_them() -> None:
    """Each of domain/plain.py's values has one owner: no read side or CLI module defines a
    name of its own holding the same value (a copy a test would have to hold equal)."""
    import ast
    import enum

    from deksdenflow.domain import plain
    from deksdenflow.domain.runs import layout
    from deksdenflow.store.encoding import layout as store_layout

    owned = {value for name, value in vars(plain).items()
             if name.isupper() and isinstance(value, int | str)
             and not isinstance(value, enum.Enum)}
    owned |= {layout.PROTOCOLS_DIR, store_layout.PROJECT_SOURCE}
    owned |= {status.value for status in plain.JobStatus}
    package = Path(plain.__file__).parent.parent
    copies = []
    for path in [*(package / "reads").rglob("*.py"), *(package / "cli").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                    and node.value.value in owned and not isinstance(node.value.value, bool)
                    and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets)):
                copies.append(f"{path.name}:{node.lineno}")
    assert copies == []
    assert codec.CURRENT_VERSIONS["job"] == codec.CURRENT_VERSIONS["snapshot"] \
        == plain.SNAPSHOT_SCHEMA_VERSION


def test_workers_without_workers_counts_the_queue(project: Project, repo: Path) -> None:
    uid = add_run(project.store, "one")
    later = datetime.now(UTC) + timedelta(hours=1)
    for not_before in (None, later, None):
        project.store.transact(lambda tx, nb=not_before: queue.request(
            tx, JobKind.NOOP, run=uid, step=1, not_before=nb))
    queue.claim(project.store, "w-test")
    text = same_both_ways(repo, "workers")
    assert text.endswith("queue: 2 requested (1 waiting to retry), 1 claimed\n")
    assert answered_fast(repo, "workers")


def test_workers_lists_the_live_ones_and_forgets_the_dead(project: Project, repo: Path) -> None:
    uid = add_run(project.store, "one")
    job = project.store.transact(lambda tx: queue.request(tx, JobKind.NOOP, run=uid, step=2))
    busy, idle, dead = (WorkerRecord(project.store, name) for name in ("w-b", "w-a", "w-dead"))
    for record in (busy, idle, dead):
        record.open()  # holds its lock in this process: alive, as far as a reader can see
    busy.busy(job)
    dead.close()
    dead.info_path.write_text(dead.info.model_dump_json())  # a record whose lock is free
    text = same_both_ways(repo, "workers")
    assert "0001-one/02" in text and "w-dead" not in text and not dead.info_path.exists()
    assert answered_fast(repo, "workers")
    busy.close()
    idle.close()


def test_an_unusual_worker_record_goes_through_the_command(project: Project,
                                                           repo: Path) -> None:
    add_run(project.store, "one")
    record = WorkerRecord(project.store, "w-odd")
    record.open()
    text = record.info.model_dump_json()
    record.info_path.write_text(text.replace(f'"pid":{os.getpid()}', f'"pid":"{os.getpid()}"'))
    assert f'"pid":"{os.getpid()}"' in record.info_path.read_text()  # pydantic's call
    assert not answered_fast(repo, "workers")
    same_both_ways(repo, "workers")
    record.close()


def test_project_show_is_what_the_command_prints(project: Project, repo: Path,
                                                 tmp_path: Path) -> None:
    text = same_both_ways(repo, "project", "show")
    assert text.startswith("# project.toml on refs/deksdenflow/state (tip ")
    assert answered_fast(repo, "project", "show")
    # Overridden by the environment and by a user config file: both ways again, then from
    # the cache (the second call), then after project.toml changed.
    config = tmp_path / "user.toml"
    config.write_text('[qa]\npolicy = "end"\n')
    env = {"DFLOW_CONFIG_FILE": str(config), "DFLOW_BUDGET_TOKENS": "500"}
    text = same_both_ways(repo, "project", "show", **env)
    assert "# overridden here:\n" in text and "# budget.tokens = 500  (from environment" in text
    assert same_both_ways(repo, "project", "show", **env) == text
    project.set_settings({"qa.policy": "never"})
    changed = same_both_ways(repo, "project", "show", **env)
    assert changed != text and 'policy = "never"' in changed


def test_project_show_leaves_text_rich_would_change_to_the_command(project: Project,
                                                                  repo: Path) -> None:
    project.store.transact(lambda tx: tx.set_project_text(
        tx.view.project_text() + "# a\ttab\n"))
    assert not answered_fast(repo, "project", "show")
    assert "tab" in same_both_ways(repo, "project", "show")


def test_project_show_on_a_narrow_console_goes_through_the_command(project: Project,
                                                                   repo: Path) -> None:
    env = {"DFLOW_BUDGET_TOKENS": "500", "COLUMNS": "12"}  # Rich wraps `# overridden here:`
    assert "# overridden\nhere:" in same_both_ways(repo, "project", "show", **env)


def _history(project: Project) -> list[str]:
    """Runs with notes, verdicts, failures, requested jobs and a detail over 100 characters."""
    uids = [add_run(project.store, name) for name in ("one", "twö", "three")]

    def record(tx: Tx) -> None:
        tx.emit(StepStarted(), run=uids[0], step=1)
        tx.emit(StepFinished(summary="done"), run=uids[0], step=1)
        tx.emit(StepQaVerdict(verdict="FAIL", summary="no tests", findings=["x"]),
                run=uids[0], step=1)
        tx.emit(RunNote(text="a long note " * 12), run=uids[1])
        tx.emit(RunBlocked(reason="waiting for a person"), run=uids[2])

    project.store.transact(record)
    project.store.transact(lambda tx: queue.request(tx, JobKind.NOOP, run=uids[1], step=2)
                           and None)
    return uids


def test_events_newest_is_what_the_command_prints(project: Project, repo: Path) -> None:
    uids = _history(project)
    for limit in ("1", "3", "20", "1000"):
        same_both_ways(repo, "events", "--limit", limit)
    assert answered_fast(repo, "events", "--limit", "20")
    text = same_both_ways(repo, "events", "-n", "3")
    assert "verdict=FAIL summary=no tests" not in text  # older than the three newest
    assert "job.requested" in text and "kind=noop" in text and "..." in text
    project.store.transact(lambda tx: tx.emit(RunNote(text="moved"), run=uids[0]) and None)
    assert same_both_ways(repo, "events", "-n", "1").endswith("0001-one                 "
                                                              "run.note           "
                                                              f"{project.store.actor}  "
                                                              "text=moved\n")


def test_events_with_nothing_yet_and_odd_limits(project: Project, repo: Path) -> None:
    assert same_both_ways(repo, "events", "--limit", "5") == "no events yet\n"
    assert answered_fast(repo, "events", "--limit", "5")
    add_run(project.store, "one")
    for odd in (["--limit", "0"], ["--limit", "x"], ["--limit", "٣"]):
        out = subprocess.run([DFLOW, "events", *odd], cwd=repo, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 2 and "Traceback" not in out.stderr, odd


def test_every_read_matches_after_a_sync_from_another_clone(tmp_path: Path) -> None:
    url = make_remote(tmp_path).as_uri()
    here, there = clone_of(url, tmp_path / "a"), clone_of(url, tmp_path / "b")
    _history(here)
    sync(here)
    sync(there)  # brings a's runs
    add_run(there.store, "from-b")
    sync(there)
    repo = tmp_path / "a"
    git("fetch", "-q", "origin", cwd=repo)  # the implicit sync merges what the fetch brought
    for argv in (["events", "--limit", "20"], ["show", "1"], ["project", "show"], ["workers"]):
        text = same_both_ways(repo, *argv)
        assert answered_fast(repo, *argv), argv
    assert "0004-from-b" in same_both_ways(repo, "events", "-n", "3")
    assert text.startswith("no workers running")


def test_the_events_detail_table_is_the_payload_models() -> None:
    from deksdenflow.cli.runs import events_fast
    from deksdenflow.domain.eventlog.payloads import PAYLOADS

    expected = {}
    for kind, model in PAYLOADS.items():
        fields = {key: model.model_fields[key] for key in DETAIL_KEYS if key in model.model_fields}
        if fields:
            expected[kind.value] = {key: None if f.is_required() else f.get_default(
                call_default_factory=True) for key, f in fields.items()}
            assert all(f.annotation is str or "Literal" in str(f.annotation)
                       or f.annotation is JobKind for f in fields.values()), kind
    assert expected == events_fast.DETAIL_FIELDS
    assert codec.MIGRATIONS["event"] == {1: event_v1_to_v2}


def test_show_is_what_the_command_prints(project: Project, repo: Path) -> None:
    uids = _history(project)
    project.store.transact(lambda tx: tx.emit(RunPaused(), run=uids[2]) and None)
    for ref in ("0001-one", "1", "twö", uids[2], "0003-three"):
        same_both_ways(repo, "show", ref)
    assert answered_fast(repo, "show", "1")
    text = same_both_ways(repo, "show", "1", COLUMNS="60")  # the title column gives way
    assert "step 01 QA findings: x" in text and "waits: " in text
    project.store.transact(lambda tx: tx.emit(RunNote(text="moved", level="warning"),
                                              run=uids[0]) and None)
    assert "warning: moved" in same_both_ways(repo, "show", "1")


def test_show_of_no_run_or_several_is_the_command_s_error(project: Project,
                                                          repo: Path) -> None:
    add_run(project.store, "one")
    add_run(project.store, "0001-one")  # its name is the first run's id
    for ref in ("9", "nope", "0001-one"):
        out = subprocess.run([DFLOW, "show", ref], cwd=repo, capture_output=True, text=True,
                             timeout=120)
        assert out.returncode in (1, 2) and out.stderr.startswith("error: "), ref
        assert "Traceback" not in out.stderr
        assert not answered_fast(repo, "show", ref)


def test_show_of_a_run_that_ran_measures_its_commits_once(
        cli: Callable[..., Result], repo: Path) -> None:
    assert cli("init", "--engine", "demo", cwd=repo).exit_code == 0
    assert cli("new", "x", "--task", "add a greeting", cwd=repo).exit_code == 0
    assert cli("run", "x", "--wait", cwd=repo).exit_code == 0
    assert not answered_fast(repo, "show", "x")  # its step commits are not measured yet
    text = same_both_ways(repo, "show", "x")  # the command measured them
    assert "changes per step" in text and "--- .protocols/0001-x/plan.md ---" in text
    assert answered_fast(repo, "show", "x")
    assert same_both_ways(repo, "show", "x") == text

