"""An agent that prints a gigabyte, or writes one into its output file, costs dflow what the
head and the tail it keeps cost: its own peak (VmHWM of the probe process) stays under 300 MB."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

GIB = 1 << 30
PEAK_MB = 300

_FLOOD = """
import sys
chunk = (b"noise " * 11 + b"line\\n") * 14563  # ~1 MiB of lines
target = open(sys.argv[2], "wb") if len(sys.argv) > 2 else sys.stdout.buffer
for _ in range(int(sys.argv[1]) >> 20):
    target.write(chunk)
target.write(b"the end\\n")
"""

# Runs the command engine as a step would, then keeps the transcript as the store does;
# VmHWM is this program's own peak (ru_maxrss would count the test process it forked from).
_PROBE = """
import json, sys
from pathlib import Path
from deksdenflow.domain.agents.redaction import redact
from deksdenflow.domain.config.settings import EngineConfig
from deksdenflow.engines.base import EngineRequest
from deksdenflow.engines.registry import get_engine
engine = get_engine("flood", EngineConfig(kind="command", options={"command": sys.argv[1]}))
result = engine.run(EngineRequest(prompt="go\\n", cwd=Path(sys.argv[2]), sandbox="read-only",
                                  phase="execute", timeout_s=120))
kept = redact(result.transcript)
peak = next(int(line.split()[1]) for line in open("/proc/self/status")
            if line.startswith("VmHWM:"))
print(json.dumps({"peak_mb": peak >> 10, "output": len(result.output),
                  "tail": result.output.rstrip().endswith("the end"), "kept": len(kept)}))
"""


@pytest.mark.parametrize("where", ["stdout", "output file"])
def test_a_gigabyte_of_agent_output_costs_dflow_under_300_mb(tmp_path: Path, where: str) -> None:
    flood = tmp_path / "flood.py"
    flood.write_text(_FLOOD)
    size = GIB if where == "stdout" else GIB // 2  # a file on disk: half as much, same point
    command = f"{sys.executable} {flood} {size}" + (" {output_file}" if where != "stdout" else "")

    done = subprocess.run([sys.executable, "-c", _PROBE, command, str(tmp_path)],
                          capture_output=True, text=True, timeout=180)

    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout)
    assert found["peak_mb"] < PEAK_MB, found
    assert found["tail"]  # the tail is kept: the agent's last words survive
    assert found["output"] < 20 << 20  # head and tail, not the gigabyte


def test_an_agent_that_closes_its_output_and_runs_on_still_times_out(tmp_path: Path) -> None:
    from deksdenflow.engines.process import run_process
    from deksdenflow.errors import EngineTimeout

    script = "exec >/dev/null 2>&1; sleep 30"  # pipes closed at once, the process runs on
    with pytest.raises(EngineTimeout):
        run_process(["sh", "-c", script], engine="e", cwd=tmp_path, timeout_s=1.5)
