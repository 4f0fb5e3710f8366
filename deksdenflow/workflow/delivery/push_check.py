"""Before `dflow pr` pushes a run branch: no commit on it since the base adds a file the commit
guard refuses (docs/decisions/0702-nothing-refused-is-pushed.md). Commits a person made on the
branch are checked too, and every commit, not only the tip: a secret removed by a later commit
is still in the history that would be pushed."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from ...domain.config.settings import ProjectSettings
from ...errors import CommitRefused
from ...git import runner
from ..phases.changes import GITLINK, content_text, refusal


def branch_refusals(cwd: Path, base: str, tip: str, settings: ProjectSettings) -> list[str]:
    """What the commits in `base..tip` add or change that must not leave the machine."""
    raw = runner.run(cwd, "log", "--format=", "--raw", "-z", "--no-renames", "--no-abbrev",
                     "-r", f"{base}..{tip}").stdout
    entries = _entries(raw)
    sizes = _batch(cwd, [b for _, m, b in entries if m != GITLINK], "--batch-check")
    declared = _submodules(cwd, tip) if any(m == GITLINK for _, m, _ in entries) else set()
    found: dict[str, str] = {}
    for path, mode, blob in entries:
        if path in found:
            continue
        why = refusal(path, mode, int(sizes.get(blob, b"0") or 0),
                      partial(_text, cwd, blob), settings, path in declared)
        if why is not None:
            found[path] = why
    return list(found.values())


def check_branch(cwd: Path, base: str, tip: str, settings: ProjectSettings,
                 what: str) -> None:
    """CommitRefused naming the files when `branch_refusals` finds any; `what` is the action
    that does not happen ("push 0001-x")."""
    found = branch_refusals(cwd, base, tip, settings)
    if found:
        raise CommitRefused(
            f"dflow will not {what}: {'; '.join(found[:5])}; nothing was pushed. Remove the "
            "files from the branch's history (a later commit that deletes a secret does not "
            "take it out), or list test fixtures in [secrets] allow_files")


def _entries(raw: str) -> list[tuple[str, str, str]]:
    """(path, new mode, new blob) of each added or changed entry, deletions left out."""
    parts = raw.split("\0")
    out = []
    for meta, path in zip(parts[0::2], parts[1::2], strict=False):
        fields = meta.lstrip(":").split()
        if len(fields) >= 5 and fields[4] != "D":
            out.append((path, fields[1], fields[3]))
    return list(dict.fromkeys(out))


def _batch(cwd: Path, blobs: list[str], mode: str) -> dict[str, bytes]:
    """`git cat-file --batch-check`: blob id -> its size, as bytes."""
    if not blobs:
        return {}
    done = runner.run_bytes(cwd, "cat-file", mode, input="\n".join(blobs).encode() + b"\n",
                            check=False)
    out = {}
    for line in done.stdout.splitlines():
        fields = line.split()
        if len(fields) == 3:
            out[fields[0].decode()] = fields[2]
    return out


def _text(cwd: Path, blob: str) -> str:
    done = runner.run_bytes(cwd, "cat-file", "blob", blob, check=False)
    return content_text(done.stdout)


def _submodules(cwd: Path, tip: str) -> set[str]:
    done = runner.run(cwd, "config", "--blob", f"{tip}:.gitmodules", "--get-regexp",
                      r"\.path$", check=False)
    return {line.split(" ", 1)[-1] for line in done.stdout.splitlines()}
