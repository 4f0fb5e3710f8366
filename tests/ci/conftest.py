from tests.sync.conftest import clone, daemon, remote  # noqa: F401  (shared fixtures)
