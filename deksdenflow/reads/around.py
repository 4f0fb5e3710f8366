"""What every fast read does around its answer, as the root callback of `cli/app.py` does
around a command: the check of the `DFLOW_*` variables, the implicit sync (only when the git
config names a remote; sync/seen.py: nothing heavy while nothing moved), the tip the store
checked, and the fall-back to the full command on anything unexpected (decisions 1301, 1310).

The face gives the answer's body, how to build the sync policy (the composition root's,
which this floor may not import) and where its text and notes go.
"""

from __future__ import annotations

import os
import sys

from ..errors import DflowError
from . import gitdir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..sync.auto import AutoSync
    from ..sync.seen import Deferred

    Sync = AutoSync | Deferred

# What a fast path's reading may raise on state it does not expect: the regular command
# then answers (and words any real problem as one sentence).
FALLBACK_ERRORS = (DflowError, OSError, ValueError, KeyError, TypeError, IndexError,
                   AttributeError)


def run(command: str, body: Callable[[str, str], str | None], common: str | None,
        make: Callable[[], AutoSync], write: Callable[[str], None],
        say: Callable[[list[str]], None]) -> bool:
    """Around `body` what the root callback does around a command. `body(git dir, tip)` gets
    the tip as it is after the implicit sync, and returns the text to print (it may have
    printed before it, once sure), or None to leave the command to Typer. False: the
    command must answer."""
    from .. import environment

    common = common or gitdir.common_dir_of(os.getcwd())
    if common is None:
        return False
    try:
        environment.check_all()
    except DflowError:
        return False  # the root callback says which variable is wrong
    sync = None
    if gitdir.may_have_remote(common):  # as cli/app.py's root callback does
        sync = implicit_sync(common, command, make)
        if sync is not None:
            say(sync.take_notes())
    tip = gitdir.checked_tip(common)
    # what every fast read's object reader may raise
    from ..store.plumbing.objects import Unreadable

    try:
        text = body(common, tip) if tip is not None else None
    except BrokenPipeError:
        raise  # `dflow show RUN | head`: main() ends quietly; answering again would not help
    except (*FALLBACK_ERRORS, Unreadable):
        text = None  # an object store the pure-Python reader gives up on: libgit2's path
    if text is None:
        return False
    write(text)
    if sync is not None:
        sync.after_command()
        say(sync.take_notes())
        if "pydantic" in sys.modules and "pygit2" in sys.modules:
            # The whole implicit sync ran (a fetch was merged): end now, as the controls do
            # (decision 1315): nothing is left to run at exit, and freeing every object
            # pydantic and pygit2 made is a tenth of the read (decision 1611).
            sys.stderr.flush()
            os._exit(0)
    return True


def implicit_sync(common: str, command: str, make: Callable[[], AutoSync]) -> Sync | None:
    """The implicit sync before `command` (sync/seen.py: nothing heavy while nothing moved)."""
    from ..sync import seen

    return seen.implicit(common, command, make)
