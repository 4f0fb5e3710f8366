"""`dflow doctor`: check what dflow depends on and say what to do about each problem."""

from __future__ import annotations

import shutil
import subprocess
from importlib import metadata

from pydantic import BaseModel

from ...context.parts import Parts
from ...errors import DflowError, DubiousOwnership, NewerSchema
from ...git import runner
from ...store import STATE_REF
from ...store.encoding.layout import TRACKING_PREFIX
from ...store.plumbing.libgit2 import libgit2_version
from ...store.plumbing.lock import Timeout as LockBusy
from ...store.repo import Store, open_store
from ...store.sharing import integrate, trust
from . import doctor_runs
from .doctor_runs import OPTIONAL_TOOLS, Check


class DoctorReport(BaseModel):
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.level != "fail" for c in self.checks)


def _version_of(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if out.returncode == 0 and text else None


def _pygit2_version() -> str:
    try:
        return metadata.version("pygit2")
    except metadata.PackageNotFoundError:
        return "unknown"


def run_checks(parts: Parts, path: str = ".") -> DoctorReport:
    checks: list[Check] = []
    git = runner.version()
    checks.append(
        Check(name="git", level="ok", detail=git)
        if git
        else Check(name="git", level="fail", detail="git is not on PATH",
                   fix="install git (apt-get install git)")
    )
    checks.append(Check(name="pygit2", level="ok",
                        detail=f"pygit2 {_pygit2_version()}, libgit2 {libgit2_version()}"))
    checks.extend(_state_checks(parts, path))
    for tool, fix in OPTIONAL_TOOLS.items():
        found = shutil.which(tool)
        version = _version_of([tool, "--version"]) if found else None
        checks.append(
            Check(name=tool, level="ok", detail=f"{found} ({version or 'version unknown'})")
            if found
            else Check(name=tool, level="warn", detail="not found (optional)", fix=fix)
        )
    return DoctorReport(checks=checks)


class Repair(BaseModel):
    restored: str
    found: str
    quarantined: str | None
    remotes_set_aside: list[tuple[str, str]] = []  # (tracking ref, quarantine ref)

    @property
    def changed(self) -> bool:
        return self.quarantined is not None


def repair(path: str = ".") -> Repair:
    """Restore the last good state of the ref (`dflow doctor --repair`)."""
    store = open_store(path)
    restored, found, kept = store.repair()
    return Repair(restored=restored, found=found, quarantined=kept,
                  remotes_set_aside=integrate.set_aside_refused(store))


def _state_checks(parts: Parts, path: str) -> list[Check]:
    try:
        store = open_store(path)
    except DubiousOwnership as exc:  # the message says what to run
        return [Check(name="repository", level="fail", detail=str(exc))]
    except DflowError as exc:
        return [Check(name="repository", level="fail", detail=str(exc),
                      fix="cd into a git repository")]
    checks = [Check(name="repository", level="ok", detail=str(store.git_dir))]
    if not store.is_initialized:
        checks.append(Check(name="state ref", level="warn", detail=f"{STATE_REF} does not exist",
                            fix="run `dflow init`"))
        return checks
    try:
        view = store.read()
        view.check_versions()
        trust.validate_whole(view)  # every file, not a diff
        runs = view.runs()
        view.open_jobs()
        checks.append(Check(name="state ref", level="ok",
                            detail=f"{STATE_REF} at {str(view.tip)[:12]}, {len(runs)} runs"))
    except NewerSchema as exc:
        checks.append(Check(name="state ref", level="fail", detail=str(exc),
                            fix="upgrade dflow"))
    except DflowError as exc:
        checks.append(Check(name="state ref", level="fail", detail=str(exc),
                            fix="run `dflow doctor --repair` (the current tip is kept under "
                                "refs/deksdenflow/quarantine/)"))
    checks.extend(_remote_checks(store))
    checks.extend(_run_and_engine_checks(parts, path))
    lock = store.lock(timeout=2)
    try:
        with lock:
            checks.append(Check(name="lock", level="ok", detail=f"{lock.lock_file} is free"))
    except LockBusy:
        checks.append(Check(name="lock", level="warn", detail=f"{lock.lock_file} is held",
                            fix="another dflow process is writing; wait, or stop it if it hangs"))
    return checks


def _remote_checks(store: Store) -> list[Check]:
    """A remote's state that would be refused, named by its commit (store/encoding/incoming.py)."""
    checks = []
    for ref in sorted(store.repo.references):
        if not (ref.startswith(TRACKING_PREFIX) and ref.endswith("/state")):
            continue
        theirs = str(store.repo.references[ref].target)
        try:
            why = integrate.refusal(store, theirs)
        except DflowError as exc:
            why = str(exc)
        if why is not None:
            remote = ref.removeprefix(TRACKING_PREFIX).removesuffix("/state")
            checks.append(Check(
                name="remote state", level="fail",
                detail=f"'{remote}' holds state commit {theirs} that is refused: {why}",
                fix="whoever can push there must put a good state back; `dflow doctor "
                    "--repair` sets it aside here until the next fetch"))
    return checks


def _run_and_engine_checks(parts: Parts, path: str) -> list[Check]:

    try:
        project = parts.open_project(path)
        settings = project.settings()
        return [*doctor_runs.run_checks(project),
                *doctor_runs.engine_checks(settings, project.parts.engine_kinds(),
                                           project.parts.engine),
                *doctor_runs.sandbox_checks(project, settings)]
    except DflowError as exc:
        return [Check(name="runs", level="fail", detail=str(exc))]
