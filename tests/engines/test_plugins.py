"""Third-party engines: a real installed distribution with a `deksdenflow.engines` entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = '''
from deksdenflow.domain.runs.models import Usage
from deksdenflow.engines.base import EngineResult


class EchoEngine:
    """Answers with the prompt reversed; proves dflow built it with its name and config."""

    def __init__(self, name, config, **extra):
        self.name = name
        self.config = config

    def run(self, request):
        text = request.prompt[::-1] + "|" + self.name + "|" + self.config.model
        return EngineResult(output=text, usage=Usage(input_tokens=3), model=self.config.model)
'''

PROBE = """
import json, pathlib
from deksdenflow.domain.config.settings import EngineConfig
from deksdenflow.engines.base import EngineRequest
from deksdenflow.engines.registry import get_engine, kinds
engine = get_engine("mine", EngineConfig(kind="echo", model="e-1"))
result = engine.run(EngineRequest(prompt="abc", cwd=pathlib.Path("."), sandbox="read-only",
                                  phase="plan"))
print(json.dumps({"kinds": kinds(), "output": result.output, "tokens": result.usage.total}))
"""


def install_plugin(site: Path) -> None:
    """What `pip install dflow-echo` would leave behind: a module and its dist-info."""
    site.mkdir(exist_ok=True)
    (site / "dflow_echo.py").write_text(PLUGIN)
    info = site / "dflow_echo-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dflow-echo\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[deksdenflow.engines]\necho = dflow_echo:EchoEngine\n")


def probe(site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=60
    )


def test_an_installed_plugin_engine_is_found_by_kind_and_runs(tmp_path: Path) -> None:
    install_plugin(tmp_path / "site")

    out = probe(tmp_path / "site")

    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert "echo" in found["kinds"] and "codex" in found["kinds"]
    assert found["output"] == "cba|mine|e-1"
    assert found["tokens"] == 3


def test_without_the_plugin_the_kind_is_unknown_and_the_error_says_so(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()

    out = probe(tmp_path / "site")

    assert out.returncode == 1
    assert "unknown engine kind 'echo' for engine 'mine'" in out.stderr
    assert "--engine demo" in out.stderr


def test_a_plugin_installed_while_dflow_runs_is_listed(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The kinds are cached (listing entry points reads every installed distribution), but
    not past an install: a new distribution's folder changes its site folder."""
    from deksdenflow.engines.registry import kinds

    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    assert "echo" not in kinds() and kinds() == kinds()
    install_plugin(site)
    assert "echo" in kinds()
