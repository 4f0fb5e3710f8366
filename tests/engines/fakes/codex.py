"""A stand-in for `codex exec`: parses the same flags, reads the prompt from stdin, prints the
`--json` event stream and writes `--output-last-message` the way Codex CLI 0.169 does.

Behaviour comes from the JSON file named by $FAKE_AGENT_SCRIPT; what it was called with goes
to $FAKE_AGENT_RECORD. An unknown flag is a usage error (exit 2), as with the real CLI.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from agent_io import load_script, save_record


def parse(argv):
    parser = argparse.ArgumentParser(prog="codex", exit_on_error=False, allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("exec", exit_on_error=False, allow_abbrev=False)
    ex.add_argument("--json", action="store_true")
    ex.add_argument("-m", "--model")
    ex.add_argument(
        "-s", "--sandbox", choices=["read-only", "workspace-write", "danger-full-access"]
    )
    ex.add_argument("-C", "--cd")
    ex.add_argument("--skip-git-repo-check", action="store_true")
    ex.add_argument("--output-schema")
    ex.add_argument("-o", "--output-last-message")
    ex.add_argument("-c", "--config", action="append", default=[])
    ex.add_argument("--ephemeral", action="store_true")
    ex.add_argument("prompt", nargs="?")
    return parser.parse_args(argv)


def emit(event):
    print(json.dumps(event), flush=True)


def main():
    try:
        args = parse(sys.argv[1:])
    except (argparse.ArgumentError, SystemExit) as exc:
        print(f"error: unexpected argument: {exc}", file=sys.stderr)
        return 2
    prompt = sys.stdin.read() if args.prompt in (None, "-") else args.prompt
    script = load_script()
    schema = json.loads(Path(args.output_schema).read_text()) if args.output_schema else None
    record = {
        "argv": sys.argv[1:],
        "prompt": prompt,
        "cwd": os.getcwd(),
        "schema": schema,
        "env": {k: v for k, v in os.environ.items() if k.startswith("FAKE_ENV_")},
    }
    save_record(record)
    if not args.json:
        print("fake codex: dflow must pass --json", file=sys.stderr)
        return 64
    root = Path(args.cd or os.getcwd())
    emit({"type": "thread.started", "thread_id": "0199a213-81c0-7800-8aa1-bbab2a035a53"})
    emit({"type": "turn.started"})
    if script.get("hang"):
        emit({"type": "error", "message": "Reconnecting... waiting for network"})
        child = subprocess.Popen(["sleep", "300"])
        Path(script["hang"]).write_text(str(child.pid))
        time.sleep(300)
    for name, text in script.get("write", {}).items():
        change(root, args.sandbox, name, text)
    for command in script.get("shell", []):
        # What an agent's shell tool would run (hostile tests: hooks, git update-ref, ...).
        done = subprocess.run(command, shell=True, cwd=root, capture_output=True, text=True)
        emit({"type": "item.completed", "item": {
            "id": "item_s", "type": "command_execution", "command": command,
            "exit_code": done.returncode, "aggregated_output": done.stdout + done.stderr}})
    if script.get("fail"):
        emit({"type": "error", "message": "stream disconnected; retrying 1/1"})
        body = {"error": {"message": script["fail"], "type": "invalid_request_error"}}
        emit({"type": "turn.failed", "error": {"message": json.dumps(body)}})
        return 1
    message = script.get("message", "done")
    emit(
        {
            "type": "item.completed",
            "item": {"id": "item_1", "type": "agent_message", "text": message},
        }
    )
    emit(
        {
            "type": "turn.completed",
            "usage": script.get(
                "usage", {"input_tokens": 0, "cached_input_tokens": 0, "output_tokens": 0}
            ),
        }
    )
    if args.output_last_message and not script.get("no_last_message"):
        Path(args.output_last_message).write_text(message)
    if script.get("stderr"):
        print(script["stderr"], file=sys.stderr)
    return int(script.get("exit", 0))


def change(root, sandbox, name, text):
    """A file change, allowed only where Codex's sandbox would allow it."""
    item = {"id": "item_0", "type": "command_execution", "command": f"write {name}"}
    if sandbox in ("workspace-write", "danger-full-access"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
        emit({"type": "item.completed", "item": {**item, "exit_code": 0, "status": "completed"}})
    else:
        emit(
            {
                "type": "item.completed",
                "item": {
                    **item,
                    "exit_code": 1,
                    "status": "failed",
                    "aggregated_output": "Read-only file system",
                },
            }
        )


sys.exit(main())
