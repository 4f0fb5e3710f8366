"""Exponential backoff with full jitter: the one rule for every retry in dflow (a failed job,
a rejected push). Pure: the random source is a parameter."""

from __future__ import annotations

import random


def delay(attempt: int, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number `attempt` (1 = the first retry): uniform in
    [0, min(max_s, base_s * 2**(attempt - 1))]; 0 when the ceiling is 0."""
    ceiling = min(max_s, base_s * (2 ** max(attempt - 1, 0)))
    return (rng or random).uniform(0, ceiling) if ceiling > 0 else 0.0
