"""Where a run's protocol files live on its branch: the one owner of that path.

The folder is named after the run's branch, which a renumbering (a number clash between
clones, decision 0401) does not rename; a run whose folder was named after its id before
that rule is still found (`protocol_folders`)."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: the fast show reads PROTOCOLS_DIR before pydantic
if TYPE_CHECKING:
    from .models import ProtocolRun

PROTOCOLS_DIR = ".protocols"


def protocol_folder(run: ProtocolRun) -> str:
    """`.protocols/NNNN-name`, named after the branch."""
    return f"{PROTOCOLS_DIR}/{run.branch or run.id}"


def protocol_folders(run: ProtocolRun) -> list[str]:
    """Where to look for a run's files: its folder, then one named after its id."""
    return folders_of(run.branch, run.id)


def folders_of(branch: str, run_id: str) -> list[str]:
    """`protocol_folders` of the run with this branch and NNNN-name."""
    return [f"{PROTOCOLS_DIR}/{name}" for name in dict.fromkeys((branch, run_id)) if name]
