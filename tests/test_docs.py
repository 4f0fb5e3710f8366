"""The docs are held to the code (like sqlite-utils' test_commands_are_documented): every
`dflow ...` command line in README.md and docs/ names commands and options that exist, every
job kind the docs name is one a worker can do, and every command and config key is documented.
Decision records (docs/decisions/) are history and are not checked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import typer.main
from typer._click.core import Command, Context
from typer.core import TyperGroup as Group

from deksdenflow.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GLOBAL_FLAGS = {"--debug", "--version", "-h", "--help"}
GLOBAL_WITH_VALUE = {"-C"}
_WORD = re.compile(r"^[a-z][a-z-]*(\|[a-z][a-z-]*)*$")
_OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
# `dflow` where a command starts: the code's start, a path (.venv/bin/dflow), `$(`, after a
# shell operator or `VAR=value`; not inside a quoted message ("... has dflow state").
_INVOCATION = re.compile(r"(?:^\s*(?:\$ )?|/|\(|(?:&&|\|\||[|;]) |\b[A-Z_]+=\S* )dflow(?= )")
_SHELL_STOP = {"&&", "||", "|", ";", "#", ">", "2>", "<"}


@dataclass
class Mention:
    where: str
    text: str
    path: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)


def _root() -> Group:
    group = typer.main.get_command(app)
    assert isinstance(group, Group)
    return group


def _code(text: str) -> Iterator[tuple[int, str]]:
    """(line number, code) for fenced and indented blocks and inline code spans."""
    fenced = False
    for n, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced or line.startswith("    "):
            yield n, line
            continue
        for span in re.findall(r"`([^`]+)`", line):
            yield n, span


def mentions() -> Iterator[Mention]:
    """Every `dflow WORD ...` in a doc's code, split at shell operators."""
    for doc in DOCS:
        for n, code in _code(doc.read_text()):
            code = re.split(r"(?:^|\s)#", code.replace("\\|", "|"))[0]  # not comments
            for match in _INVOCATION.finditer(code):
                words = code[match.end():].split()
                cut = next((i for i, w in enumerate(words) if w in _SHELL_STOP), len(words))
                yield Mention(f"{doc.relative_to(ROOT)}:{n}", " ".join(["dflow", *words[:cut]]))


def resolve(mention: Mention, root: Group) -> list[str]:
    """Fill in the command path and options; return what does not exist."""
    words = mention.text.split()[1:]
    i = 0
    while i < len(words) and (words[i] in GLOBAL_FLAGS or words[i] in GLOBAL_WITH_VALUE):
        i += 2 if words[i] in GLOBAL_WITH_VALUE else 1
    if i >= len(words) or not _WORD.match(words[i]):
        return []  # `dflow` alone, prose such as "dflow's", or an output line
    wrong: list[str] = []
    commands: list[tuple[list[str], Command]] = [([], root)]
    while i < len(words) and _WORD.match(words[i]):
        groups = [(p, c) for p, c in commands if isinstance(c, Group)]
        if not groups:
            break
        found = []
        for path, group in groups:
            for name in words[i].split("|"):
                child = group.get_command(Context(group), name)
                if child is None:
                    wrong.append(f"no command `dflow {' '.join([*path, name])}`")
                else:
                    found.append(([*path, name], child))
        commands, i = found, i + 1
    mention.path = [" ".join(p) for p, _ in commands]
    rest = " ".join(words[i:])
    if mention.path in (["config set"], ["config get"]) and i < len(words):
        wrong += _config_key(words[i])
    mention.options = [o.split("=")[0] for o in _OPTION.findall(rest)]
    for path, command in commands:
        known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        known |= GLOBAL_FLAGS | GLOBAL_WITH_VALUE
        wrong += [f"no option {o} on `dflow {' '.join(path)}`"
                  for o in mention.options if o not in known]
    return wrong


def _config_key(word: str) -> list[str]:
    """`dflow config set KEY ...` in the docs names a real key (engines by any name)."""
    from deksdenflow.context import config

    if not re.fullmatch(r"[a-z_]+(\.[\w-]+)+", word):
        return []  # a placeholder such as KEY
    keys = set(config.leaf_keys())
    section, _, leaf = word.rpartition(".")
    if word in keys or (section.startswith("engines.") and f"engines.codex.{leaf}" in keys):
        return []
    return [f"no config key {word}"]


def all_commands(group: Group, prefix: tuple[str, ...] = ()) -> Iterator[str]:
    ctx = Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        yield " ".join((*prefix, name))
        if isinstance(command, Group):
            yield from all_commands(command, (*prefix, name))


def test_every_command_line_in_the_docs_names_real_commands_and_options() -> None:
    root = _root()
    wrong = [f"{m.where}: {problem} (in `{m.text}`)"
             for m in mentions() for problem in resolve(m, root)]
    assert not wrong, "\n".join(wrong)


def test_every_command_is_documented() -> None:
    root = _root()
    documented: set[str] = set()
    for m in mentions():
        resolve(m, root)
        for path in m.path:  # a group counts as documented through its commands
            words = path.split()
            documented.update(" ".join(words[:n]) for n in range(1, len(words) + 1))
    missing = [c for c in all_commands(root) if c not in documented]
    assert not missing, "\n".join(missing)


def test_the_checker_catches_a_false_claim() -> None:
    root = _root()
    made_up = Mention("probe", "dflow step frobnicate RUN --no-such-flag")
    assert resolve(made_up, root) == ["no command `dflow step frobnicate`"]
    bad_option = Mention("probe", "dflow status [--ready|--nope]")
    assert resolve(bad_option, root) == ["no option --nope on `dflow status`"]
    assert resolve(Mention("probe", "dflow pause|resume RUN"), root) == []
    assert resolve(Mention("probe", "dflow config set qa.polcy end"), root) == [
        "no config key qa.polcy"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_job_kind_the_docs_name_can_be_done(doc: Path) -> None:
    handled = _handled_kinds()
    named = {kind for m in re.finditer(r"--queue[ =]([a-z_,|]+)", doc.read_text())
             for kind in re.split(r"[,|]", m.group(1))}
    named |= set(re.findall(r"`([a-z_]+)`", _queue_row(doc.read_text())))
    assert sorted(named - handled) == []


def _handled_kinds() -> set[str]:
    from deksdenflow.domain.runs.models import JobKind
    from deksdenflow.wiring import Wiring

    wiring = Wiring()
    return {str(kind) for kind in JobKind if wiring.handler(kind) is not None}


def _queue_row(text: str) -> str:
    """The sentence or table row that lists the kinds `--queue` takes."""
    return "\n".join(line for line in text.splitlines() if "`--queue KIND`" in line)


def test_every_config_key_is_documented() -> None:
    from deksdenflow.context import config

    text = "\n".join(doc.read_text() for doc in DOCS)
    missing = [key for key in config.leaf_keys() if not _documented_key(key, text)]
    assert not missing, "\n".join(missing)


def _documented_key(key: str, text: str) -> bool:
    """`a.b.c` literally, or `c = ` in a `[a.b]` table of a TOML example."""
    section, _, leaf = key.rpartition(".")
    if key in text:
        return True
    # Tables of one shape under a name (every engine, every step type's retry policy): an
    # example of any `[engines.X]` / `[retry.X]` documents the keys of all of them.
    family = section.split(".", 1)[0]
    table = (rf"{family}\.[\w-]+" if family in ("engines", "retry") and "." in section
             else re.escape(section))
    for found in re.finditer(rf"^[ \t]*\[{table}\][^\n]*\n((?:[ \t]*[^\[\s][^\n]*\n|\n)*)",
                             text, re.M):
        if re.search(rf"^\s*{re.escape(leaf)}\s*=", found.group(1), re.M):
            return True
    return False


def test_the_size_table_in_the_architecture_doc_is_current() -> None:
    import importlib.util

    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("size_figures",
                                                  root / "benchmarks" / "size_figures.py")
    assert spec is not None and spec.loader is not None
    sizes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sizes)
    doc = (root / "docs" / "architecture.md").read_text()
    assert sizes.current_doc(root / "deksdenflow", doc) == doc, (
        "docs/architecture.md's size table is not current: run "
        "`python benchmarks/size_figures.py --write`")


def test_the_floor_and_room_tables_in_the_architecture_doc_are_current() -> None:
    """The floors are written once, as pyproject's import-linter contracts, and each room's
    concern once, as its package's docstring; the doc's tables are generated from them."""
    import importlib.util
    import sys

    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("floors", root / "benchmarks" / "floors.py")
    assert spec is not None and spec.loader is not None
    floors = sys.modules["floors"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(floors)
    doc = (root / "docs" / "architecture.md").read_text()
    found = floors.read(root / "pyproject.toml")
    assert floors.current_doc(found, root / "deksdenflow", doc) == doc, (
        "docs/architecture.md's floor or room table is not current: run "
        "`python benchmarks/floors.py --write`")
