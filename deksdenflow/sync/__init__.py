"""Sharing the state ref: fetch, merge, push, leases and protocol numbers on the remote."""
