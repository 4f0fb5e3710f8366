"""Each run's excerpt — what `status`, `status --json`, `show`'s header (its stage, why it
waits) and the budget alerts show of it — and the journal through which the process that
publishes a commit hands the excerpts of the runs it changed to the next reader.

An excerpt is a pure function of the run's directory tree and the effective settings,
computed by one function (`line_of`, through the reconciler's `workflow.runs.run_line`) and
kept by run tree id under the settings key (`environment.settings_digest`: project.toml's
blob, the DFLOW_* variables, the user config file, this machine's trust record)
(docs/decisions/1301-status-reads-only-what-changed.md, 1602-one-excerpt-per-run.md). The
writer of a commit has the models and the settings loaded already; a reader after it has
neither, and loading them for one changed run is most of its time. So after a commit is
published, the composition root (`Wiring.published`) computes the changed runs' excerpts
exactly as a reader would — from the committed `run.json` bytes, with the settings resolved
without command-line flags — and appends them to a journal in the git dir's cache, keyed by
the run tree id and the settings key. A reader takes an excerpt from there only for that tree
under the same key; anything else (a sync merge, a `git fetch`, `dflow trust`, a changed
DFLOW_* variable) it computes through the same function
(docs/decisions/1304-the-writer-hands-over-status-lines.md).

This module is on the fast path of `dflow status`: the standard library at import, the
models only inside the functions that compute an excerpt.
"""

from __future__ import annotations

import json

from .. import environment
from ..store import cache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..context.project import Project
    from ..domain.config.settings import ProjectSettings
    from ..store import Tx
    from ..workflow.lifecycle import runs

LINES = "status-lines"
JOURNAL = "status-lines.journal"
JOURNAL_CAP = 1 << 20  # bytes; a journal nobody reads is started again, not grown


_FIELDS = ("number", "uid", "id", "status", "stage", "paused", "done", "total", "jobs",
           "tokens", "updated", "waits", "alerts", "fragment")


class Excerpt:
    """One run as the readers show it (a plain class: `dataclasses` costs a status call
    ~5 ms of imports and code generation)."""

    __slots__ = _FIELDS

    def __init__(self, number: int, uid: str, id: str, status: str, stage: str,  # noqa: A002
                 paused: bool, done: int, total: int, jobs: str, tokens: int, updated: str,
                 waits: str, alerts: list[list[object]], fragment: str) -> None:
        self.number = number
        self.uid = uid
        self.id = id
        self.status = status
        self.stage = stage
        self.paused = paused
        self.done = done
        self.total = total
        self.jobs = jobs
        self.tokens = tokens
        self.updated = updated  # ISO time, "" when never
        self.waits = waits  # the `waits: ...` note, "" while the run moves
        self.alerts = alerts  # [budget and period, threshold, text]: the highest of each
        self.fragment = fragment  # the run's JSON in the listing, indented as `--json` prints it

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Excerpt) and all(
            getattr(self, name) == getattr(other, name) for name in _FIELDS)

    __hash__ = None  # type: ignore[assignment]  # mutable fields (alerts): not hashable

    def __repr__(self) -> str:
        return f"Excerpt({', '.join(f'{n}={getattr(self, n)!r}' for n in _FIELDS)})"


def row(line: Excerpt) -> tuple[object, ...]:
    """Every field but the JSON text, in order."""
    return (line.number, line.uid, line.id, line.status, line.stage, line.paused, line.done,
            line.total, line.jobs, line.tokens, line.updated, line.waits, line.alerts)


def settings_key(project_blob_id: str, common: str) -> str:
    """What the effective settings depend on (as `Project`'s settings cache keys them):
    project.toml's blob id, the DFLOW_* variables, the user config file's identity, this
    machine's settings trust record."""
    return environment.settings_digest(common, project_blob_id)


def line_of(data: bytes, uid: str, settings: ProjectSettings) -> Excerpt:
    """The line of the run whose `run.json` holds `data`."""
    from ..store.encoding import codec
    from ..store.encoding.layout import run_snapshot_path
    from ..workflow.lifecycle import runs

    snap = codec.load_snapshot(data, run_snapshot_path(uid))
    return of_run_line(runs.run_line(snap, settings))


def of_run_line(line: runs.RunLine) -> Excerpt:
    """The listing's line for a `runs.RunLine`."""
    jobs = ", ".join(f"{j['kind']}:{j['status']}" for j in line.open_jobs) or "-"
    waits = waiting_line(line.waiting.reason, line.waiting.command) if line.waiting else ""
    return Excerpt(line.number, line.uid, line.id, line.status, line.stage, line.paused,
                line.steps_done, line.steps_total, jobs, line.tokens,
                line.updated.isoformat() if line.updated else "", waits,
                [[a.prefix, a.threshold, a.text] for a in line.alerts],
                line.model_dump_json(indent=2))


def waiting_line(reason: str, command: str) -> str:
    """`waits: <reason> — <command>`, as status, show and the console print it."""
    command = command if "`" in command else f"`{command}`"
    return f"waits: {reason} — {command}"


# --- the journal ----------------------------------------------------------------------------


def handed_over(common: str, key: str, wanted: set[str]) -> dict[str, Excerpt]:
    """{run tree id: line} for the `wanted` run trees that writers journaled under this
    settings key."""
    found: dict[str, Excerpt] = {}
    for payload in cache.records(common, JOURNAL, key):
        if len(wanted) <= 16 and not any(tree.encode() in payload for tree in wanted):
            continue  # not parsed: a record of runs (or versions of them) not asked for
        try:
            for tree, values in json.loads(payload).items():
                if tree in wanted:
                    found[tree] = Excerpt(*values)
        except (ValueError, TypeError, AttributeError):
            continue  # not a record this version wrote: the listing computes the line
    return found


def write_through(project: Project, tx: Tx) -> None:
    """Journal the lines of the runs `tx` changed, when a listing is kept under the settings
    this process would list with (nobody lists here, or with other settings: nothing to do)."""
    from ..errors import DflowError
    from ..store.plumbing.objects import Unreadable

    uids = sorted({event.run for event in tx.events if event.run})
    every = tx.staged_project_text is not None  # new settings: every run's line is new
    if not (uids or every) or project.flags:  # flags are not what `dflow status` resolves
        return
    try:
        _write_through(project, tx, uids)
    except (DflowError, OSError, KeyError, ValueError, Unreadable):
        return  # the listing computes these lines itself; a published commit never fails here


def _write_through(project: Project, tx: Tx, uids: list[str]) -> None:
    from ..store.encoding.layout import PROJECT_FILE, run_dir
    from ..store.lite import LiteView

    store = project.store
    common = str(store.git_dir)
    if not cache.kept(common, LINES):
        return  # nobody lists here: not even the settings key is worth computing
    tip = tx.commit  # the one published: the ref itself may have moved since (a fetch)
    if tip is None:
        return
    view = LiteView(store.repo, tip)
    key = settings_key(view.blob_id(PROJECT_FILE), common)
    if tx.staged_project_text is not None:
        # A settings change: the writer has the models loaded and the new settings resolved,
        # so it hands every run's line over rather than leave the next listing to compute
        # them all (issue 24: the writer owns the excerpt readers show).
        uids = sorted(view.run_dirs())
    elif not cache.holds(common, LINES, key):
        return
    text = view.blob(PROJECT_FILE)
    settings = project.settings_of(text.decode() if text is not None else "")
    handed = {}
    for uid in uids:
        folder, data = view.entry_id(run_dir(uid)), view.snapshot(uid)
        if folder and data is not None:
            line = line_of(data, uid, settings)
            handed[folder] = [*row(line), line.fragment]
    payload = json.dumps(handed, ensure_ascii=False, separators=(",", ":"))
    cache.append(common, JOURNAL, key, payload.encode(), JOURNAL_CAP)
