"""The step's commit as the QA prompt shows it: every changed file's name, its line counts and
the head of its patch come before any file gets more of the budget, and what was cut is listed
(docs/decisions/1540-qa-sees-every-change.md).

A diff cut at one place let 36 kB of noise in a file that sorts first push a backdoor file out
of what QA read, and a committed `* -diff` turned the patch into "Binary files differ"; the
patches here are made from the blobs (git/local.py), whatever `.gitattributes` says.
"""

from __future__ import annotations

from ...git import local
from ..checkouts.worktrees import git

LIMIT_CHARS = 20_000  # the patch part of the QA prompt
MAX_BLOB_BYTES = 1_000_000  # a larger file is listed with its size and never read
MIN_SHARE = 400  # every file's head, even among very many files


def review_diff(worktree: local.Where, commit: str | None, limit: int = LIMIT_CHARS) -> str:
    """The commit's header, one stat line per file, a note on what was cut, then the patches
    within `limit` characters shared fairly between the files."""
    if not commit:
        return "(the step changed no files)"
    found = local.file_patches(worktree, commit, MAX_BLOB_BYTES)
    if found is None:  # libgit2 could not read it: git's own text, still not a filter's view
        text = git(worktree, "show", "--text", "--no-textconv", "--no-ext-diff", "--stat",
                   "-p", "--format=commit %H%n%s%n", commit).stdout
        return text if len(text) <= limit else text[:limit] + "\n[... diff cut ...]\n"
    subject, files = found
    shares = _shares([len(f.patch) for f in files], max(limit, MIN_SHARE * len(files)))
    cut = [(f, n) for f, n in zip(files, shares, strict=True) if n < len(f.patch)]
    lines = [f"commit {commit}", subject, "", "---", *(_stat(f) for f in files),
             f" {len(files)} file{'s' if len(files) != 1 else ''} changed", ""]
    if cut:
        lines += [f"NOTE: this diff is cut to fit: {len(cut)} file(s) are shown in part, "
                  "every file's head is shown. Read the rest in the worktree: "
                  + "; ".join(f"{f.path} ({n:,} of {len(f.patch):,} characters shown)"
                              for f, n in cut), ""]
    for f, n in zip(files, shares, strict=True):
        lines.append(_head(f.patch, n) if f.patch else f"{f.path}: {f.note}")
    return "\n".join(lines) + "\n"


def _shares(sizes: list[int], budget: int) -> list[int]:
    """Water-filling: each file gets an equal share; what a small file leaves over goes to
    the larger ones, equally again."""
    shares = [0] * len(sizes)
    left = budget
    todo = sorted(range(len(sizes)), key=lambda i: sizes[i])
    for place, i in enumerate(todo):
        fair = left // (len(todo) - place)
        shares[i] = min(sizes[i], fair)
        left -= shares[i]
    return shares


def _head(patch: str, n: int) -> str:
    if n >= len(patch):
        return patch.rstrip("\n")
    end = patch.rfind("\n", 0, n)
    return (patch[: end if end > 0 else n]
            + f"\n[... {len(patch) - n:,} more characters of this file cut ...]")


def _stat(f: local.FilePatch) -> str:
    counts = (f"+{f.added} -{f.deleted}" if f.added is not None and f.deleted is not None
              else f.note or "")
    return f" {f.path} | {counts}"
