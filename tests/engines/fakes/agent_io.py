"""What the fake agent executables share: their call record and their per-call script.

The fakes are copied into a temp bin dir as executables; `install_fake` puts this folder on
their `sys.path` so they import this module from here.
"""

import json
import os
import sys
from pathlib import Path


def save_record(record):
    """The last call in $FAKE_AGENT_RECORD, every call appended to $FAKE_AGENT_RECORD.all."""
    path = Path(os.environ["FAKE_AGENT_RECORD"])
    path.write_text(json.dumps(record))
    with open(f"{path}.all", "a") as calls:
        calls.write(json.dumps(record) + "\n")


def load_script():
    """The behaviour for this call: with a `queue`, each call takes (and removes) the next."""
    path = Path(os.environ["FAKE_AGENT_SCRIPT"])
    script = json.loads(path.read_text())
    queue = script.pop("queue", None)
    if queue is None:
        return script
    if not queue:
        print(f"fake {Path(sys.argv[0]).name}: called more often than scripted", file=sys.stderr)
        sys.exit(70)
    path.write_text(json.dumps({**script, "queue": queue[1:]}))
    return {**script, **queue[0]}
