"""`dflow console`: the full-screen view of a project's runs, kept live with the state ref."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.timer import Timer

from ..context.project import Project
from ..crash import write_crash_log
from ..domain import interrupts
from ..domain.runs.models import ProtocolRun
from ..errors import DflowError
from ..jobs.liveness import new_worker_id
from ..observe import refwatch
from ..observe.watch import Change, StateWatcher
from ..projects import registry
from ..wiring import Wiring, open_project
from . import actions
from .dialogs.confirm import ConfirmDialog
from .dialogs.new_run import NewRunDialog
from .rows import Clock, now_utc
from .screens.base import StateScreen
from .screens.help import HelpScreen
from .screens.metrics import MetricsScreen
from .screens.projects import ProjectsScreen
from .screens.runs import RunsScreen
from .screens.settings import SettingsScreen
from .screens.workers import WorkersScreen

POLL_S = 0.1  # an idle poll is one ref read (~15 µs)
WATCHED_POLL_S = 0.5  # the fallback poll while the ref's files are watched
# Keys that act on a run; they wait while a dialog is open.
RUN_ACTIONS = {"plan", "run_next", "run_all", "qa", "approve", "retry", "pause", "cancel",
               "open_pr", "land", "clean"}


class DflowConsole(App[None]):
    """Runs, steps, plans, the event timeline, logs and workers; keys drive the workflow."""

    CSS_PATH = Path(__file__).with_name("console.tcss")  # absolute: subclasses live elsewhere
    TITLE = "dflow"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("n", "new_run", "New"),
        Binding("p", "plan", "Plan"),
        Binding("r", "run_next", "Run"),
        Binding("R", "run_all", "Run all", show=False),
        Binding("v", "qa", "QA"),
        Binding("a", "approve", "Approve"),
        Binding("t", "retry", "Retry", show=False),
        Binding("space", "pause", "Pause/resume", show=False),
        Binding("c", "cancel", "Cancel", show=False),
        Binding("o", "open_pr", "Open PR", show=False),
        Binding("l", "land", "Land", show=False),
        Binding("x", "clean", "Clean", show=False),
        Binding("s", "sync", "Sync", show=False),
        Binding("w", "workers", "Workers", show=False),
        Binding("i", "settings", "Settings", show=False),
        Binding("m", "metrics", "Metrics", show=False),
    ]

    def __init__(self, path: str | os.PathLike[str] = ".", *, clock: Clock = now_utc,
                 poll_s: float = POLL_S, process_jobs: bool = True,
                 watch_files: bool = True) -> None:
        super().__init__()
        self.clock = clock
        self.poll_s = poll_s
        self.process_jobs = process_jobs
        self.processing: set[str] = set()
        self.closing = False
        self.interrupt = interrupts.Interrupt()  # fired on quit: kills in-process agents
        self.stopped_work = False  # did quitting stop a job in progress?
        self.watching = False
        self.watch_files = watch_files  # False: poll only (what the benchmark compares)
        self._stop_watching = threading.Event()
        self._poll_timer: Timer | None = None
        self._bind(open_project(path))

    def _bind(self, project: Project) -> None:
        """Show `project` from now on (the one started in, or one chosen on the projects
        screen)."""
        project.view()  # fail before the screen opens when dflow is not set up there
        self.project: Project = project
        self.root = project.root
        self.watcher = StateWatcher(project)
        settings = project.settings()
        self.sub_title = settings.project.name or project.root.name
        if self.watching:  # another project: watch its ref files instead
            self._stop_watching.set()
            self._stop_watching = threading.Event()
            self._follow_ref_files()
        self.engine = settings.phases.engine_for("execute")

    def on_mount(self) -> None:
        self.watcher.poll()
        # Started inside a repository (`dflow console` needs one): its runs first; with more
        # projects registered, the projects list is under them, one `escape` away.
        if _several_projects():
            self.push_screen(ProjectsScreen())
        self.push_screen(RunsScreen())
        if not self.watch_files:
            self._poll_timer = self.set_interval(self.poll_s, self.check_state)
            return
        self.watching = True
        self._poll_timer = self.set_interval(max(self.poll_s, WATCHED_POLL_S), self.check_state)
        self._follow_ref_files()

    def on_unmount(self) -> None:
        self._stop_watching.set()

    def open_project_at(self, path: Path) -> None:
        """The projects screen's Enter: this project's runs, on top of the projects list."""
        try:
            self._bind(open_project(path))
        except DflowError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        self.watcher.poll()
        self.push_screen(RunsScreen())

    # --- live state ---------------------------------------------------------------------------

    def _follow_ref_files(self) -> None:
        """Check the state the moment its ref files change (docs/decisions/1321), from a
        daemon thread; when they cannot be watched here, poll at the full rate instead."""

        def changed(remote: bool) -> None:
            self.call_from_thread(self.check_state, remote)  # RuntimeError once closed

        refwatch.follow(self.project.store.git_dir, self._stop_watching, changed,
                        lambda: self.call_from_thread(self._fall_back_to_polling))

    def _fall_back_to_polling(self) -> None:
        self.watching = False
        if self._poll_timer is not None:
            self._poll_timer.stop()
        self._poll_timer = self.set_interval(self.poll_s, self.check_state)

    def check_state(self, remote: bool = False) -> Change | None:
        """One cheap ref read; screens re-read only what changed."""
        try:
            change = self.watcher.poll(remote=remote)
        except DflowError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return None
        if change is None:
            return None
        for screen in self.screen_stack:
            if isinstance(screen, StateScreen):
                screen.state_changed(change)
        self._pick_up(change.runs)
        if change.remote and self.project.settings().project.sync == "auto":
            self.act(actions.sync)
        return change

    # --- doing things -----------------------------------------------------------------------

    def act(self, fn: Callable[..., actions.Outcome], *args: Any) -> None:
        """Call a library function off the UI thread; show its message or its error."""
        self.run_worker(lambda: self._act(fn, *args), thread=True, group="actions")

    def _act(self, fn: Callable[..., actions.Outcome], *args: Any) -> None:
        # one repository handle per thread; what a service notes becomes a notification
        project = Wiring(note=self._note_from_thread).open_project(self.root)
        try:
            outcome = fn(project, *args)
        except DflowError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", timeout=8)
            return
        except Exception as exc:  # a bug: say so like the CLI does, keep the console up
            self.call_from_thread(self.notify, _internal(exc), severity="error", timeout=15)
            return
        self.call_from_thread(self.check_state)
        self.call_from_thread(self.notify, outcome.message)
        if outcome.requested_jobs and outcome.run_uid:
            self._process(project, outcome.run_uid)

    def _pick_up(self, uids: set[str]) -> None:
        """Work requested elsewhere (`dflow new` in another terminal) is done here too when no
        worker pool runs, as the console's own keys' work is (decision 0503): a run created
        from the CLI does not sit in `pending`/`planning` until `r`."""
        if not self.process_jobs or self.closing:
            return
        for uid in sorted(uids - self.processing):
            snap = self.watcher.run(uid)
            if snap is not None and any(j.status.value == "requested" for j in snap.open_jobs):
                self.run_worker(lambda uid=uid: self._process(
                    Wiring(note=self._note_from_thread).open_project(self.root), uid),
                    thread=True, group="actions")

    def _note_from_thread(self, text: str) -> None:
        self.call_from_thread(self.notify, text, severity="warning", timeout=8)

    def _process(self, project: Project, run_uid: str) -> None:
        """No worker pool running? Then do the run's jobs here, in this thread."""
        if not self.process_jobs or run_uid in self.processing or actions.live_workers(project):
            return
        self.processing.add(run_uid)
        try:
            with interrupts.bound(self.interrupt):
                actions.process(project, run_uid, new_worker_id(project.store, "console"),
                                lambda: self.closing)
        except interrupts.Interrupted:
            return  # quitting: the agent is dead, the job was given back (decision 0832)
        except DflowError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", timeout=8)
        except Exception as exc:
            self.call_from_thread(self.notify, _internal(exc), severity="error", timeout=15)
        finally:
            self.processing.discard(run_uid)
            self.call_from_thread(self.check_state)

    async def action_quit(self) -> None:
        self.closing = True  # in-process work stops: its agent is killed, its job given back
        self.stopped_work = bool(self.processing)
        self.interrupt.fire()
        self._stop_watching.set()
        self.exit()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in RUN_ACTIONS | {"new_run", "sync", "workers", "settings", "help", "metrics"}:
            return not isinstance(self.screen, ModalScreen)
        return True

    def _target(self) -> tuple[str | None, int | None]:
        screen = self.screen
        return screen.target() if isinstance(screen, StateScreen) else (None, None)

    def _on_run(self, fn: Callable[..., actions.Outcome], *extra: Any, step: bool = False) -> None:
        uid, index = self._target()
        if uid is None:
            self.notify("no protocol run selected; create one with n", severity="warning")
            return
        self.act(fn, uid, *((index,) if step else ()), *extra)

    def action_plan(self) -> None:
        self._on_run(actions.plan)

    def action_run_next(self) -> None:
        self._on_run(actions.run_steps, None)  # as `dflow run`: the project's loop.mode

    def action_run_all(self) -> None:
        self._on_run(actions.run_steps, True)

    def action_qa(self) -> None:
        self._on_run(actions.qa, step=True)

    def action_approve(self) -> None:
        self._on_run(actions.approve, step=True)

    def action_retry(self) -> None:
        self._on_run(actions.retry, step=True)

    def action_pause(self) -> None:
        self._on_run(actions.toggle_pause)

    def action_open_pr(self) -> None:
        self._confirmed(lambda run: f"Push {run.branch} and open a draft PR for {run.id}?",
                        actions.open_pr)

    def action_land(self) -> None:
        self._confirmed(lambda run: f"Land {run.id} on {run.base} (a merge commit, pushed when "
                        "there is a remote)?", actions.land)

    def action_clean(self) -> None:
        self._confirmed(lambda run: f"Remove the worktree and branch of {run.id}? A branch "
                        "with commits found nowhere else is kept.", actions.clean)

    def _confirmed(self, question: Callable[[ProtocolRun], str],
                   fn: Callable[..., actions.Outcome]) -> None:
        """Ask first (these change what is on disk or on the remote), then act."""

        uid, _ = self._target()
        snap = self.watcher.run(uid) if uid else None
        if snap is None:
            self.notify("no protocol run selected", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.act(fn, snap.run.uid)

        self.push_screen(ConfirmDialog(question(snap.run)), answered)

    def action_sync(self) -> None:
        self.act(actions.sync)

    def action_cancel(self) -> None:
        self._confirmed(lambda run: f"Cancel {run.id}? Its open jobs stop.", actions.cancel)

    def action_new_run(self) -> None:

        def submitted(form: tuple[str, str, bool] | None) -> None:
            if form is not None:
                self.act(actions.new_run, *form)

        self.push_screen(NewRunDialog(), submitted)

    def action_help(self) -> None:

        self.push_screen(HelpScreen())

    def action_workers(self) -> None:

        self.push_screen(WorkersScreen())

    def action_metrics(self) -> None:

        self.push_screen(MetricsScreen())

    def action_settings(self) -> None:

        self.push_screen(SettingsScreen())


def _several_projects() -> bool:
    """More than one registered project: the console starts on the projects screen."""

    try:
        return len(registry.load().projects) > 1
    except DflowError:
        return False  # an unreadable registry must not keep the console from opening


def _internal(exc: Exception) -> str:
    # A screen cannot show --debug: the traceback goes to the crash log, named here (0900).
    log = write_crash_log(exc)
    where = f"the traceback is in {log}" if log else "the crash log could not be written"
    return f"dflow hit an internal error ({type(exc).__name__}: {exc}); {where}; please report it"
