"""The web console's pages: server-rendered HTML from the API's own models, a small script
for the buttons and the live refresh, no build step.

Every text that reaches a page goes through `e()` (html.escape, quotes included): run names,
tasks, plans, step titles, QA findings, transcripts and diffs are written by agents and by
teammates, and are hostile like everywhere else. Status is always a word, so the pages read
the same without colour; the layout is one column on a phone.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs, quote, urlencode

from ..domain.agents.redaction import strip_controls
from ..observe.report import Report
from ..projects.overview import ProjectSummary
from ..workflow.lifecycle.detail import RunDetail
from ..workflow.lifecycle.runs import RunLine, StatusReport


def e(text: object) -> str:
    """Text as a page shows it: escaped (no markup), and without terminal escapes, control,
    bidi or invisible format characters (a teammate's hand-written state may hold them)."""
    return escape(strip_controls(str(text)), quote=True)


def _layout(title: str, body: str, q: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} · dflow</title>
<link rel="stylesheet" href="/static/dflow.css">
<script src="/static/dflow.js" defer></script>
</head><body>
<header><nav><a href="/{q}">runs</a> · <a href="/projects{q}">projects</a> ·
<a href="/metrics{q}">metrics</a></nav>
<p id="live" role="status" aria-live="polite">live: connecting</p>
<p id="said" role="status" aria-live="polite"></p></header>
<main id="main">
{body}
</main></body></html>
"""


def _cost(value: float | None) -> str:
    return "-" if value is None else f"${value:.2f}"


def _status(line: RunLine) -> str:
    word = line.stage or line.status
    return f"{word}{' (paused)' if line.paused else ''}"


def _button(label: str, path: str, confirm: str, *, fields: str = "") -> str:
    return (f'<button type="button" data-post="{e(path)}" data-confirm="{e(confirm)}"'
            f'{fields}>{e(label)}</button>')


def runs_page(report: StatusReport, q: str = "") -> str:
    q = e(q)  # the query the page was opened with, kept in its links
    rows = []
    for line in report.runs:
        waiting = line.waiting.reason if line.waiting else ""
        blocks = "; ".join(line.blocks.values())
        rows.append(
            f'<tr><td><a href="/runs/{e(quote(line.id))}{q}">{e(line.id)}</a></td>'
            f"<td>{e(_status(line))}</td><td>{e(waiting or blocks or '-')}</td>"
            f"<td>{line.steps_done}/{line.steps_total}</td><td>{_cost(line.cost)}</td>"
            f"<td>{line.tokens}</td></tr>")
    table = ("<table><thead><tr><th>run</th><th>status</th><th>waiting for</th><th>steps</th>"
             "<th>cost</th><th>tokens</th></tr></thead><tbody>" + "".join(rows)
             + "</tbody></table>") if rows else (
        "<p>no protocol runs yet; start one below or with <code>dflow new NAME --task TEXT"
        "</code></p>")
    form = """<h2>New run</h2>
<form id="new-run" data-post="/api/runs">
<label>name <input name="name" required maxlength="100"></label>
<label>task <textarea name="task" required rows="3" maxlength="20000"></textarea></label>
<label>engine <input name="engine" maxlength="100" placeholder="the project's default"></label>
<label><input type="checkbox" name="no_plan"> record it without planning</label>
<button type="submit">start</button>
</form>"""
    return _layout("runs", f"<h1>Runs</h1>\n<div class=\"scroll\">{table}</div>\n{form}", q)


def run_page(found: RunDetail, patch: str, q: str = "") -> str:
    q = e(q)  # the query the page was opened with, kept in its links
    line = found.run
    rid = quote(line.id)
    api = f"/api/runs/{rid}"
    facts = [("status", _status(line)), ("task", line.task), ("branch", line.branch),
             ("engine", line.engine or "the project's default"),
             ("steps", f"{line.steps_done}/{line.steps_total}"), ("cost", _cost(line.cost)),
             ("tokens", str(line.tokens))]
    if line.waiting is not None:
        facts.append(("waiting for", f"{line.waiting.reason} ({line.waiting.command})"))
    facts += [(f"blocked by {key}", why) for key, why in line.blocks.items()]
    dl = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts)
    pause = ("resume", "Resume") if line.paused else ("pause", "Pause")
    buttons = "".join([
        _button("plan", f"{api}/plan", f"Request the plan of {line.id}?"),
        _button("run next", f"{api}/run", f"Request the next step of {line.id}?"),
        _button(pause[0], f"{api}/{pause[0]}", f"{pause[1]} {line.id}?"),
        _button("cancel", f"{api}/cancel", f"Cancel {line.id} for good?"),
        _button("land", f"{api}/land", f"Land {line.id} on its base branch?"),
        _button("open PR", f"{api}/pr", f"Push {line.id} and open a draft PR?"),
    ])
    steps = []
    for s in found.steps:
        qa = ""
        if s.qa is not None:
            items = "".join(f"<li>{e(f)}</li>" for f in s.qa.findings)
            qa = (f"<p>QA: <strong>{e(s.qa.verdict)}</strong> {e(s.qa.summary)}</p>"
                  + (f"<ul>{items}</ul>" if items else ""))
        step_api = f"{api}/steps/{s.index}"
        controls = "".join([
            _button("QA", f"{step_api}/qa", f"Request QA of step {s.index:02d}?"),
            _button("approve", f"{step_api}/approve",
                    f"Approve step {s.index:02d} whatever QA said?"),
            _button("retry", f"{step_api}/retry", f"Run step {s.index:02d} again?"),
        ])
        links = []
        if s.attempts:
            links.append(f'<a href="/runs/{e(rid)}/steps/{s.index}/logs{q}">transcript</a>')
        if s.qa is not None:
            sep = "&amp;" if q else "?"
            links.append(f'<a href="/runs/{e(rid)}/steps/{s.index}/logs{q}{sep}qa=true">'
                         "QA transcript</a>")
        if s.commit:
            links.append(f'<a href="/runs/{e(rid)}/steps/{s.index}/diff{q}">diff</a>')
        logs = " · ".join(links)
        steps.append(
            f'<li class="step"><h3>{s.index:02d} {e(s.title)}</h3>'
            f"<p>{e(s.status.value)} · attempts {s.attempts} · {_cost(s.cost)} · "
            f"{s.usage.total} tokens {logs}</p>{qa}<div class=\"actions\">{controls}</div></li>")
    events = "".join(
        f"<li>{e(f'{ev.at:%Y-%m-%d %H:%M:%S}')} {e(ev.type.value)}"
        f"{e(f' step {ev.step:02d}') if ev.step is not None else ''} {e(ev.actor)}</li>"
        for ev in found.events)
    failures = "".join(f"<li>{e(f.kind)} {e(f.error)}</li>" for f in found.facts.failures)
    body = f"""<h1>{e(line.id)}</h1>
<dl>{dl}</dl>
<div class="actions">{buttons}</div>
<h2>Plan</h2>
<pre>{e(found.plan) or 'not planned yet'}</pre>
<h2>Steps</h2>
<ol class="steps">{''.join(steps) or '<li>no steps yet</li>'}</ol>
{f'<h2>Failures</h2><ul>{failures}</ul>' if failures else ''}
<h2>Diff</h2>
<pre class="diff">{e(patch) or 'no change yet'}</pre>
<h2>Recent events</h2>
<ul>{events}</ul>"""
    return _layout(line.id, body, q)


def diff_page(run: str, step: int, patch: str, q: str = "") -> str:
    q = e(q)  # the query the page was opened with, kept in its links
    body = (f"<h1>{e(run)}: step {step:02d}</h1><p><a href=\"/runs/{e(quote(run))}{q}\">back "
            f"to {e(run)}</a></p><pre class=\"diff\">{e(patch) or 'no change'}</pre>")
    return _layout(f"{run} step {step:02d}", body, q)


def log_page(run: str, name: str, text: str, q: str = "") -> str:
    q = e(q)  # the query the page was opened with, kept in its links
    body = (f'<h1>{e(name)}</h1><p><a href="/runs/{e(quote(run))}{q}">back to {e(run)}</a>'
            f"</p><pre>{e(text)}</pre>")
    return _layout(name, body, q)


def projects_page(found: list[ProjectSummary], q: str = "", linked: bool = False) -> str:
    """`linked` (--all-projects): each name opens that project's runs."""
    token = parse_qs(q.removeprefix("?")).get("token", [""])[0]
    q = e(q)

    def name(p: ProjectSummary) -> str:
        if not linked:
            return e(p.name)
        kept = urlencode({k: v for k, v in (("token", token), ("project", p.name)) if v})
        return f'<a href="/?{e(kept)}">{e(p.name)}</a>'

    rows = "".join(
        f"<tr><td>{name(p)}</td><td>{e(p.path)}{e(' (' + p.error + ')') if p.error else ''}"
        f"</td><td>{e(p.base or '-')}</td><td>{e(', '.join(p.engines) or '-')}</td>"
        f"<td>{p.runs_active}</td><td>{p.runs_ready}</td><td>{p.runs_failed}</td></tr>"
        for p in found)
    table = ("<table><thead><tr><th>name</th><th>path</th><th>base</th><th>engines</th>"
             "<th>active</th><th>ready</th><th>failed</th></tr></thead><tbody>" + rows
             + "</tbody></table>") if rows else (
        "<p>no projects registered; add one with <code>dflow projects add PATH|URL</code></p>")
    return _layout("projects", f"<h1>Projects</h1><div class=\"scroll\">{table}</div>"
                   + ADD_PROJECT, q)


ADD_PROJECT = """<h2>Add a project</h2>
<form id="add-project">
<label>repository path or git URL <input name="source" required maxlength="4096"></label>
<label>name <input name="name" maxlength="100" placeholder="the directory's"></label>
<label>base branch <input name="base" maxlength="200" placeholder="the remote's HEAD"></label>
<label>CI platform <select name="ci"><option value="">detected</option>
<option>github</option><option>gitlab</option><option>none</option></select></label>
<label><input type="checkbox" name="ci_template"> write the CI workflow</label>
<label>default engine <input name="engine" maxlength="100"
placeholder="the first agent CLI on PATH"></label>
<label>default model <input name="model" maxlength="200" placeholder="the engine's"></label>
<label>QA policy <select name="qa_policy"><option value="">each step</option>
<option value="end">at the end</option><option value="never">never</option></select></label>
<button type="submit">add</button>
</form>
<ol id="setup-progress" aria-live="polite"></ol>"""


def metrics_page(found: Report, q: str = "") -> str:
    q = e(q)  # the query the page was opened with, kept in its links
    rows = "".join(
        f"<tr><td>{e(g.key)}</td><td>{g.steps}</td><td>{g.attempts}</td><td>{g.tokens}</td>"
        f"<td>{_cost(g.cost)}</td><td>{_rate(g.qa_pass_rate)}</td>"
        f"<td>{_rate(g.error_rate)}</td></tr>"
        for g in [*found.groups, found.total])
    table = ("<table><thead><tr><th>" + e(found.by) + "</th><th>steps</th><th>attempts</th>"
             "<th>tokens</th><th>cost</th><th>QA pass</th><th>errors</th></tr></thead><tbody>"
             + rows + "</tbody></table>")
    return _layout("metrics", f"<h1>Metrics: {e(found.project)}</h1><p>{found.runs} runs</p>"
                   f"<div class=\"scroll\">{table}</div>", q)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


STYLE = """
body { font: 16px/1.45 system-ui, sans-serif; margin: 0 auto; padding: 0 .75rem;
  max-width: 60rem; }
header { border-bottom: 1px solid; padding: .5rem 0; }
header p { margin: .25rem 0; font-size: .9rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #8888; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; border: 1px solid #8888;
  padding: .5rem; max-height: 30rem; overflow: auto; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .75rem; }
dd { margin: 0; overflow-wrap: anywhere; }
.actions { display: flex; flex-wrap: wrap; gap: .4rem; margin: .5rem 0; }
button { font: inherit; padding: .35rem .8rem; min-height: 2.5rem; }
ol.steps { padding-left: 0; list-style: none; }
li.step { border: 1px solid #8888; padding: .5rem; margin: .5rem 0; }
form label { display: block; margin: .4rem 0; }
input:not([type=checkbox]), textarea { width: 100%; box-sizing: border-box; font: inherit; }
"""

SCRIPT = r"""
"use strict";
(function () {
  const here = new URLSearchParams(location.search);
  const token = here.get("token") || "";
  const project = here.get("project");
  function api(path) {  // with --all-projects, the project this page shows
    return project ? path + (path.includes("?") ? "&" : "?") + "project=" +
      encodeURIComponent(project) : path;
  }
  const said = document.getElementById("said");
  const live = document.getElementById("live");
  function say(text) { said.textContent = text; }
  async function post(path, body) {
    const response = await fetch(api(path), {method: "POST", headers: {
      "Authorization": "Bearer " + token, "Content-Type": "application/json"},
      body: JSON.stringify(body || {})});
    let data = {};
    try { data = await response.json(); } catch (err) { data = {}; }
    if (!response.ok) {
      const message = (data.error && data.error.message) || ("HTTP " + response.status);
      throw new Error(typeof message === "string" ? message : JSON.stringify(message));
    }
    return data;
  }
  document.addEventListener("click", async function (event) {
    const button = event.target.closest("button[data-post]");
    if (!button) { return; }
    if (!window.confirm(button.dataset.confirm)) { return; }
    try {
      const data = await post(button.dataset.post);
      say("done: " + ((data.run && data.run.id) || "") + " " +
          ((data.run && data.run.status) || ""));
      refresh();
    } catch (err) { say("refused: " + err.message); }
  });
  const form = document.getElementById("new-run");
  if (form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const fields = new FormData(form);
      const body = {name: fields.get("name"), task: fields.get("task"),
                    plan: !fields.get("no_plan")};
      if (fields.get("engine")) { body.engine = fields.get("engine"); }
      if (!window.confirm("Start the run " + body.name + "?")) { return; }
      try {
        const data = await post("/api/runs", body);
        say("created " + data.id);
        form.reset();
        refresh();
      } catch (err) { say("refused: " + err.message); }
    });
  }
  const adding = document.getElementById("add-project");
  if (adding) {
    adding.addEventListener("submit", async function (event) {
      event.preventDefault();
      const fields = new FormData(adding);
      const body = {ci_template: !!fields.get("ci_template")};
      for (const key of ["source", "name", "base", "ci", "engine", "model", "qa_policy"]) {
        if (fields.get(key)) { body[key] = fields.get(key); }
      }
      if (!window.confirm("Register and set up " + body.source + "?")) { return; }
      const progress = document.getElementById("setup-progress");
      progress.textContent = "";
      function line(text) {
        const item = document.createElement("li");
        item.textContent = text;
        progress.appendChild(item);
      }
      const response = await fetch("/api/projects", {method: "POST", headers: {
        "Authorization": "Bearer " + token, "Content-Type": "application/json"},
        body: JSON.stringify(body)});
      if (!response.ok || !response.body) { line("refused: HTTP " + response.status); return; }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let rest = "";
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) { break; }
        rest += decoder.decode(chunk.value, {stream: true});
        let cut;
        while ((cut = rest.indexOf("\n")) >= 0) {
          const data = JSON.parse(rest.slice(0, cut));
          rest = rest.slice(cut + 1);
          if (data.step) {
            const s = data.step;
            line(s.project + ": " + s.step + " " + s.status + (s.detail ? " " + s.detail : ""));
          } else if (data.result) {
            line("added " + data.result.entry.name + " (" + data.result.entry.path + ")");
          } else if (data.error) {
            line("refused: " + data.error.message);
          }
        }
      }
    });
  }
  let timer = null;
  function refresh() {
    clearTimeout(timer);
    timer = setTimeout(async function () {
      const response = await fetch(location.href, {headers: {"Accept": "text/html"}});
      if (!response.ok) { return; }
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("main");
      const main = document.getElementById("main");
      const typing = document.activeElement && main.contains(document.activeElement) &&
        /^(INPUT|TEXTAREA)$/.test(document.activeElement.tagName);
      if (fresh && !typing) { main.replaceWith(fresh); }
    }, 250);
  }
  if (window.EventSource) {
    const source = new EventSource("/api/events?token=" + encodeURIComponent(token));
    source.onopen = function () { live.textContent = "live: following the state ref"; };
    source.onerror = function () { live.textContent = "live: reconnecting"; };
    source.addEventListener("dflow", function (message) {
      const event = JSON.parse(message.data);
      live.textContent = "live: " + (event.run || "") + " " + event.type;
      refresh();
    });
  }
})();
"""
