"""What a run needs now: the reconciler, parallel steps, why a run waits, the notices it owes."""
