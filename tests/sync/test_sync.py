"""dflow sync between real clones of a real remote (file:// and git daemon)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.events import EventType
from deksdenflow.domain.runs.models import JobKind
from deksdenflow.jobs import queue
from deksdenflow.store import STATE_REF, Tx
from deksdenflow.store.sharing.integrate import integrate
from deksdenflow.store.sharing.merge import merge_trees
from deksdenflow.sync import service, setup, transport
from deksdenflow.wiring import Wiring
from deksdenflow.workflow.lifecycle.runs import record_run
from tests.conftest import git
from tests.sync.conftest import make_remote

from .conftest import Clone, clone_of, tree_of


def add_run(project: Project, name: str) -> str:
    def create(tx: Tx) -> str:
        snap = record_run(tx, name, f"do {name}", base="main")
        queue.request(tx, JobKind.NOOP, run=snap.run.uid)
        return snap.run.uid

    return project.store.transact(create)


def names(project: Project) -> dict[str, int]:
    return {s.run.name: s.run.number for s in project.view().runs()}


def test_a_fresh_clone_adopts_the_remote_state_on_init(clone: Clone) -> None:
    a = clone("a")
    add_run(a, "first")
    service.sync(a)
    b = clone("b")
    assert b.store.tip() == a.store.tip()
    assert names(b) == {"first": 1}


def test_two_clones_with_divergent_runs_see_the_same_runs_and_tree(clone: Clone) -> None:
    a, b = clone("a"), clone("b")
    add_run(a, "from-a")
    add_run(b, "from-b")
    add_run(b, "more-b")
    service.sync(a)
    report = service.sync(b)
    assert report.outcome == "merged" and report.pushed
    service.sync(a)
    assert names(a) == names(b)
    assert set(names(a)) == {"from-a", "from-b", "more-b"}
    assert sorted(names(a).values()) == [1, 2, 3]  # the clash on 0001 was renumbered
    assert tree_of(a) == tree_of(b)


@pytest.mark.parametrize("first", ["a", "b"])
def test_independent_merges_in_either_order_build_identical_trees(
    clone: Clone, first: str
) -> None:
    a, b = clone("a"), clone("b")
    add_run(a, "alpha")
    add_run(b, "beta")
    git("remote", "add", "peer", str(b.root), cwd=a.root)
    git("remote", "add", "peer", str(a.root), cwd=b.root)
    # Each fetches the other's state before either merges: two different merge commits.
    fetched = {p.root.name: transport.fetch_state(p.store, "peer") for p in (a, b)}
    for p in (a, b) if first == "a" else (b, a):
        theirs = fetched[p.root.name]
        assert theirs is not None
        assert integrate(p.store, theirs, "peer").outcome.value == "merged"
    assert a.store.tip() != b.store.tip()
    assert tree_of(a) == tree_of(b)


def test_merge_is_symmetric_at_the_tree_level(clone: Clone) -> None:
    a, b = clone("a"), clone("b")
    add_run(a, "alpha")
    add_run(b, "beta")
    git("fetch", "-q", str(b.root), f"+{STATE_REF}:refs/peer/state", cwd=a.root)
    ours = a.store.repo.get(a.store.tip()).tree
    theirs = a.store.repo.get(a.store.repo.references.get("refs/peer/state").target).tree
    assert merge_trees(a.store.repo, ours, theirs, None).tree == merge_trees(
        a.store.repo, theirs, ours, None).tree


def test_the_number_clash_renumbers_the_later_run_and_keeps_its_branch(clone: Clone) -> None:
    a, b = clone("a"), clone("b")
    add_run(a, "early")
    add_run(b, "late")
    service.sync(a)
    report = service.sync(b)
    assert [(r.old_id, r.new_id, r.branch) for r in report.renumbered] == [
        ("0001-late", "0002-late", "0001-late")
    ]
    late = b.view().find_run("late")
    assert late.run.number == 2 and late.run.branch == "0001-late"
    assert b.view().find_run("0001-late").run.name == "late"  # the branch still finds it


def test_after_a_renumber_the_console_and_show_find_the_plan_in_the_same_folder(
    clone: Clone
) -> None:
    """Issue 12: the console looked for `.protocols/<run id>/`, `dflow show` for the branch's
    folder; after a renumber the console said "not in this clone". One owner now
    (domain/runs/layout.py)."""
    from deksdenflow.workflow.lifecycle import detail, documents

    a, b = clone("a"), clone("b")
    add_run(a, "early")
    add_run(b, "late")
    git("checkout", "-q", "-b", "0001-late", cwd=b.root)
    (b.root / ".protocols" / "0001-late").mkdir(parents=True)
    (b.root / ".protocols" / "0001-late" / "plan.md").write_text("# The late plan\n")
    git("add", "-A", cwd=b.root)
    git("commit", "-q", "-m", "plan", cwd=b.root)
    git("checkout", "-q", "main", cwd=b.root)
    service.sync(a)
    service.sync(b)
    view = b.view()
    late = view.find_run("late")
    assert (late.run.id, late.run.branch) == ("0002-late", "0001-late")
    shown = documents.plan_markdown(b, view, late)
    assert shown == detail.plan_text(b, late)[1] == "# The late plan\n"


def test_plain_git_fetch_brings_the_state_and_the_next_command_merges_it(
    clone: Clone, cli: object
) -> None:
    a, b = clone("a"), clone("b")
    add_run(a, "shared")
    service.sync(a)
    git("fetch", "-q", cwd=b.root)  # plain git, configured by dflow init
    assert "shared" not in names(b)
    result = cli("status", "--json", cwd=b.root)  # type: ignore[operator]
    assert result.exit_code == 0 and "shared" in result.output
    assert "shared" in names(b)


def test_a_rejected_push_refetches_merges_and_retries(clone: Clone) -> None:
    a, b = clone("a"), clone("b")
    add_run(a, "one")
    add_run(b, "two")
    service.sync(a)  # the remote moved; b has not fetched it
    b_tip = b.store.tip()
    assert b_tip is not None
    assert transport.push_state(b.store, "origin", b_tip) is False  # rejected, not forced
    report = service.sync(b)
    assert report.pushed and report.outcome == "merged"


def test_offline_sync_fails_with_a_clear_message_and_keeps_local_state(
    clone: Clone, cli: object
) -> None:
    a = clone("a")
    add_run(a, "kept")
    git("remote", "set-url", "origin", str(a.root.parent / "gone.git"), cwd=a.root)
    with pytest.raises(transport.RemoteUnreachable, match="could not reach remote 'origin'"):
        service.sync(a)
    tip = a.store.tip()
    result = cli("sync", cwd=a.root)  # type: ignore[operator]
    assert result.exit_code == 1 and "could not reach remote 'origin'" in result.output
    assert a.store.tip() == tip and "kept" in names(a)


def test_a_command_that_changes_state_offline_warns_and_keeps_working(
    clone: Clone, cli: object
) -> None:
    a = clone("a")
    git("remote", "set-url", "origin", str(a.root.parent / "gone.git"), cwd=a.root)
    add_run(a, "work")
    result = cli("pause", "work", cwd=a.root)  # type: ignore[operator]
    assert result.exit_code == 0, result.output
    assert "warning: could not reach remote 'origin'" in result.output


def test_sync_without_a_remote_names_the_fix(project: Project) -> None:
    with pytest.raises(transport.NoRemote, match="git remote add origin URL"):
        service.sync(project)


def test_sync_over_a_real_git_daemon(tmp_path: Path, daemon: str) -> None:
    a = clone_of(daemon, tmp_path / "a")
    b = clone_of(daemon, tmp_path / "b")
    add_run(a, "over-tcp")
    add_run(b, "also-tcp")
    service.sync(a)
    service.sync(b)
    service.sync(a)
    assert names(a) == names(b) and len(names(a)) == 2
    assert tree_of(a) == tree_of(b)


def test_init_adds_the_fetch_refspec_once(clone: Clone) -> None:
    a = clone("a")
    _, report = setup.init(Wiring(), a.root)
    specs = git("config", "--get-all", "remote.origin.fetch", cwd=a.root).splitlines()
    assert specs.count(setup.fetch_refspec("origin")) == 1 and not report.refspec_added


def test_job_claims_from_two_clones_resolve_to_one_winner(clone: Clone) -> None:
    a = clone("a")
    uid = add_run(a, "contended")
    service.sync(a)
    b = clone("b")
    job_a = queue.claim(a.store, "worker-a")
    job_b = queue.claim(b.store, "worker-b")
    assert job_a is not None and job_b is not None and job_a.id == job_b.id
    service.sync(a)
    service.sync(b)
    service.sync(a)
    snap = a.view().run(uid)
    assert snap is not None
    job = snap.job(job_a.id)
    assert job is not None and job.claimed_by in ("worker-a", "worker-b")
    assert any(r.type == EventType.JOB_CLAIMED.value for r in snap.rejected)
    assert tree_of(a) == tree_of(b)


def test_online_clones_claim_distinct_numbers_on_the_remote(clone: Clone, cli: object) -> None:
    a, b = clone("a"), clone("b")
    for project, name in ((a, "from-a"), (b, "from-b")):
        result = cli("new", name, "--task", "t", "--no-plan", cwd=project.root)  # type: ignore[operator]
        assert result.exit_code == 0, result.output
    numbers = {s.run.name: s.run.number for s in a.view().runs()}
    numbers_b = {s.run.name: s.run.number for s in b.view().runs()}
    assert numbers_b["from-b"] != numbers.get("from-a")
    claimed = git("ls-remote", "origin", "refs/deksdenflow/numbers/*", cwd=a.root)
    assert claimed.count("refs/deksdenflow/numbers/") == 2


def test_a_claimed_number_is_never_claimed_twice(clone: Clone) -> None:
    from deksdenflow.store.sharing.integrate import claim_commit
    from deksdenflow.sync.numbers import claim_number

    a, b = clone("a"), clone("b")
    assert claim_number(a, 1) == 1
    assert claim_number(b, 1) == 2  # 0001 is taken on the remote
    rival = claim_commit(b.store, "rival claim")
    assert transport.push_ref(b.store, "origin", rival, "refs/deksdenflow/numbers/0001") is False


def test_a_remote_hook_that_refuses_the_push_is_an_error_not_a_retry_loop(
    clone: Clone, remote: Path
) -> None:
    a = clone("a")
    add_run(a, "refused")
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'state pushes are off' >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(transport.RemoteUnreachable, match="refused the push"):
        service.sync(a)


def test_dflow_sync_prints_what_happened_and_json(clone: Clone, cli: object) -> None:
    a, b = clone("a"), clone("b")
    add_run(a, "early")
    add_run(b, "late")
    assert cli("sync", cwd=a.root).exit_code == 0  # type: ignore[operator]
    result = cli("sync", cwd=b.root)  # type: ignore[operator]
    assert result.exit_code == 0
    assert "origin: merged, pushed" in result.output
    assert "renumbered 0001-late -> 0002-late" in result.output
    again = cli("sync", "--json", cwd=a.root)  # type: ignore[operator]
    assert '"outcome": "fast-forward"' in again.output


def test_settings_changed_on_both_clones_keep_one_version_and_say_so(
    clone: Clone, cli: object
) -> None:
    a, b = clone("a"), clone("b")
    assert cli("config", "set", "qa.policy", "never", cwd=a.root).exit_code == 0  # type: ignore[operator]
    git("remote", "set-url", "origin", "/nonexistent.git", cwd=b.root)  # b edits offline
    assert cli("config", "set", "qa.policy", "end", cwd=b.root).exit_code == 0  # type: ignore[operator]
    git("remote", "set-url", "origin", str(a.root.parent / "remote.git"), cwd=b.root)
    report = service.sync(b)
    assert report.conflicts == ["project.toml"]
    service.sync(a)
    assert a.settings().qa.policy == b.settings().qa.policy
    assert tree_of(a) == tree_of(b)


def test_an_implicit_sync_gives_up_on_a_silent_remote_and_keeps_working(
    clone: Clone, cli: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    a = clone("a")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts connections, never says a word
    try:
        port = silent.getsockname()[1]
        git("remote", "set-url", "origin", f"git://127.0.0.1:{port}/remote.git", cwd=a.root)
        monkeypatch.setenv("DFLOW_SYNC_TIMEOUT", "1")
        add_run(a, "patient")
        result = cli("pause", "patient", cwd=a.root)  # type: ignore[operator]
        assert result.exit_code == 0
        # the push after the command meets it first: nothing is fetched before (decision 1610)
        assert "warning: `git push` got no answer within 1s" in result.output
        assert a.view().find_run("patient").run.paused
    finally:
        silent.close()


def test_an_offline_command_explains_the_unreachable_remote_once(tmp_path: Path, cli) -> None:
    """Before: `dflow new` offline printed git's long reason twice (numbering, then the push)."""
    bare = make_remote(tmp_path)
    work = tmp_path / "work"
    git("clone", "-q", bare.as_uri(), str(work), cwd=tmp_path)
    assert cli("init", "--engine", "demo", cwd=work).exit_code == 0
    bare.rename(tmp_path / "gone.git")
    result = cli("new", "x", "--task", "t", cwd=work)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2 and sum("does not appear to be a git repository" in w
                                      for w in warnings) == 1, warnings
    assert warnings[1] == "warning: remote 'origin' is unreachable (see above); the change is " \
        "kept locally, run `dflow sync` when online"
    again = cli("pause", "x", cwd=work)  # the next command explains it again
    assert "does not appear to be a git repository" in again.output
