"""`dflow project show` and `dflow config get|set|list`."""

from __future__ import annotations

import json

import typer

from ...context import config
from ...reads.project import override_lines
from ...wiring import open_project
from ..render import JSON_OPTION, console, emit_json
from . import project_fast

project_app = typer.Typer(help="The project's settings on the state ref.", no_args_is_help=True)
config_app = typer.Typer(help="Read and change settings (project.toml on the state ref).",
                         no_args_is_help=True)


@project_app.command("show")
def project_show(json_: bool = JSON_OPTION) -> None:
    """Show the effective project settings and where each came from.

    Example: dflow project show --json
    """
    project = open_project()
    view = project.view()
    resolved = project.resolved(view)
    if json_:
        emit_json({"settings": resolved.settings.model_dump(mode="json"),
                   "sources": resolved.sources, "state_tip": view.tip})
        return
    out = console()
    # TOML is never wrapped (soft_wrap): `dflow project show | tomllib` must parse.
    out.print(project_fast.header(str(view.tip)), markup=False, soft_wrap=True)
    out.print(view.project_text().rstrip(), markup=False, highlight=False, soft_wrap=True)
    overridden = override_lines(resolved)
    if overridden:
        out.print("\n" + project_fast.OVERRIDDEN, markup=False)
        for line in overridden:
            out.print(line, markup=False, soft_wrap=True)


@config_app.command("get")
def config_get(key: str = typer.Argument(..., help="Dotted key, e.g. qa.policy."),
               json_: bool = JSON_OPTION) -> None:
    """Print the effective value of one setting.

    Example: dflow config get qa.policy
    """
    resolved = open_project().resolved()
    value = config.get_value(resolved.settings, key)
    if json_:
        emit_json({"key": key, "value": value, "source": resolved.source(key)})
    else:
        typer.echo(value if isinstance(value, str) else json.dumps(value))


@config_app.command("set")
def config_set(key: str = typer.Argument(..., help="Dotted key, e.g. qa.policy."),
               value: str = typer.Argument(..., help="New value (TOML literal or text).")) -> None:
    """Change a setting in project.toml on the state ref (one commit; comments kept).

    Example: dflow config set qa.policy end
    """
    project = open_project()
    project.set_settings({key: value}, message=f"dflow: config set {key}")
    typer.echo(f"{key} = {json.dumps(config.get_value(project.settings(), key))}")


@config_app.command("list")
def config_list(json_: bool = JSON_OPTION) -> None:
    """List every setting with its effective value and source.

    Example: dflow config list --json
    """
    resolved = open_project().resolved()
    rows = [
        {"key": k, "value": config.get_value(resolved.settings, k), "source": resolved.source(k),
         "env": config.env_name(k)}
        for k in config.leaf_keys(resolved.settings)
    ]
    if json_:
        emit_json(rows)
        return
    for row in rows:
        typer.echo(f"{row['key']} = {json.dumps(row['value'])}  ({row['source']})")


def register(app: typer.Typer) -> None:
    app.add_typer(project_app, name="project")
    app.add_typer(config_app, name="config")
