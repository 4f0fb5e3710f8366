"""Claim refs: one ref per claimed job on the remote, `refs/deksdenflow/claims/<job-id>`.

git refuses to create a ref that exists (a parentless token commit never fast-forwards
another), so of all the clones that push a claim ref for one job exactly one gets it: the
remote's own ref lock is the compare-and-swap, as for protocol numbers (decision 0401).
The token's message says who holds the claim and until when; the holder moves it forward
(`--force-with-lease`, so only from the token it pushed) while the job runs, and deletes it
once the job's closing state is on the remote. See docs/decisions/1520-one-job-one-worker.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from ..domain.eventlog.ids import new_id
from ..store import Store
from . import transport

CLAIMS_PREFIX = "refs/deksdenflow/claims/"
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git knows it without storing it
_TOKEN = re.compile(r"^dflow: job (\S+) claimed by (\S+) until (\S+)", re.M)


@dataclass(frozen=True)
class Holder:
    """Who holds a job's claim ref on the remote, as its token says."""

    token: str
    worker: str
    until: datetime | None

    def expired(self, now: datetime) -> bool:
        return self.until is None or self.until <= now


def ref(job_id: str) -> str:
    return f"{CLAIMS_PREFIX}{job_id}"


def token(store: Store, job_id: str, worker: str, until: datetime) -> str:
    """A distinct parentless commit naming the holder and its lease (the nonce keeps two
    claims from ever being the same commit, which the remote would call up to date)."""
    message = (f"dflow: job {job_id} claimed by {worker} until {until.isoformat()}\n\n"
               f"nonce: {new_id()}\n")
    who = store.actor.partition("@")[0] or "dflow"
    done = transport.git(store, "-c", f"user.name={who}", "-c", "user.email=dflow@invalid",
                         "commit-tree", EMPTY_TREE, "-m", message)
    if done.returncode != 0:
        raise transport.RemoteUnreachable(f"could not write a claim token: {done.stderr.strip()}")
    return done.stdout.strip()


def push(store: Store, remote: str, updates: dict[str, tuple[str, str | None]]) -> set[str]:
    """Push `job id -> (new token or "" to delete, expected old token or None: must not
    exist)` in one `git push`; the job ids whose ref the remote took."""
    if not updates:
        return set()
    args = ["push", "--porcelain", remote]  # not --quiet: it hides the refs taken
    for job_id, (_, old) in updates.items():
        args.append(f"--force-with-lease={ref(job_id)}:{old or ''}")
    args += [f"{new}:{ref(job_id)}" for job_id, (new, _) in updates.items()]
    done = transport.git(store, *args)
    took: set[str] = set()
    for line in done.stdout.splitlines():
        flag, _, rest = line.partition("\t")
        target = rest.split("\t")[0].rpartition(":")[2]
        if flag in ("*", "+", "-", " ") and target.startswith(CLAIMS_PREFIX):
            took.add(target.removeprefix(CLAIMS_PREFIX))
    if done.returncode != 0 and not took and "\t" not in done.stdout:
        raise transport.RemoteUnreachable(transport._why(remote, done))
    return took


def holder(store: Store, remote: str, job_id: str) -> Holder | None:
    """The job's claim ref on the remote, read through a fetch; None when there is none."""
    local = f"refs/deksdenflow/remotes/{remote}/claims/{job_id}"
    done = transport.git(store, "fetch", "--no-tags", "--quiet", remote,
                         f"+{ref(job_id)}:{local}")
    if done.returncode != 0:
        if "couldn't find remote ref" in done.stderr:
            return None
        raise transport.RemoteUnreachable(transport._why(remote, done))
    shown = transport.git(store, "show", "-s", "--format=%H%n%B", local)
    transport.git(store, "update-ref", "-d", local)
    oid, _, message = shown.stdout.partition("\n")
    found = _TOKEN.search(message)
    if found is None:
        return Holder(token=oid.strip(), worker="?", until=None)  # not ours: a stale stray
    try:
        until: datetime | None = datetime.fromisoformat(found.group(3))
    except ValueError:
        until = None
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    return Holder(token=oid.strip(), worker=found.group(2), until=until)
