from tests.sync.conftest import clone, daemon, remote  # noqa: F401  (shared fixtures)
from tests.workflow.conftest import new_run  # noqa: F401  (runs through the demo engine)
