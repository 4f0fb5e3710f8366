"""Widgets the console's screens share: the runs table and the diff view."""
