"""The Diff tab: the changed files on the left, the syntax-highlighted patch (scrollable) on the
right, and the QA findings above it, so a reviewer reads both side by side."""

from __future__ import annotations

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import OptionList, Static

from ...domain.agents.redaction import strip_controls
from ...workflow.delivery.diffs import Diff

ALL = "all files"


def split_patch(patch: str) -> dict[str, str]:
    """Each file's part of a `git diff` patch, by its path."""
    parts: dict[str, str] = {}
    for chunk in patch.split("\ndiff --git ")[0:]:
        text = chunk if chunk.startswith("diff --git ") else "diff --git " + chunk
        if not chunk.strip():
            continue
        head = text.splitlines()[0]
        path = head.rsplit(" b/", 1)[-1] if " b/" in head else head
        parts[path] = text.rstrip("\n") + "\n"
    return parts


def file_label(path: str, added: int | None, deleted: int | None) -> str:
    counts = "bin" if added is None else f"+{added} -{deleted}"
    return f"{path}  {counts}"


class DiffView(Horizontal):
    """Shows one Diff; `show` again when the run moves."""

    DEFAULT_CSS = """
    DiffView #diff-files { width: 32; }
    DiffView #diff-findings { height: auto; max-height: 8; color: $warning; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.parts: dict[str, str] = {}
        self.paths: list[str] = []
        self.patch = ""
        self.key: tuple[str, ...] = ()
        self.shown: str | None = None  # the file shown, None for all of them

    def compose(self) -> ComposeResult:
        yield OptionList(id="diff-files")
        with Vertical():
            yield Static(id="diff-findings")
            with VerticalScroll(id="diff-scroll"):
                yield Static(id="diff-body")

    def show(self, found: Diff | None, message: str, findings: list[str]) -> None:
        """The diff (or why there is none) with the QA findings that go with it."""
        notes = Text("\n".join(f"QA: {f}" for f in findings)) if findings else Text("")
        self.query_one("#diff-findings", Static).update(notes)
        key = (found.base, found.head) if found is not None else (message,)
        if key == self.key:
            return
        self.key = key
        options = self.query_one("#diff-files", OptionList)
        options.clear_options()
        if found is None:
            self.parts, self.paths, self.patch = {}, [], ""
            self.query_one("#diff-body", Static).update(Text(message))
            return
        self.patch = strip_controls(found.patch)  # agent-written text: no control sequences
        self.parts = split_patch(self.patch)
        self.paths = [f.path for f in found.files]
        options.add_options([f"{ALL} ({len(found.files)})"] + [
            file_label(f.path, f.added, f.deleted) for f in found.files])
        self.show_file(None)

    def show_file(self, path: str | None) -> None:
        self.shown = path
        text = self.patch if path is None else self.parts.get(path, "")
        body = Syntax(text or "(no changes)", "diff", theme="ansi_dark", word_wrap=False)
        self.query_one("#diff-body", Static).update(body)
        self.query_one("#diff-scroll", VerticalScroll).scroll_home(animate=False)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        index = event.option_index
        self.show_file(self.paths[index - 1] if 0 < index <= len(self.paths) else None)
