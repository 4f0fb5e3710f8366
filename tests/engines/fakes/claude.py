"""A stand-in for `claude -p --output-format stream-json --verbose`: parses Claude Code's flags,
reads the prompt from stdin, applies its permission rules to the file writes it is scripted to
make, and prints what Claude Code prints: the `system/init` message (saying whether the sandbox
of `--settings` is on) first and the result object last.

Behaviour comes from the JSON file named by $FAKE_AGENT_SCRIPT; what it was called with goes
to $FAKE_AGENT_RECORD. An unknown flag is a usage error (exit 2).
"""

import argparse
import json
import os
import sys
from pathlib import Path

from agent_io import load_script, save_record

MODES = ["acceptEdits", "auto", "bypassPermissions", "default", "dontAsk", "plan"]  # 2.1.197


def parse(argv):
    parser = argparse.ArgumentParser(prog="claude", exit_on_error=False, allow_abbrev=False)
    parser.add_argument("-p", "--print", action="store_true")
    parser.add_argument("--output-format", choices=["text", "json", "stream-json"])
    parser.add_argument("--model")
    parser.add_argument("--permission-mode", choices=MODES)
    parser.add_argument("--allowedTools", "--allowed-tools", nargs="+", default=[])
    parser.add_argument("--disallowedTools", "--disallowed-tools", nargs="+", default=[])
    parser.add_argument("--json-schema")
    parser.add_argument("--append-system-prompt")
    parser.add_argument("--max-budget-usd", type=float)
    parser.add_argument("--settings")
    parser.add_argument("--setting-sources")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("prompt", nargs="?")
    return parser.parse_args(argv)


def tools(values):
    return {t.strip() for v in values for t in v.split(",") if t.strip()}


def may_write(args, name):
    allowed, denied = tools(args.allowedTools), tools(args.disallowedTools)
    if args.permission_mode == "bypassPermissions" or "Write" in denied:
        return "Write" not in denied
    # acceptEdits: edits inside the working directory only; `Write` allowed by name: anywhere.
    inside = Path(name).resolve().is_relative_to(Path.cwd().resolve())
    return "Write" in allowed or (args.permission_mode == "acceptEdits" and inside)


def main():
    try:
        args = parse(sys.argv[1:])
    except (argparse.ArgumentError, SystemExit) as exc:
        print(f"error: unknown option: {exc}", file=sys.stderr)
        return 2
    if not args.print or args.output_format != "stream-json" or not args.verbose:
        print("fake claude: dflow must pass -p --output-format stream-json --verbose",
              file=sys.stderr)
        return 64
    prompt = sys.stdin.read() if args.prompt is None else args.prompt
    script = load_script()
    settings = json.loads(Path(args.settings).read_text()) if args.settings else {}
    save_record({"argv": sys.argv[1:], "prompt": prompt, "cwd": os.getcwd(),
                 "settings": settings, "env": {k: v for k, v in os.environ.items()
                                               if k.startswith("CLAUDE_")}})
    sandbox = settings.get("sandbox", {})
    if script.get("sandbox_unavailable") and sandbox.get("failIfUnavailable"):
        print("Error: sandbox required but unavailable: sandbox is enabled but dependencies are "
              "missing: bubblewrap (bwrap) not installed", file=sys.stderr)
        return 1
    enabled = bool(sandbox.get("enabled")) and not script.get("sandbox_unavailable")
    init = {"type": "system", "subtype": "init", "cwd": os.getcwd(), "model": args.model,
            "permissionMode": args.permission_mode, "claude_code_version": "2.1.337"}
    if not script.get("no_sandbox_report"):
        init["sandbox_enabled"] = enabled
    print(json.dumps(init))
    if script.get("sandbox_broke"):
        result = {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True,
                  "content": "Sandbox is required but failed to initialize: Failed to create "
                             "bridge sockets after 5 attempts."}
        print(json.dumps({"type": "user", "message": {"role": "user", "content": [result]}}))
    denials = []
    for name, text in script.get("write", {}).items():
        if may_write(args, name):
            Path(name).write_text(text)
        else:
            denials.append({"tool_name": "Write", "tool_input": {"file_path": name}})
    reply = {
        "type": "result",
        "subtype": script.get("subtype", "success"),
        "is_error": bool(script.get("is_error", False)),
        "duration_ms": 1200,
        "num_turns": 2,
        "result": script.get("result", "done"),
        "session_id": "4c1d6a2e-0000-4000-8000-000000000000",
        "total_cost_usd": script.get("cost", 0.0123),
        "usage": script.get("usage", {"input_tokens": 0, "output_tokens": 0}),
        "modelUsage": {args.model or "claude-sonnet-4-5": {"inputTokens": 0}},
        "permission_denials": denials,
    }
    if args.json_schema and "structured" in script:
        reply["structured_output"] = script["structured"]
    if script.get("no_result"):
        del reply["result"]
    print(json.dumps(reply))
    return int(script.get("exit", 1 if reply["is_error"] else 0))


sys.exit(main())
