"""A teammate who can push writes a run's `run.json` by hand. What names a run must read one
way for every reader: a snapshot whose uid is not its folder's, or one that names a key twice
in one object (valid JSON: the models keep the last value, the run index's scan the first),
is refused before any command acts on it — never `dflow cancel alpha` acting on run beta,
never a fast read answering other than the command."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from deksdenflow.store import Store
from deksdenflow.store.encoding.layout import STATE_REF, run_snapshot_path
from deksdenflow.store.sharing.trust import StateUntrusted
from tests.conftest import git
from tests.reads.test_read_side import DFLOW
from tests.store.conftest import add_run, commit_file


def _hand_written(store: Store, uid: str, data: bytes) -> tuple[str, str]:
    """The teammate's commit on the state ref; (the tip before it, the tip after it)."""
    root = Path(store.workdir or store.git_dir)
    before = git("rev-parse", STATE_REF, cwd=root)
    commit_file(root, run_snapshot_path(uid), data)
    return before, git("rev-parse", STATE_REF, cwd=root)


def _snapshot(store: Store, uid: str) -> bytes:
    data = store.read().blob(run_snapshot_path(uid))
    assert data is not None
    return data


def _name_twice(store: Store) -> None:
    """Run add-login's snapshot, its name and number written a second time after its branch."""
    uid = add_run(store, "add-login", steps=0)
    data = _snapshot(store, uid)
    head = re.search(rb'"branch":"[^"]*",', data)
    assert head is not None
    _hand_written(store, uid, data.replace(head.group(0),
                                           head.group(0) + b'"name":"evil","number":9,', 1))


def test_a_run_folder_holding_another_runs_uid_is_refused(store: Store) -> None:
    a = add_run(store, "alpha", steps=0)
    b = add_run(store, "beta", steps=0)
    _hand_written(store, a, _snapshot(store, a).replace(a.encode(), b.encode()))
    with pytest.raises(StateUntrusted, match="not the one its folder names"):
        store.transact(lambda tx: tx.find_run("alpha").run.name)  # `dflow cancel alpha`


def test_a_run_json_naming_a_key_twice_is_refused(store: Store) -> None:
    _name_twice(store)
    with pytest.raises(StateUntrusted, match="twice in one object"):
        store.read()


@pytest.mark.parametrize("args", [("events", "--limit", "5"), ("show", "add-login")])
def test_no_read_answers_from_a_run_json_naming_a_key_twice(
        store: Store, args: tuple[str, ...]) -> None:
    _name_twice(store)
    root = Path(store.workdir or store.git_dir)
    fast, full = (subprocess.run([DFLOW, *debug, *args], cwd=root, capture_output=True,
                                 text=True) for debug in ([], ["--debug"]))
    assert fast.returncode == full.returncode == 1, (fast.stderr, full.stderr)
    assert "evil" not in fast.stdout + full.stdout
    assert "twice" in fast.stderr.splitlines()[-1] and "Traceback" not in fast.stderr
