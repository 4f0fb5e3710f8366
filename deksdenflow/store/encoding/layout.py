"""Where things live in the state tree.

    project.toml                                  human-edited settings (TOML)
    meta.json                                     schema_version + Lamport clock
    runs/<uid[:5]>/<uid>/run.json                 derived snapshot: run + steps + jobs
    runs/<uid[:5]>/<uid>/events/<id[:7]>/<id>.json   one immutable event per file
    runs/<uid[:5]>/<uid>/artifacts/<name>         transcripts, QA reports (capped)
    events/<id[:7]>/<id>.json                     events that belong to no run
    jobs/open/<job-id>.json                       derived index of requested/claimed jobs

Run and event directories fan out by the leading (time) characters of their ULIDs, so no
tree grows without bound: a run bucket spans ~9 hours, an event bucket ~33 seconds.
"""

from __future__ import annotations

STATE_REF = "refs/deksdenflow/state"
TRACKING_PREFIX = "refs/deksdenflow/remotes/"  # + "<remote>/state": what `git fetch` brought
PROJECT_FILE = "project.toml"
PROJECT_SOURCE = f"{PROJECT_FILE} on {STATE_REF}"  # where a setting came from, as config names it
META_FILE = "meta.json"
RUNS_DIR = "runs"
ROOT_EVENTS_DIR = "events"
OPEN_JOBS_DIR = "jobs/open"

RUN_BUCKET_CHARS = 5
EVENT_BUCKET_CHARS = 7


def run_dir(uid: str) -> str:
    return f"{RUNS_DIR}/{uid[:RUN_BUCKET_CHARS]}/{uid}"


def run_snapshot_path(uid: str) -> str:
    return f"{run_dir(uid)}/run.json"


def events_dir(run_uid: str | None) -> str:
    return f"{run_dir(run_uid)}/events" if run_uid else ROOT_EVENTS_DIR


def event_path(run_uid: str | None, event_id: str) -> str:
    return f"{events_dir(run_uid)}/{event_id[:EVENT_BUCKET_CHARS]}/{event_id}.json"


def open_job_path(job_id: str) -> str:
    return f"{OPEN_JOBS_DIR}/{job_id}.json"


def artifact_path(run_uid: str, name: str) -> str:
    return f"{run_dir(run_uid)}/artifacts/{name}"
