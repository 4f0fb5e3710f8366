"""The redaction pass: milliseconds per MB of a Codex-style `--json` transcript. Figures, not a
test.

    .venv/bin/python benchmarks/redaction.py [--mb 1] [--reps 5]

Two transcripts: ordinary agent messages (JSON lines with escaped newlines and tabs), and the
worst case in which every line holds the trigger literal of every pattern (so every pattern
runs, on the text and on its escape-blanked copy). Best of --reps runs each.
"""

from __future__ import annotations

import argparse
import json
import random
import time

from deksdenflow.domain.agents.redaction import redact, secret_values

WORDS = ("the", "step", "writes", "a", "function", "that", "reads", "config", "and", "returns",
         "the", "parsed", "value", "with", "tests")
TRIGGERS = " input_tokens sk-x ghp_ eyJ xox AKIA hf_ npm_ SG. https://x PRIVATE KEY bearer"


def transcript(mb: float, extra: str) -> str:
    rng, lines, size = random.Random(1), [], 0
    while size < mb * 1_000_000:
        text = " ".join(rng.choice(WORDS) for _ in range(30)) + extra
        line = json.dumps({"type": "item.completed", "item": {
            "type": "agent_message", "text": f"{text}\nsrc/app.py:12: ok\t{text}"}})
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)


def best_ms(text: str, reps: int) -> float:
    secrets = secret_values()
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        redact(text, secrets)
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1.0)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    for name, extra in (("ordinary", ""), ("every pattern triggered", TRIGGERS)):
        ms = best_ms(transcript(args.mb, extra), args.reps) / args.mb
        print(f"redact, {name} transcript: {ms:.0f} ms per MB")


if __name__ == "__main__":
    main()
