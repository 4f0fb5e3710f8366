"""The work travels with the state: every commit the state records on a run's branches is on
the remote before the state that names it (docs/decisions/1500-work-refs.md).

A run's work lives on the remote under `refs/deksdenflow/work/<run uid>/<branch>` (the run
branch, and a parallel run's step branches while they are not merged): outside `refs/heads/`,
so a person's branch list and the forge's UI stay clean, and keyed by the run's uid, which a
renumbering does not change. Pushes are never forced; a refused push whose remote commit
already holds ours is fine (another clone went further), anything else stops the state push.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from ..context.project import Project
from ..domain.runs.models import RunSnapshot
from ..errors import DflowError
from ..git import runner
from . import transport

WORK_PREFIX = "refs/deksdenflow/work/"
# What `dflow new` names a run branch (`NNNN-slug`; a renumbered run keeps its old one) and
# what a run's uid is (a ULID). The state is shared data: a teammate can record any name, and
# only these ever become a ref here or on the remote.
RUN_BRANCH = re.compile(r"[0-9]{4,}-[a-z0-9]+(-[a-z0-9]+)*")
RUN_UID = re.compile(r"[0-9A-Za-z]{1,64}")


class WorkNotPublished(DflowError):
    """A run's recorded work could not be put on the remote, so its state is not pushed."""


class WorkMissing(DflowError):
    """The state names a commit that neither this clone nor the remote has."""


@dataclass(frozen=True)
class Work:
    """One branch of a run at the commit the state records for it."""

    run: str  # the run's id as people see it (NNNN-name)
    uid: str
    branch: str
    commit: str
    by: str = ""

    @property
    def ref(self) -> str:
        return work_ref(self.uid, self.branch)

    @property
    def aside(self) -> str:
        """Where the commit goes when the remote holds other commits at `ref` (a clone that
        lost a race, or a force push): a ref of its own, so nothing is forced and the state
        can still name it."""
        return f"{self.ref}.aside-{self.commit[:12]}"


def work_ref(uid: str, branch: str) -> str:
    return f"{WORK_PREFIX}{uid}/{branch}"


def tracking(remote: str, ref: str) -> str:
    """Where this clone remembers what `remote` holds at a work ref."""
    return f"refs/deksdenflow/remotes/{remote}/work/{ref.removeprefix(WORK_PREFIX)}"


def recorded_tip(snap: RunSnapshot) -> str | None:
    """The newest commit the state records on the run branch (from before `tip` was kept:
    the last merge, step commit or plan commit)."""
    run = snap.run
    if run.tip:
        return run.tip
    merged = [s.integrated for s in snap.steps if s.integrated]
    serial = [s.commit for s in snap.steps if s.commit and not run.parallel]
    found = [*merged, *serial] or ([run.plan_commit] if run.plan_commit else [])
    return found[-1] if found else None


def recorded(snap: RunSnapshot) -> list[Work]:
    """Every branch of the run with the commit the state records on it."""
    run = snap.run
    if not RUN_BRANCH.fullmatch(run.branch) or not RUN_UID.fullmatch(run.uid):
        return []  # not a run branch dflow made: nothing of it is published or fetched
    out = []
    tip = recorded_tip(snap)
    if tip:
        out.append(Work(run.id, run.uid, run.branch, tip, run.tip_by))
    if run.parallel:
        for step in snap.steps:
            if step.commit and not step.integrated:
                out.append(Work(run.id, run.uid, f"{run.branch}.step-{step.index:02d}",
                                step.commit, run.tip_by))
    return out


def has_commit(project: Project, commit: str) -> bool:
    return commit in present(project, [commit])


def present(project: Project, commits: list[str]) -> set[str]:
    """Which of `commits` this clone has (one `git cat-file` for all of them)."""
    if not commits:
        return set()
    done = runner.run(None, "cat-file", "--batch-check=%(objectname) %(objecttype)",
                      input="".join(f"{c}\n" for c in commits), check=False,
                      git_dir=project.store.git_dir)
    return {line.split()[0] for line in done.stdout.splitlines()
            if line.endswith(" commit")}


def is_ancestor(project: Project, older: str, newer: str) -> bool:
    done = runner.run(None, "merge-base", "--is-ancestor", older, newer, check=False,
                      git_dir=project.store.git_dir)
    return done.returncode == 0


def _runs(project: Project, uids: Collection[str] | None) -> list[RunSnapshot]:
    """Every run, or only those of `uids` (a push after one command: the runs it changed)."""
    view = project.view()
    if uids is None:
        return view.runs()
    return [snap for snap in (view.run(uid) for uid in sorted(uids)) if snap is not None]


def unpublished(project: Project, remote: str,
                uids: Collection[str] | None = None) -> list[Work]:
    """The recorded work this clone holds and has not seen on `remote` yet (runs not merged:
    a merged run's work is on the base); of the runs `uids` only, when given."""
    store = project.store
    todo = [work for snap in _runs(project, uids) if not snap.run.merged
            for work in recorded(snap)
            if work.commit not in (store.ref_target(tracking(remote, work.ref)),
                                   store.ref_target(tracking(remote, work.aside)))]
    here = present(project, [w.commit for w in todo])
    return [w for w in todo if w.commit in here]  # else: its writer published it


def publish(project: Project, remote: str, uids: Collection[str] | None = None) -> list[Work]:
    """Push every recorded commit the remote may lack (of the runs `uids`, when given), after
    the same secret check as `pr` and `land`; what was pushed. Called before every push of
    the state ref."""
    todo = unpublished(project, remote, uids)
    if not todo:
        return []
    for work in todo:
        project.parts.check_push(project, _checked_from(project, remote, work), work.commit,
                                 f"publish the work of {work.run} ({work.branch})")
    done = transport.git(project.store, "push", "--porcelain", remote,
                         *(f"{w.commit}:{w.ref}" for w in todo))
    refused = _refused(done.stdout)
    for work in todo:
        if work.ref in refused and not _held_there(project, remote, work):
            _put_aside(project, remote, work, refused[work.ref])
            continue
        if work.ref not in refused and done.returncode != 0 and not _ok(done.stdout, work.ref):
            raise transport.RemoteUnreachable(
                f"could not publish the work of {work.run} to '{remote}': "
                f"{runner.detail(done)}")
        _remember(project, remote, work.ref, work.commit)
    return todo


def _put_aside(project: Project, remote: str, work: Work, why: str) -> None:
    """The remote holds other commits at the work's ref: publish ours beside it, never
    forced; WorkNotPublished when even that is refused (the state is then not pushed)."""
    done = transport.git(project.store, "push", "--porcelain", remote,
                         f"{work.commit}:{work.aside}")
    if done.returncode != 0 and not _ok(done.stdout, work.aside):
        raise WorkNotPublished(
            f"'{remote}' refused the work of {work.run} at {work.ref} ({why}) and at "
            f"{work.aside} ({runner.detail(done)}); the state is not pushed until it is")
    _remember(project, remote, work.aside, work.commit)


def retire(project: Project, remote: str, uids: Collection[str] | None = None) -> list[str]:
    """Delete the work refs of merged runs (of `uids`, when given) from the remote once the
    state that says so is there (their work is on the base now), so the namespace stays as
    small as the open runs; best effort — a ref another clone already deleted is just
    forgotten here."""
    store = project.store
    gone = []
    for snap in _runs(project, uids):
        if not snap.run.merged or not RUN_BRANCH.fullmatch(snap.run.branch) \
                or not RUN_UID.fullmatch(snap.run.uid):
            continue
        main = tracking(remote, work_ref(snap.run.uid, snap.run.branch))
        if store.ref_target(main) is not None:  # in-process: most merged runs are done
            gone += _known_refs(project, remote, snap.run.uid)
    if not gone:
        return []
    try:
        transport.git(project.store, "push", "--porcelain", "--quiet", remote,
                      *(f":{ref}" for ref in gone))
    except transport.RemoteUnreachable:
        return []
    for ref in gone:
        runner.run(None, "update-ref", "-d", tracking(remote, ref), check=False,
                   git_dir=project.store.git_dir)
    return gone


def _known_refs(project: Project, remote: str, uid: str) -> list[str]:
    """The run's work refs this clone has seen on `remote` (its tracking refs)."""
    prefix = tracking(remote, f"{WORK_PREFIX}{uid}/")
    listed = runner.run(None, "for-each-ref", "--format=%(refname)", prefix, check=False,
                        git_dir=project.store.git_dir).stdout.split()
    return [WORK_PREFIX + name.removeprefix(tracking(remote, WORK_PREFIX)) for name in listed]


def _checked_from(project: Project, remote: str, work: Work) -> str:
    """Check only what the remote does not have yet: from its copy of this work, else from
    the run's base as the remote has it."""
    known = project.store.ref_target(tracking(remote, work.ref))
    if known and is_ancestor(project, known, work.commit):
        return known
    snap = project.view().run(work.uid)
    base = snap.run.base if snap is not None else project.settings().project.base_branch
    for ref in (f"refs/remotes/{remote}/{base}", f"refs/heads/{base}"):
        if project.store.has_ref(ref):
            return ref
    return work.commit  # no base here: nothing to compare with (the commit guard ran)


def _refused(porcelain: str) -> dict[str, str]:
    """`git push --porcelain` lines `!\tsrc:dst\t[rejected] (why)` -> {dst: why}."""
    out = {}
    for line in porcelain.splitlines():
        fields = line.split("\t")
        if line.startswith("!") and len(fields) >= 3:
            out[fields[1].split(":", 1)[-1]] = fields[2].strip()
    return out


def _ok(porcelain: str, ref: str) -> bool:
    return any(line[:1] in (" ", "*", "=", "+") and f":{ref}\t" in line + "\t"
               for line in porcelain.splitlines())


def _held_there(project: Project, remote: str, work: Work) -> bool:
    """The remote refused a fast-forward: fine when what it holds already contains ours."""
    there = fetch_refs(project, remote, work.ref)
    theirs = there.get(work.ref)
    if theirs and is_ancestor(project, work.commit, theirs):
        _remember(project, remote, work.ref, work.commit)
        return True
    return False


def _remember(project: Project, remote: str, ref: str, commit: str) -> None:
    """What the remote holds now, so the next sync does not push it again (a cache: a
    failure costs one push that git answers "up to date")."""
    runner.run(None, "update-ref", tracking(remote, ref), commit, check=False,
               git_dir=project.store.git_dir)


def fetch_refs(project: Project, remote: str, pattern: str) -> dict[str, str]:
    """Fetch work refs matching `pattern` (a ref or `.../*`) into their tracking refs; the
    remote's refs and commits ({} when it has none or cannot be reached)."""
    dest = tracking(remote, pattern)
    try:
        done = transport.git(project.store, "fetch", "--no-tags", "--quiet", remote,
                             f"+{pattern}:{dest}")
    except transport.RemoteUnreachable:
        return {}
    if done.returncode != 0:
        return {}
    listed = runner.run(None, "for-each-ref", "--format=%(refname) %(objectname)",
                        dest.removesuffix("*") if pattern.endswith("*") else dest,
                        check=False, git_dir=project.store.git_dir).stdout
    prefix = f"refs/deksdenflow/remotes/{remote}/work/"
    out = {}
    for line in listed.splitlines():
        name, _, commit = line.partition(" ")
        out[WORK_PREFIX + name.removeprefix(prefix)] = commit
    return out


def fetch_run(project: Project, remote: str, snap: RunSnapshot) -> dict[str, str]:
    """Bring every published branch of the run into this clone (tracking refs)."""
    if not RUN_UID.fullmatch(snap.run.uid):
        return {}
    return fetch_refs(project, remote, f"{WORK_PREFIX}{snap.run.uid}/*")


def remote_of(project: Project) -> str | None:
    name = project.settings().project.remote
    return name if name in project.store.remote_names() else None


def bring(project: Project, snap: RunSnapshot) -> list[Work]:
    """Make every recorded commit of the run present in this clone, fetching the run's work
    from the remote when one is missing; WorkMissing (one sentence: who holds it, what to
    do) when it is nowhere."""
    wanted = recorded(snap)
    # Where the local branch is at the recorded commit it is here (no git process needed).
    unsure = [w for w in wanted
              if project.store.ref_target(f"refs/heads/{w.branch}") != w.commit]
    here = present(project, [w.commit for w in unsure])
    missing = [w for w in unsure if w.commit not in here]
    if not missing:
        return wanted
    remote = remote_of(project)
    if remote is not None:
        fetch_run(project, remote, snap)
        here = present(project, [w.commit for w in missing])
        missing = [w for w in missing if w.commit not in here]
    if missing:
        raise WorkMissing(missing_text(missing[0], remote))
    return wanted


def missing_text(work: Work, remote: str | None) -> str:
    holder = work.by or "the clone that recorded it"
    where = f"this clone nor '{remote}'" if remote else "this clone (which has no remote)"
    return (f"the work of {work.run} (commit {work.commit[:12]} on {work.branch}) was never "
            f"published: neither {where} has it; it is on the machine of {holder} — run "
            f"`dflow sync` there to publish it, then try again")
