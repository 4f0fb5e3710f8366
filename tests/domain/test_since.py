"""`--since`: the words a person types (today, yesterday, 3 days ago) and one error for the rest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.since import parse_since
from deksdenflow.errors import UsageError

NOW = datetime(2026, 11, 28, 15, 30, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 28, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("today", MIDNIGHT),
    ("Yesterday", MIDNIGHT - timedelta(days=1)),
    ("3 days ago", NOW - timedelta(days=3)),
    ("1 day ago", NOW - timedelta(days=1)),
    ("12 hours ago", NOW - timedelta(hours=12)),
    ("2 weeks ago", NOW - timedelta(weeks=2)),
    ("3d", NOW - timedelta(days=3)),
    ("12h", NOW - timedelta(hours=12)),
    ("2w", NOW - timedelta(weeks=2)),
    ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
    ("2026-11-01T08:00:00+01:00", datetime(2026, 11, 1, 7, tzinfo=UTC)),
])
def test_the_words_a_person_types(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["lately", "3x", "days ago", "-3d", "3 days", "tomorrow", "d"])
def test_anything_else_is_one_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match=r"^--since wants a span like 30d.* not '"):
        parse_since(text, NOW)


def test_no_since_is_all_history() -> None:
    assert parse_since(None, NOW) is None and parse_since("  ", NOW) is None


def test_report_takes_yesterday_and_refuses_nonsense_with_exit_2(project: Project, cli) -> None:
    result = cli("report", "--json", "--since", "yesterday", cwd=project.root)
    assert result.exit_code == 0, result.output
    since = datetime.fromisoformat(json.loads(result.output)["since"])
    local_midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0,
                                                         microsecond=0)
    assert since == local_midnight - timedelta(days=1)
    bad = cli("report", "--since", "last tuesday", cwd=project.root)
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert "today, yesterday" in bad.output and "'last tuesday'" in bad.output
