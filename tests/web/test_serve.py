"""`dflow serve` as a user and an attacker meet it: a real server process on 127.0.0.1, real
HTTP (httpx), the real state ref, and `dflow` in other processes changing it."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

import httpx
import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.runs.models import QaResult
from deksdenflow.web import access, ops, pages
from deksdenflow.workflow.lifecycle import runs

from .conftest import Served, dflow, start, stop

HOSTILE = "<script>alert('pwned')</script>"


def test_health_answers_without_a_token_and_nothing_else_does(served: Served,
                                                              project: Project) -> None:
    runs.create_run(project, "hello", "say hello", plan=False)
    base = served.base
    health = httpx.get(base + "api/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"

    refused = {
        "no token": httpx.get(base + "api/runs"),
        "wrong token": httpx.get(base + "api/runs", headers={
            "Authorization": "Bearer " + served.token[:-1] + "x"}),
        "another scheme": httpx.get(base + "api/runs", headers={
            "Authorization": f"Basic {served.token}"}),
        "token in the query of an API path": httpx.get(base + "api/runs",
                                                       params={"token": served.token}),
        "token as a cookie": httpx.get(base + "api/runs", cookies={"token": served.token}),
        "an action without a token": httpx.post(base + "api/runs/1/pause"),
        "the schema without a token": httpx.get(base + "openapi.json"),
        "the page with a wrong token": httpx.get(base, params={"token": "nope"}),
    }
    assert {what: r.status_code for what, r in refused.items()} == {
        what: 401 for what in refused}
    assert "Bearer" in refused["no token"].json()["error"]["message"]
    assert runs.status(project).runs[0].paused is False  # the refused action did nothing

    listed = httpx.get(base + "api/runs", headers=served.headers())
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()["runs"]] == ["0001-hello"]
    # the same runs as `dflow status --json`
    assert listed.json() == json.loads(dflow(served.root, "status", "--json").stdout)
    # no CORS: another site's page gets no permission to read the answer
    assert "access-control-allow-origin" not in {k.lower() for k in listed.headers}

    token_file = project.store.git_dir / access.TOKEN_FILE
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token_file.read_text().strip() == served.token

    # printed once with the URL; the requests above (some with ?token=) are in no log
    stop(served)
    assert served.process.stderr is not None
    assert served.token not in served.process.stderr.read()


def test_openapi_lists_every_path(served: Served) -> None:
    found = httpx.get(served.base + "openapi.json", headers=served.headers())
    assert found.status_code == 200
    paths = set(found.json()["paths"])
    assert paths >= {"/api/health", "/api/runs", "/api/runs/{run}", "/api/runs/{run}/diff",
                     "/api/runs/{run}/steps/{step}/logs", "/api/projects", "/api/metrics",
                     "/api/runs/{run}/{verb}", "/api/runs/{run}/steps/{step}/{verb}",
                     "/api/events"}


def test_a_run_created_and_paused_over_http_shows_in_dflow_status(served: Served) -> None:
    created = httpx.post(served.base + "api/runs", headers=served.headers(),
                         json={"name": "add login", "task": "Add a login page", "plan": False})
    assert created.status_code == 201, created.text
    assert created.json()["id"] == "0001-add-login"
    paused = httpx.post(served.base + "api/runs/0001-add-login/pause",
                        headers=served.headers())
    assert paused.status_code == 200 and paused.json()["run"]["paused"] is True

    status = json.loads(dflow(served.root, "status", "--json").stdout)
    assert [(r["id"], r["paused"], r["task"]) for r in status["runs"]] == [
        ("0001-add-login", True, "Add a login page")]

    # dflow's refusals as 4xx with its one sentence, the state unchanged
    missing = httpx.post(served.base + "api/runs/0042/resume", headers=served.headers())
    assert missing.status_code == 404
    assert "no protocol run '0042'" in missing.json()["error"]["message"]
    again = httpx.post(served.base + "api/runs", headers=served.headers(),
                       json={"name": "add login", "task": "twice"})
    assert 400 <= again.status_code < 500
    assert again.json()["error"]["message"]
    unknown = httpx.post(served.base + "api/runs/1/trust", headers=served.headers())
    assert unknown.status_code == 422  # no trust or config over HTTP (decision 1582)
    assert len(json.loads(dflow(served.root, "status", "--json").stdout)["runs"]) == 1


def test_the_event_stream_carries_a_run_another_process_created(served: Served) -> None:
    found: list[dict[str, object]] = []
    opened = threading.Event()

    def follow() -> None:
        with httpx.stream("GET", served.base + "api/events", params={"token": served.token},
                          timeout=httpx.Timeout(10, read=10)) as stream:
            opened.set()
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    found.append(json.loads(line[6:]))
                    if found[-1]["type"] == "run.created":
                        return

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    assert opened.wait(10)
    time.sleep(0.2)  # the stream is subscribed once its first comment has gone out
    started = time.monotonic()
    assert dflow(served.root, "new", "elsewhere", "--task", "made by another process",
                 "--no-plan").returncode == 0
    reader.join(10)
    assert [e["run"] for e in found if e["type"] == "run.created"] == ["0001-elsewhere"]
    assert time.monotonic() - started < 8  # `dflow new` itself takes most of it


def test_oversized_bodies_are_refused_and_change_nothing(served: Served) -> None:
    big = json.dumps({"name": "big", "task": "x" * 70_000})
    declared = httpx.post(served.base + "api/runs", headers={
        **served.headers(), "Content-Type": "application/json"}, content=big)
    assert declared.status_code == 413

    def chunks() -> object:  # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b"x" * 4096

    streamed = httpx.post(served.base + "api/runs", headers={
        **served.headers(), "Content-Type": "application/json"}, content=chunks())
    assert streamed.status_code == 413
    assert json.loads(dflow(served.root, "status", "--json").stdout)["runs"] == []


def test_agent_text_is_escaped_on_the_pages(served: Served, project: Project) -> None:
    runs.create_run(project, "hostile", HOSTILE, plan=False)
    page = httpx.get(served.base + "runs/1", params={"token": served.token})
    assert page.status_code == 200
    assert HOSTILE not in page.text
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    home = httpx.get(served.base, params={"token": served.token})
    assert home.status_code == 200 and "0001-hostile" in home.text
    assert f"?token={served.token}" in home.text  # its links keep working

    # a QA verdict and findings written by an agent, as the run page renders them
    found = ops.show_run(project, "1")
    step = found.steps[0] if found.steps else None
    assert step is None  # not planned: give it one step whose QA said hostile things
    from deksdenflow.domain.runs.models import StepRun

    hostile = found.model_copy(update={"steps": [StepRun(
        index=1, title=HOSTILE, attempts=1,
        qa=QaResult(verdict="FAIL", summary=HOSTILE, findings=[HOSTILE, "<img src=x>"]))]})
    html = pages.run_page(hostile, patch=f"+{HOSTILE}\n")
    assert "<script>alert" not in html and "<img src=x>" not in html
    assert html.count("&lt;script&gt;") >= 5  # task, title, summary, finding, diff


def test_listening_beyond_loopback_needs_a_chosen_token(project: Project) -> None:
    refused = dflow(project.root, "serve", "--host", "0.0.0.0", "--port", "0")
    assert refused.returncode == 2
    assert "DFLOW_SERVE_TOKEN" in refused.stderr and "Traceback" not in refused.stderr
    assert not (project.store.git_dir / access.TOKEN_FILE).exists()


def test_a_chosen_token_is_the_only_one_and_is_not_printed(project: Project,
                                                           tmp_path: Path) -> None:
    chosen = "a-long-random-secret-the-user-chose-0123456789"
    served = start(project.root, env={**os.environ, "DFLOW_SERVE_TOKEN": chosen})
    try:
        assert served.token == ""  # the URL printed without it
        assert httpx.get(served.base + "api/runs", headers={
            "Authorization": f"Bearer {chosen}"}).status_code == 200
        assert not (project.store.git_dir / access.TOKEN_FILE).exists()
    finally:
        stop(served)


@pytest.mark.parametrize(("given", "ok"), [("secret", True), ("secreT", False), ("", False),
                                           (None, False), ("secret ", False)])
def test_tokens_compare_whole(given: str | None, ok: bool) -> None:
    assert access.same(given, "secret") is ok


def test_a_finished_run_read_and_landed_over_http(served: Served) -> None:
    """A whole demo protocol done by `dflow run --wait` in another process, then read and
    landed through the API, each answer the CLI's `--json`."""
    assert dflow(served.root, "new", "greet", "--task", "Add a greeting").returncode == 0
    assert dflow(served.root, "run", "1", "--wait", "--all").returncode == 0
    get = lambda path, **params: httpx.get(served.base + path, headers=served.headers(),  # noqa: E731
                                           params=params)

    shown = get("api/runs/0001-greet")
    assert shown.status_code == 200
    assert shown.json() == json.loads(dflow(served.root, "show", "1", "--json").stdout)
    assert [s["qa"]["verdict"] for s in shown.json()["steps"]] == ["PASS"] * 3

    whole = get("api/runs/1/diff", stat="true").json()
    assert whole["files"] and whole["patch"] == ""
    assert whole == json.loads(dflow(served.root, "diff", "1", "--stat", "--json").stdout)
    assert get("api/runs/1/diff", step=1).json()["patch"].startswith("diff --git")

    log = get("api/runs/1/steps/1/logs").json()
    printed = dflow(served.root, "logs", "1", "1").stdout
    assert printed == f"# {log['name']}\n{log['text']}"
    missing = get("api/runs/1/steps/9/logs")
    assert missing.status_code == 409 and "transcript" in missing.json()["error"]["message"]

    page = httpx.get(served.base + "runs/1/steps/1/diff", params={"token": served.token})
    assert page.status_code == 200 and "diff --git" in page.text
    qa_log = httpx.get(served.base + "runs/1/steps/1/logs",
                       params={"token": served.token, "qa": "true"})
    assert qa_log.status_code == 200 and "-qa-" in qa_log.text

    report = get("api/metrics").json()
    assert report["runs"] == 1 and report["total"]["qa_passes"] == 3
    assert get("api/projects").json() == []  # none registered in this HOME

    refused = httpx.post(served.base + "api/runs/1/steps/2/approve", headers=served.headers())
    assert refused.status_code == 409 and refused.json()["error"]["message"]

    landed = httpx.post(served.base + "api/runs/1/land", headers=served.headers(),
                        json={"strategy": "squash"})
    assert landed.status_code == 200, landed.text
    assert landed.json()["landed"]["strategy"] == "squash"
    status = json.loads(dflow(served.root, "status", "--json").stdout)["runs"][0]
    assert status["merged"] is True


def test_all_projects_serves_each_registered_project_by_name(project: Project,
                                                             tmp_path: Path) -> None:
    from ..conftest import make_repo

    other = make_repo(tmp_path / "other")
    assert dflow(other, "projects", "add", str(other), "--name", "other",
                 "--engine", "demo").returncode == 0
    assert dflow(other, "new", "elsewhere", "--task", "t", "--no-plan").returncode == 0
    runs.create_run(project, "here", "t", plan=False)
    served = start(project.root, "--all-projects")
    try:
        get = lambda **params: httpx.get(served.base + "api/runs",  # noqa: E731
                                         headers=served.headers(), params=params)
        assert [r["id"] for r in get().json()["runs"]] == ["0001-here"]
        assert [r["id"] for r in get(project="other").json()["runs"]] == ["0001-elsewhere"]
        assert get(project="nope").status_code == 404
        paused = httpx.post(served.base + "api/runs/1/pause", headers=served.headers(),
                            params={"project": "other"})
        assert paused.json()["run"]["id"] == "0001-elsewhere"
        assert json.loads(dflow(other, "status", "--json").stdout)["runs"][0]["paused"]
        page = httpx.get(served.base + "projects", params={"token": served.token})
        assert f'href="/?token={served.token}&amp;project=other"' in page.text
        runs_page = httpx.get(served.base, params={"token": served.token, "project": "other"})
        assert "0001-elsewhere" in runs_page.text and "&amp;project=other" in runs_page.text
    finally:
        stop(served)


def test_one_project_servers_refuse_to_choose_another(served: Served) -> None:
    found = httpx.get(served.base + "api/runs", headers=served.headers(),
                      params={"project": "other"})
    assert found.status_code == 400 and "--all-projects" in found.json()["error"]["message"]


def test_ctrl_c_ends_open_event_streams_at_once_without_a_traceback(served: Served) -> None:
    import signal

    ended = threading.Event()

    def follow() -> None:
        with httpx.stream("GET", served.base + "api/events", params={"token": served.token},
                          timeout=30) as stream:
            for _ in stream.iter_lines():
                pass
        ended.set()

    threading.Thread(target=follow, daemon=True).start()
    time.sleep(0.5)
    started = time.monotonic()
    served.process.send_signal(signal.SIGINT)
    assert served.process.wait(10) == 130  # as every dflow command that is interrupted
    assert time.monotonic() - started < 2.5  # not the graceful shutdown's time-out
    assert ended.wait(5)  # the stream was closed cleanly, not cut
    assert served.process.stderr is not None
    rest = served.process.stderr.read()
    assert "Traceback" not in rest and "interrupted" in rest
