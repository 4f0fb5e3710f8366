"""Prompt and model variants: chosen per run or split by shares, recorded on every attempt,
compared by `dflow report --by variant`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.config.settings import ProjectSettings, Variant
from deksdenflow.errors import ConfigError
from deksdenflow.workflow.phases import prompts, variants
from tests.workflow.conftest import configure, settle

MARK = "TERSE VARIANT: be brief."


def _terse(project: Project, repo: Path) -> None:
    folder = repo / ".dflow" / "variants" / "terse"
    folder.mkdir(parents=True)
    shipped = prompts.template_path("execute", repo)
    (folder / "execute.prompt.md").write_text(MARK + "\n\n" + shipped.read_text())
    configure(project, {"variants.terse.prompts": '".dflow/variants/terse"',
                        "variants.terse.model": '"small"'})


def test_a_variant_chosen_at_new_is_recorded_on_every_attempt(
    project: Project, repo: Path, cli
) -> None:
    _terse(project, repo)
    created = cli("new", "x", "--task", "add a greeting", "--variant", "terse", cwd=repo)
    assert created.exit_code == 0, created.output
    assert "variant: terse" in created.output
    snap = settle(project)
    assert snap.run.status.value == "completed" and snap.run.variant == "terse"
    events = project.view().run_events(snap.run.uid)
    attempts = [e.data.model_dump() for e in events if e.type in ("run.planned", "step.started",
                                                     "step.finished", "step.qa_verdict")]
    assert len(attempts) == 1 + 3 * 3
    assert all(d["variant"] == "terse" for d in attempts)
    assert {d["model"] for d in attempts if "prompt_hash" not in d} == {"small"}  # started
    assert all(d["prompt_hash"] for d in attempts if "prompt_hash" in d)
    view = project.view()
    logs = [n for n in view.artifact_names(snap.run.uid) if "-execute-" in n]
    assert logs and all(MARK.encode() in (view.artifact(snap.run.uid, n) or b"") for n in logs)


def test_report_compares_variants(project: Project, repo: Path, cli) -> None:
    _terse(project, repo)
    cli("new", "x", "--task", "t", "--variant", "terse", cwd=repo)
    settle(project, "1")
    cli("new", "y", "--task", "t", "--variant", "default", cwd=repo)
    settle(project, "2")
    report = json.loads(cli("report", "--by", "variant", "--json", cwd=repo).output)
    groups = {g["key"]: g for g in report["groups"]}
    assert {"terse", "default"} <= set(groups)
    assert groups["terse"]["steps"] == groups["default"]["steps"] == 3


def test_the_split_is_a_pure_function_of_the_run_id() -> None:
    settings = ProjectSettings(variants={"terse": Variant(share=0.5), "other": Variant()})
    ids = [f"{n:04d}-task" for n in range(1, 401)]
    first = [variants.choose(settings, i) for i in ids]
    assert first == [variants.choose(settings, i) for i in ids]
    assert set(first) == {"terse", ""}  # 'other' has no share: only when asked for
    assert 0.4 < first.count("terse") / len(ids) < 0.6
    assert variants.choose(settings, "0001-task", "other") == "other"
    assert variants.choose(settings, "0001-task", "default") == ""


def test_an_unknown_variant_is_a_usage_error_with_the_list(
    project: Project, repo: Path, cli
) -> None:
    configure(project, {"variants.terse.model": '"small"'})
    result = cli("new", "x", "--task", "t", "--variant", "fancy", cwd=repo)
    assert result.exit_code == 2
    assert "no variant 'fancy' in project.toml (known: terse;" in result.output
    assert project.view().runs() == []


@pytest.mark.parametrize(("values", "words"), [
    ({"variants.a.share": 0.7, "variants.b.share": 0.6}, "add up to 1.3"),
    ({"variants.default.model": '"m"'}, "variant name 'default' is not allowed"),
])
def test_bad_variants_are_one_sentence(project: Project, values: dict, words: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=words):
        configure(project, values)


def test_a_variant_folder_outside_the_repository_is_refused(
    project: Project, repo: Path, tmp_path: Path, cli
) -> None:
    configure(project, {"variants.out.prompts": '"../elsewhere"'})
    shutil.copytree(prompts.shipped_dirs()[-1], tmp_path / "elsewhere", dirs_exist_ok=True)
    cli("new", "x", "--task", "t", "--variant", "out", cwd=repo)
    snap = settle(project)
    assert "variants.out.prompts must be a folder inside the repository" in \
        snap.run.blocks["plan"]
