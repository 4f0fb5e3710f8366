"""State refs written by older dflows still read, migrate and take writes with today's code.

`ref-b21a015.bundle` (built by `fixtures/build_old_ref.sh`) holds a completed demo run with a
CI failure and its `run.note` (written with `text`), and a second, paused run.
`ref-fbd0f61.bundle` (built by `fixtures/build_main_ref.sh` with main just before typed event
payloads) adds budget warnings written as `run.note` with `reason`, an engine switch, intents,
and a run paused, resumed and cancelled. Both hold event schema 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deksdenflow.domain.eventlog import fold
from deksdenflow.domain.eventlog.payloads import RunNote
from deksdenflow.store import open_store
from tests.conftest import git

FIXTURES = Path(__file__).parent / "fixtures"
BUNDLES = ["b21a015", "fbd0f61"]


def _unbundle(tmp_path: Path, name: str) -> Path:
    repo = tmp_path / name
    git("init", "-q", "-b", "scratch", str(repo), cwd=tmp_path)
    git("fetch", "-q", str(FIXTURES / f"ref-{name}.bundle"), "+refs/*:refs/*", cwd=repo)
    git("checkout", "-q", "main", cwd=repo)
    return repo


@pytest.fixture
def old_repo(tmp_path: Path) -> Path:
    return _unbundle(tmp_path, "b21a015")


@pytest.fixture
def main_repo(tmp_path: Path) -> Path:
    return _unbundle(tmp_path, "fbd0f61")


def test_a_ref_written_by_b21a015_reads_with_status_json(old_repo: Path, cli) -> None:
    result = cli("status", "--json", cwd=old_repo)
    assert result.exit_code == 0, result.output
    runs = {r["id"]: r for r in json.loads(result.output)["runs"]}
    assert runs["0001-greeting"]["status"] == "blocked"  # by the failed CI report
    assert runs["0001-greeting"]["steps_done"] == 3
    assert runs["0002-second-run"]["paused"] is True


def test_a_ci_note_of_b21a015_is_shown_by_show(old_repo: Path, cli) -> None:
    result = cli("show", "0001", cwd=old_repo)
    assert result.exit_code == 0, result.output
    assert "no CI fix requested: token budget used up" in result.output


def test_a_ref_written_by_b21a015_takes_new_writes(old_repo: Path, cli) -> None:
    assert cli("resume", "0002", cwd=old_repo).exit_code == 0
    shown = json.loads(cli("status", "0002", "--json", cwd=old_repo).output)
    assert shown["runs"][0]["paused"] is False


# What the fold learnt to derive after each fixture's dflow (its snapshots lack them).
# last_attempt and month_spend: what the limits count (decision 1220).
SPEND = {"last_attempt", "month_spend"}
TIP = {"tip", "tip_by"}  # the recorded work every clone continues from (decision 1500)
QA = {"reviews", "qa_spend"}  # each verdict credited to the attempt it judged (decision 1576)
NEWER_FIELDS = {"b21a015": {"plan_commit", "qa_passes", "depends_on", *SPEND, *TIP, *QA},
                "fbd0f61": {"depends_on", *SPEND, *TIP, *QA}}


def _without(doc: object, names: set[str]) -> object:
    if isinstance(doc, dict):
        return {k: _without(v, names) for k, v in doc.items() if k not in names}
    if isinstance(doc, list):
        return [_without(v, names) for v in doc]
    return doc


@pytest.mark.parametrize("name", BUNDLES)
def test_every_stored_snapshot_is_the_refold_of_its_migrated_events(tmp_path: Path,
                                                                     name: str) -> None:
    """The typed fold gives what the old fold stored, from the old events after migration."""
    view = open_store(_unbundle(tmp_path, name)).read()
    snaps = view.runs()
    assert snaps
    for snap in snaps:
        events = view.run_events(snap.run.uid)
        assert {e.schema_version for e in events} == {2}
        refold = fold.fold(events)
        assert refold is not None
        assert _without(refold.model_dump(mode="json"), NEWER_FIELDS[name]) == _without(
            snap.model_dump(mode="json"), NEWER_FIELDS[name]), snap.run.id


def test_a_budget_note_of_fbd0f61_reads_as_text_and_is_shown(main_repo: Path, cli) -> None:
    view = open_store(main_repo).read()
    notes = [e.payload(RunNote) for e in view.run_events(view.find_run("0002").run.uid)
             if isinstance(e.data, RunNote)]
    assert notes and all(n.level == "warning" and "tokens of its budget" in n.text
                         for n in notes)
    result = cli("show", "0002", cwd=main_repo)
    assert result.exit_code == 0, result.output
    assert "0002-second used" in result.output and "tokens of its budget of 1" in result.output


def test_a_ref_written_by_fbd0f61_reads_and_takes_new_writes(main_repo: Path, cli) -> None:
    before = json.loads(cli("status", "--json", cwd=main_repo).output)
    states = {r["id"]: (r["status"], r["paused"]) for r in before["runs"]}
    assert states == {"0001-greeting": ("blocked", False), "0002-second": ("completed", False),
                      "0003-third": ("pending", True), "0004-fourth": ("cancelled", False)}
    assert cli("resume", "0003", cwd=main_repo).exit_code == 0
    assert cli("run", "0002", "--engine", "demo", "--model", "demo-2",
               cwd=main_repo).exit_code in (0, 1)  # completed: nothing to run is fine
    after = json.loads(cli("status", "0003", "--json", cwd=main_repo).output)
    assert after["runs"][0]["paused"] is False
    assert cli("events", "--json", cwd=main_repo).exit_code == 0
