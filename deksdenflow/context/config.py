"""Effective settings: CLI flag > DFLOW_* environment > project.toml > user config > defaults."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .. import environment
from ..domain.config.settings import EngineConfig, ProjectSettings, Variant
from ..errors import ConfigError, did_you_mean
from ..store.encoding import codec
from ..store.encoding.layout import PROJECT_SOURCE as PROJECT_SOURCE  # re-exported for the faces

DEFAULTS = "defaults"


class ResolvedSettings(BaseModel):
    settings: ProjectSettings
    sources: dict[str, str]

    def source(self, key: str) -> str:
        return self.sources.get(key, DEFAULTS)


def user_config_path() -> Path:
    return Path(environment.user_config_path())


def leaf_keys(settings: ProjectSettings | None = None) -> list[str]:
    """Every dotted key a user can get or set (engine tables for the engines known)."""
    settings = settings or ProjectSettings()
    return [k for k, _ in _leaves(settings.model_dump(mode="json"), "") if k != "schema_version"]


def env_name(key: str) -> str:
    return "DFLOW_" + key.upper().replace(".", "_").replace("-", "_")


def resolve(
    project_text: str,
    *,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    user_path: Path | None = None,
    trust_dir: str | os.PathLike[str] | None = None,
) -> ResolvedSettings:
    """The effective settings; with `trust_dir` (the git dir) they also know which keys
    this machine has not trusted yet (context/settings_trust.py)."""
    env = os.environ if env is None else env
    user_path = user_path or user_config_path()
    layers: list[tuple[str, dict[str, Any]]] = [
        (DEFAULTS, ProjectSettings().model_dump(mode="json")),
    ]
    if user_path.exists():
        layers.append((f"user config {user_path}", _read_user(user_path)))
    if project_text:
        layers.append((PROJECT_SOURCE, codec.settings_doc(project_text, PROJECT_SOURCE)))
    layers.append(("environment", _env_layer(env, layers)))
    if flags:
        layers.append(("command line", _nest(dict(flags))))

    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, doc in layers:
        _merge(merged, doc)
        if source != DEFAULTS:
            for key, _ in _leaves(doc, ""):
                sources[key] = source if source != "environment" else f"environment {env_name(key)}"
    try:
        settings = ProjectSettings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(codec.describe_validation(exc, _blame(key, sources))) from exc
    if trust_dir is not None:
        settings = _with_trust(settings, sources, project_text, trust_dir)
    return ResolvedSettings(settings=settings, sources=sources)


def _with_trust(settings: ProjectSettings, sources: dict[str, str], project_text: str,
                trust_dir: str | os.PathLike[str]) -> ProjectSettings:
    from . import settings_trust  # why: start-up

    keys = settings_trust.untrusted(trust_dir, project_text)
    # A value this machine gives (its environment, a flag, the user config over the
    # defaults) is this machine's own: only what project.toml decides waits for trust.
    keys = frozenset(k for k in keys if _blame(k, sources) in (PROJECT_SOURCE, DEFAULTS))
    return settings.with_untrusted(keys) if keys else settings


def get_value(settings: ProjectSettings, key: str) -> Any:
    node: Any = settings.model_dump(mode="json")
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"unknown key '{key}'{suggest_key(key)}; `dflow config list` "
                              "shows the known keys")
        node = node[part]
    return node


def set_in_project_text(project_text: str, key: str, raw: str, *, kinds: Sequence[str]) -> str:
    """Return project.toml with `key` set to `raw` (typed by the model); comments kept.
    An engine a phase names must be configured or one of the `kinds` this dflow knows."""
    parts = key.split(".")
    if parts[0] == "schema_version" or not _is_settable(parts):
        raise ConfigError(
            f"unknown key '{key}'{suggest_key(key)} in {PROJECT_SOURCE}; `dflow config list` "
            "shows them"
        )
    import tomlkit  # why: start-up

    doc = tomlkit.parse(project_text)
    plain = codec.settings_doc(project_text, PROJECT_SOURCE)
    seeded = _seed_engine_table(plain, parts)
    _set_nested(plain, parts, _parse_raw(raw))
    try:
        validated = ProjectSettings.model_validate(plain)
    except ValidationError as exc:
        raise ConfigError(codec.describe_validation(exc, PROJECT_SOURCE)) from exc
    value = get_value(validated, key)
    if parts[0] == "phases" and value:
        check_engine_name(validated, str(value), kinds)
    if seeded:
        _set_nested_toml(doc, [*parts[:2], "kind"], parts[1])
    _set_nested_toml(doc, parts, value)
    return tomlkit.dumps(doc)


def check_engine_name(settings: ProjectSettings, name: str, kinds: Sequence[str]) -> None:
    """An engine a phase names must be configured in [engines] or be a known kind."""
    if name in settings.engines or name in kinds:
        return
    configured = ", ".join(sorted(settings.engines)) or "none"
    hint = did_you_mean(name, sorted({*settings.engines, *kinds}))
    raise ConfigError(f"no engine '{name}'{hint}: configure it first (`dflow config set "
                      f"engines.{name}.kind KIND`, kinds: {', '.join(kinds)}) "
                      f"or name one of: {configured}")


def _seed_engine_table(plain: dict[str, Any], parts: list[str]) -> bool:
    """`engines.NAME.model` for an engine with no table yet starts the table as `kind = NAME`,
    as `ProjectSettings.engine()` reads a missing one (`dflow config set engines.codex.model M`
    must work without setting the kind first)."""
    if parts[0] != "engines" or parts[2] == "kind":
        return False
    engines = plain.setdefault("engines", {})
    if parts[1] in engines:
        return False
    engines[parts[1]] = {"kind": parts[1]}
    return True


def _set_nested_toml(doc: Any, parts: list[str], value: Any) -> None:
    import tomlkit  # why: start-up

    table: Any = doc
    for part in parts[:-1]:
        if part not in table:
            table[part] = tomlkit.table()
        table = table[part]
    table[parts[-1]] = value


def suggest_key(key: str) -> str:
    """` (did you mean 'qa.policy'?)` for a near miss of a settings key."""
    parts = key.split(".")
    if parts[0] in ("engines", "variants") and len(parts) >= 3:
        table = EngineConfig if parts[0] == "engines" else Variant
        return did_you_mean(key, [".".join([*parts[:2], f]) for f in table.model_fields])
    return did_you_mean(key, list(_model_keys(ProjectSettings, "")))


def _model_keys(model: Any, prefix: str) -> Iterator[str]:
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            yield from _model_keys(kind, f"{prefix}{name}.")
        elif name not in ("schema_version", "engines", "variants"):
            yield f"{prefix}{name}"


def _is_settable(parts: list[str]) -> bool:
    """A leaf of the settings model: `section.key`, or `section.table.key` for a nested
    table (`budget.month.max_tokens`); engine tables are open-ended by name."""
    if parts[0] == "engines":
        return len(parts) >= 3 and parts[2] in EngineConfig.model_fields
    if parts[0] == "variants":
        return len(parts) == 3 and parts[2] in Variant.model_fields
    model: Any = ProjectSettings
    for i, part in enumerate(parts):
        fields = getattr(model, "model_fields", None)
        if not isinstance(fields, dict) or part not in fields:
            return False
        model = fields[part].annotation
        if i > 0 and not (isinstance(model, type) and issubclass(model, BaseModel)):
            return i == len(parts) - 1
    return False


def _parse_raw(raw: str) -> Any:
    """A TOML literal when the text is one (3, true, ["A", "B"]); otherwise the string
    (the standard library's parser first, then tomlkit, as `codec.settings_doc` reads)."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    import tomlkit  # why: start-up

    try:
        return tomlkit.parse(f"v = {raw}").unwrap()["v"]
    except Exception:
        return raw


def _read_user(path: Path) -> dict[str, Any]:
    return codec.settings_doc(path.read_text(), f"user config {path}")


def _env_layer(env: Mapping[str, str], layers: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    known: dict[str, Any] = {}
    for _, doc in layers:
        _merge(known, doc)
    out: dict[str, Any] = {}
    for key, _ in _leaves(known, ""):
        value = env.get(env_name(key))
        if value is not None:
            _set_nested(out, key.split("."), _parse_raw(value))
    if env.get("DFLOW_ENGINE"):
        _set_nested(out, ["phases", "default"], env["DFLOW_ENGINE"])
    return out


def _blame(key: str, sources: dict[str, str]) -> str:
    while key:
        if key in sources:
            return sources[key]
        key = key.rpartition(".")[0]
    return DEFAULTS


def _leaves(doc: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for k, v in doc.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            yield from _leaves(v, key + ".")
        else:
            yield key, v


def _merge(into: dict[str, Any], doc: Mapping[str, Any]) -> None:
    for k, v in doc.items():
        if isinstance(v, Mapping) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        elif isinstance(v, Mapping):
            into[k] = {}
            _merge(into[k], v)
        else:
            into[k] = v


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        if value is not None:
            _set_nested(out, key.split("."), value)
    return out


def _set_nested(doc: dict[str, Any], parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        doc = doc.setdefault(part, {})
    doc[parts[-1]] = value


def changed_settings(before: str, after: str) -> list[tuple[str, Any, Any]]:
    """(key, value before, value after) for every leaf of project.toml that differs; a key
    missing on one side has None there."""
    old = dict(_leaves(tomllib.loads(before), ""))
    new = dict(_leaves(tomllib.loads(after), ""))
    return [(k, old.get(k), new.get(k)) for k in sorted(old.keys() | new.keys())
            if old.get(k) != new.get(k)]
