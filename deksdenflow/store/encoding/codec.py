"""Bytes on the ref <-> models, with schema-version checks and migrations on read."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ...domain.agents.nesting import MAX_DEPTH, too_deep
from ...domain.config.settings import SETTINGS_SCHEMA_VERSION, ProjectSettings
from ...domain.eventlog.events import EVENT_SCHEMA_VERSION, Event
from ...domain.eventlog.payloads import PAYLOADS
from ...domain.runs.models import SNAPSHOT_SCHEMA_VERSION, Job, RunSnapshot
from ...errors import ConfigError, NewerSchema, StateCorrupt
from .layout import STATE_REF
from .migrations import event_v1_to_v2

META_SCHEMA_VERSION = 1

CURRENT_VERSIONS: dict[str, int] = {
    "event": EVENT_SCHEMA_VERSION,
    "snapshot": SNAPSHOT_SCHEMA_VERSION,
    "job": SNAPSHOT_SCHEMA_VERSION,
    "meta": META_SCHEMA_VERSION,
    "settings": SETTINGS_SCHEMA_VERSION,
}

Migration = Callable[[dict[str, Any]], dict[str, Any]]
# MIGRATIONS[kind][n] turns a version-n document into a version-(n+1) one. Each entry
# must come with a test that feeds it a real document of the old version.
MIGRATIONS: dict[str, dict[int, Migration]] = {kind: {} for kind in CURRENT_VERSIONS}
MIGRATIONS["event"][1] = event_v1_to_v2

M = TypeVar("M", bound=BaseModel)


def upgrade(kind: str, doc: dict[str, Any], where: str) -> dict[str, Any]:
    """Bring `doc` to the current schema version, or refuse a version from the future.

    `where` names the document fully (e.g. "meta.json on refs/deksdenflow/state" or
    "user config ~/.config/dflow/config.toml"); it is used as is in every message."""
    current = CURRENT_VERSIONS[kind]
    version = doc.get("schema_version", 1)
    if not isinstance(version, int):
        raise StateCorrupt(f"{where} has a non-integer schema_version")
    if version > current:
        raise NewerSchema(
            f"{where} was written by a newer dflow (schema {version}, this dflow "
            f"knows {current}); upgrade dflow before using this repository"
        )
    while version < current:
        step = MIGRATIONS[kind].get(version)
        if step is None:
            raise StateCorrupt(f"{where}: no migration from {kind} schema {version}")
        doc = step(dict(doc))
        version += 1
        doc["schema_version"] = version
    return doc


def dump(model: BaseModel) -> bytes:
    return model.model_dump_json().encode()


def load_json(data: bytes, path: str) -> dict[str, Any]:
    if too_deep(data):  # json.loads would recurse into it and crash (store/encoding/incoming.py)
        raise StateCorrupt(f"{path} on {STATE_REF} nests deeper than {MAX_DEPTH} levels, "
                           "which dflow never writes; run `dflow doctor`")
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StateCorrupt(
            f"{path} on {STATE_REF} is not valid JSON ({exc}); "
            f"see its history with `git log -p {STATE_REF} -- {path}` and restore it"
        ) from exc
    if not isinstance(doc, dict):
        raise StateCorrupt(f"{path} on {STATE_REF} is not a JSON object; run `dflow doctor`")
    return doc


def _validate(model: type[M], kind: str, data: bytes, path: str) -> M:
    if data.startswith(b'{"schema_version":%d,' % CURRENT_VERSIONS[kind]):
        # What this dflow writes itself: validate straight from the bytes (pydantic's own
        # JSON parser, ~2x faster). Anything else takes the checked path below.
        try:
            return model.model_validate_json(data)
        except ValidationError:
            pass  # re-parsed below for the precise error message
    doc = upgrade(kind, load_json(data, path), f"{path} on {STATE_REF}")
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise StateCorrupt(
            f"{path} on {STATE_REF} does not match its schema ({where}: {first['msg']}); "
            "run `dflow doctor`"
        ) from exc


def load_event(data: bytes, path: str) -> Event:
    """One stored event; data that fails its type's payload model is StateCorrupt."""
    try:
        return _validate(Event, "event", data, path)
    except StateCorrupt as exc:
        if isinstance(exc.__cause__, ValidationError):
            raise StateCorrupt(_bad_event(data, path, exc.__cause__)) from exc.__cause__
        raise


def _bad_event(data: bytes, path: str, exc: ValidationError) -> str:
    """One sentence naming the event, its type and the first field its model refuses."""
    doc = json.loads(data)
    name = f"event {doc.get('id') or path.rsplit('/', 1)[-1].removesuffix('.json')}"
    kind = doc.get("type")
    if isinstance(kind, str) and kind in PAYLOADS:
        name = f"{kind} {name}"
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "event"
    return (f"{name} ({path} on {STATE_REF}) does not match its schema "
            f"({where}: {first['msg'][:120]}); run `dflow doctor`")


def load_snapshot(data: bytes, path: str) -> RunSnapshot:
    return _validate(RunSnapshot, "snapshot", data, path)


def load_job(data: bytes, path: str) -> Job:
    doc = upgrade("job", load_json(data, path), f"{path} on {STATE_REF}")
    doc.pop("schema_version", None)
    try:
        return Job.model_validate(doc)
    except ValidationError as exc:
        raise StateCorrupt(f"{path} on {STATE_REF} is not a valid job; run `dflow doctor`") from exc


def dump_job(job: Job) -> bytes:
    doc = {"schema_version": CURRENT_VERSIONS["job"], **job.model_dump(mode="json")}
    return json.dumps(doc).encode()


def dump_meta(lamport: int) -> bytes:
    return json.dumps({"schema_version": META_SCHEMA_VERSION, "lamport": lamport}).encode()


def load_meta(data: bytes, path: str) -> int:
    doc = upgrade("meta", load_json(data, path), f"{path} on {STATE_REF}")
    lamport = doc.get("lamport", 0)
    if not isinstance(lamport, int):
        raise StateCorrupt(f"{path} on {STATE_REF} has a non-integer lamport clock")
    return lamport


def settings_doc(text: str, path: str) -> dict[str, Any]:
    """Parse project.toml into plain data.

    Reading takes the standard library's parser (tomlkit, which keeps the text for
    comment-safe edits, costs ~6 ms to import and ~5x as much per parse); a document it
    refuses goes to tomlkit, whose answer — the data, or the error told — is what it always
    was (docs/decisions/1318-settings-read-with-tomllib.md)."""
    try:
        doc: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        import tomlkit  # why: start-up

        try:
            doc = tomlkit.parse(text).unwrap()
        except Exception as exc:  # tomlkit raises several unrelated types
            raise ConfigError(f"{path} is not valid TOML ({exc}); fix it and run again") from exc
    return upgrade("settings", doc, path)


def load_settings(text: str, path: str) -> ProjectSettings:
    doc = settings_doc(text, path)
    try:
        return ProjectSettings.model_validate(doc)
    except ValidationError as exc:
        raise ConfigError(describe_validation(exc, path)) from exc


def describe_validation(exc: ValidationError, path: str) -> str:
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    if first["type"] == "extra_forbidden":
        return f"unknown key '{key}' in {path}; `dflow config list` shows the known keys"
    # A section's own rule (a model validator) already names its keys in a sentence.
    msg = str(first["msg"]).removeprefix("Value error, ")
    return f"bad value for '{key}' in {path}: {msg}"
