"""Registering a repository through `POST /api/projects` (the web console's projects page):
the same service as `dflow projects add`, its steps streamed as they happen."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from deksdenflow.wiring import open_project

from ..conftest import git, make_repo
from .conftest import Served, dflow


def _lines(served: Served, body: dict[str, object]) -> list[dict[str, object]]:
    found = []
    with httpx.stream("POST", served.base + "api/projects", headers=served.headers(),
                      json=body, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        for line in response.iter_lines():
            if line:
                found.append(json.loads(line))
    return found


def test_a_url_is_cloned_set_up_and_registered_with_the_answers_given(
        served: Served, tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "origin")
    bare = tmp_path / "app.git"
    git("clone", "-q", "--bare", str(origin), str(bare), cwd=tmp_path)

    lines = _lines(served, {"source": bare.as_uri(), "name": "app", "engine": "demo",
                            "qa_policy": "end", "model": "tiny"})
    steps = [(d["step"]["step"], d["step"]["status"]) for d in lines if "step" in d]  # type: ignore[index]
    assert steps == [("clone", "started"), ("clone", "done"), ("init", "started"),
                     ("init", "done")]
    result = lines[-1]["result"]
    assert result["entry"]["name"] == "app" and result["answers"]["qa_policy"] == "end"  # type: ignore[index]

    listed = json.loads(dflow(served.root, "projects", "--json").stdout)
    assert [p["name"] for p in listed] == ["app"]
    settings = open_project(listed[0]["path"]).settings()
    assert (settings.qa.policy, settings.phases.default) == ("end", "demo")

    page = httpx.get(served.base + "projects", params={"token": served.token})
    assert "app" in page.text and 'id="add-project"' in page.text


def test_a_setup_that_cannot_start_says_why_in_one_sentence(served: Served,
                                                            tmp_path: Path) -> None:
    not_a_repo = tmp_path / "plain"
    not_a_repo.mkdir()
    lines = _lines(served, {"source": str(not_a_repo)})
    assert list(lines[-1]) == ["error"]
    message = lines[-1]["error"]["message"]  # type: ignore[index]
    assert "git" in message and "Traceback" not in message
    assert json.loads(dflow(served.root, "projects", "--json").stdout) == []

    # an option where a source belongs is refused before git sees it
    refused = httpx.post(served.base + "api/projects", headers=served.headers(),
                         json={"source": "--upload-pack=touch /tmp/pwned"})
    assert refused.status_code == 422
