"""Running `dflow serve`: a loopback socket by default, uvicorn with bounded requests and no
access log (a page's URL may carry the token, and secrets never enter a log)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from types import FrameType

from . import access, ops
from .app import build

CONCURRENCY = 64  # open connections beyond this are answered 503 at once
KEEP_ALIVE_S = 5
GRACEFUL_S = 3  # open event streams do not hold up Ctrl-C for long
HEADER_MAX = 16 * 1024  # h11's limit on an incomplete request head


def listen(host: str, port: int) -> socket.socket:
    """The bound socket (port 0: one the system picks), so the URL printed is the real one."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(face: ops.Face, host: str, port: int, say: Callable[[str], None]) -> None:
    """Serve until interrupted; `say` gets the URL and where the token came from."""
    import uvicorn  # why: start-up

    access.check_host(host)
    git_dir = face.project().store.git_dir
    token, source = access.token_for(git_dir)
    sock = listen(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    url = f"http://{shown}:{bound}/"
    if source == "env":
        say(f"dflow serve: {url} (token: DFLOW_SERVE_TOKEN; open {url}?token=<token>)")
    else:
        say(f"dflow serve: {url}?token={token}")
        say(f"the token is kept in {git_dir / access.TOKEN_FILE} (mode 0600); set "
            "DFLOW_SERVE_TOKEN to choose one")
    say("Ctrl-C stops it")
    app = build(face, token)
    config = uvicorn.Config(app, log_level="warning", access_log=False,
                            server_header=False, limit_concurrency=CONCURRENCY,
                            timeout_keep_alive=KEEP_ALIVE_S,
                            timeout_graceful_shutdown=GRACEFUL_S,
                            h11_max_incomplete_event_size=HEADER_MAX, lifespan="on")
    server = uvicorn.Server(config)
    plain_exit = server.handle_exit

    def handle_exit(sig: int, frame: FrameType | None) -> None:
        app.state.hub.end_streams()  # open event streams would hold up the shutdown
        plain_exit(sig, frame)

    server.handle_exit = handle_exit  # type: ignore[method-assign]
    server.run(sockets=[sock])
