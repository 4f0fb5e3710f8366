"""Secrets in any shape: a token as a file name, percent-encoded, split by zero-width
characters or across lines, in a UTF-16 `working-tree-encoding` file, an env secret without
its prefix or reversed. None reaches the run branch, the state ref, a log line, the
terminal or the console, and nothing holding one is pushed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.config.settings import ProjectSettings
from deksdenflow.engines.demo_files import plan as demo_plan
from deksdenflow.workflow.delivery.push_check import branch_refusals
from deksdenflow.workflow.lifecycle import documents, runs
from tests.conftest import git
from tests.engines.conftest import install_fake
from tests.workflow.conftest import configure

from .conftest import fsck, reachable_blobs
from .corpus import FORMATS, encodings, needle, normalized

ENV_TOKEN = "gh" + "p_" + "Zq8Lr2Vx7Nw4Kt6Yp3Hs9Jd5Fb1Mc0Ga2We4"
PLANTED = list(FORMATS)  # every format, in every shape, in every place
UNGUARDED = {"password assignment"}  # masked where kept, but ordinary code in a file


def _spellings(names: list[str] = PLANTED) -> str:
    said = [spelled for name in names for enc, spelled in encodings(FORMATS[name]).items()
            if enc != "as written"]
    said += [ENV_TOKEN[4:], ENV_TOKEN[::-1], ENV_TOKEN[:17] + "\n" + ENV_TOKEN[17:]]
    return " | ".join(said)


def _found(texts: list[str] | list[bytes]) -> list[str]:
    needles = [needle(name) for name in PLANTED] + [ENV_TOKEN[4:]]
    hay = [normalized(t.decode("utf-8", "replace") if isinstance(t, bytes) else t)
           for t in texts]
    return [n for n in needles if any(n in h or n[::-1] in h for h in hay)]


def test_no_shape_of_a_secret_reaches_a_branch_the_ref_a_log_or_the_terminal(
    project: Project, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", ENV_TOKEN)
    codex = install_fake("codex", tmp_path, monkeypatch)
    said = _spellings()
    utf16 = (f"{sys.executable} -c \"open('creds.txt','wb').write("
             f"'key = {FORMATS['openai']}\\n'.encode('utf-16-le'))\"")
    codex.script(queue=[
        {"message": json.dumps(demo_plan("0001-x")), "stderr": said},
        {"write": {f"cache/{FORMATS['github classic']}.txt": "x\n",
                   "notes.md": _spellings([n for n in PLANTED if n not in UNGUARDED]),
                   ".gitattributes": "*.txt working-tree-encoding=UTF-16LE\n"},
         "shell": [utf16], "message": f"done {said}", "stderr": said},
    ])
    configure(project, {"phases.default": '"codex"', "retry.max_attempts": 1})
    runs.create_run(project, "x", "add a greeting")

    waited = cli("run", "1", "--wait", cwd=repo)  # its log lines are printed

    snap = project.view().runs()[0]
    reason = " ".join(s.reason for s in snap.steps)
    assert "will not commit" in reason and "creds.txt" in reason and "notes.md" in reason
    assert "its name holds what looks like a secret" in reason, reason
    branch = git("log", "--all", "-p", "--format=%B", cwd=repo)
    printed = [waited.output]  # type: ignore[attr-defined]
    for args in (["status"], ["show", "1"], ["events"], ["logs", "1", "1"]):
        printed.append(cli(*args, cwd=repo).output)  # type: ignore[attr-defined]
    view = project.view()  # what the console's panes render
    console = [documents.artifact_text(view, snap, name)
               for name in view.artifact_names(snap.run.uid)]
    console += [documents.plan_markdown(project, view, snap), *documents.findings_for(snap)]
    console += [documents.step_markdown(project, view, snap, step) for step in snap.steps]
    assert _found(console) == []
    assert _found([branch]) == []
    assert _found(reachable_blobs(repo)) == []
    assert _found(printed) == []
    fsck(repo)


def test_a_token_as_a_file_name_or_in_utf16_is_never_pushed(repo: Path) -> None:
    base = git("rev-parse", "HEAD", cwd=repo)
    name = encodings(FORMATS["github classic"])["percent-encoded"]
    (repo / f"{name}.txt").write_text("nothing secret inside\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "name", cwd=repo)
    (repo / "w.txt").write_bytes(f"{FORMATS['slack bot']}\n".encode("utf-16"))
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "utf16", cwd=repo)

    found = branch_refusals(repo, base, "HEAD", ProjectSettings())

    assert any("its name holds" in f for f in found), found
    assert any(f.startswith("w.txt") for f in found), found
