"""A setting changed on two clones at once: the clone whose value lost the merge is told
(issue 12 item 5; decision 0973)."""

from __future__ import annotations

from deksdenflow.sync import service
from tests.sync.conftest import Clone


def test_config_set_that_loses_the_implicit_merge_says_so(clone: Clone, cli: object) -> None:
    a, b = clone("a"), clone("b")
    assert cli("config", "set", "qa.policy", "end", cwd=a.root).exit_code == 0  # type: ignore[operator]
    # b has not fetched a's change; its own `config set` syncs afterwards (project.sync = auto)
    result = cli("config", "set", "qa.policy", "never", cwd=b.root)  # type: ignore[operator]
    assert result.exit_code == 0
    assert b.settings().qa.policy == "end", "precondition: the merge keeps a's version"
    assert result.output.splitlines() == [
        'qa.policy = "never"',
        "note: another clone changed project.toml at the same time and the merge kept its "
        'version: qa.policy is "end" (yours was "never"); `dflow config set` it again to '
        "keep yours",
    ]


def test_config_set_that_wins_the_merge_prints_no_note(clone: Clone, cli: object) -> None:
    a, b = clone("a"), clone("b")
    assert cli("config", "set", "qa.policy", "never", cwd=a.root).exit_code == 0  # type: ignore[operator]
    result = cli("config", "set", "qa.policy", "end", cwd=b.root)  # type: ignore[operator]
    assert b.settings().qa.policy == "end", "precondition: the merge keeps b's version"
    assert result.output.splitlines() == ['qa.policy = "end"']


def test_an_explicit_sync_names_the_settings_that_lost(clone: Clone) -> None:
    a, b = clone("a"), clone("b")
    for project, value in ((a, "end"), (b, "never")):
        def change(tx, value: str = value):  # type: ignore[no-untyped-def]
            tx.set_project_text(tx.view.project_text().replace(
                'policy = "each_step"', f'policy = "{value}"'))
        project.store.transact(change, message="test: qa.policy")
    service.sync(a)
    report = service.sync(b)
    assert [(s.key, s.ours, s.kept) for s in report.settings_lost] == [
        ("qa.policy", "never", "end")]
