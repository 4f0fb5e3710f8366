"""CI: reports from CI jobs back to protocol runs, PR/MR opening, CI templates, fix-CI jobs."""
