"""`dflow serve`'s HTTP API and pages (FastAPI): a stateless view over the state ref and the
CLI's own service calls (web/ops.py). Imported only by `dflow serve`, never at CLI start-up.

Security (docs/web.md): every path but `/api/health` needs the bearer token, compared in
constant time; `?token=` is accepted only where a browser cannot send a header (the pages and
the event stream); no CORS headers, so another site's page cannot call the API with a token it
does not have; request bodies are bounded; pages are served with a CSP that runs only the
server's own script, and every agent-written text on them is escaped.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations, some of
# them local to build().

import asyncio
import json
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from .. import __version__
from ..context.project import Project
from ..crash import write_crash_log
from ..errors import DflowError
from ..observe.feed import FeedEvent
from ..observe.report import Report
from ..projects.overview import ProjectSummary
from ..workflow.delivery.diffs import Diff
from ..workflow.lifecycle.detail import RunDetail
from ..workflow.lifecycle.runs import RunLine, StatusReport
from . import access, ops, pages
from .events import Hub

BODY_MAX = 64 * 1024  # the largest action body is a task text (ops.TASK_MAX characters)
KEEPALIVE_S = 15.0
TOKEN_IN_QUERY = ("/", "/runs/", "/projects", "/metrics", "/api/events")  # where a browser
# cannot send a header: a page opened from the printed URL, and EventSource

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Unauthorized(Exception):
    pass


class BodyLimit:
    """Refuses a body over `limit` bytes with 413, by its Content-Length or, when it is sent
    in chunks, as soon as the bytes read pass the limit."""

    def __init__(self, app: ASGIApp, limit: int = BODY_MAX) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.limit):
                await _too_large(self.limit, send)
                return
        seen, over, started = 0, False, False

        async def bounded() -> Message:
            # Past the limit the app is told the client left: whatever it makes of that
            # (FastAPI answers a body it could not read with 400), the answer is the 413 below.
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if over and not started:
                return
            started = True
            await send(message)

        await self.app(scope, bounded, guarded)
        if over and not started:
            await _too_large(self.limit, send)




async def _too_large(limit: int, send: Send) -> None:
    body = json.dumps({"error": {"message": f"the request body is over {limit} bytes; send a "
                                 "shorter one", "code": 1}}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def build(face: ops.Face, token: str) -> FastAPI:
    """The app for one `dflow serve`: the project at `face.root` (and, with --all-projects,
    every registered one by name), guarded by `token`."""
    git_dir = face.project().store.git_dir
    hub = Hub(face.project, git_dir)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        hub.start(asyncio.get_running_loop())
        try:
            yield
        finally:
            hub.close()

    app = FastAPI(title="dflow", version=__version__, lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None,
                  description="dflow's control plane over HTTP: the CLI's reads and actions.")
    app.state.hub = hub  # the server ends the streams on Ctrl-C (web/server.py)
    app.add_middleware(BodyLimit)

    def authorized(request: Request) -> None:
        given = access.bearer(request.headers.get("authorization"))
        path = request.url.path
        if given is None and (path in TOKEN_IN_QUERY or path.startswith("/runs/")):
            given = request.query_params.get("token")
        if not access.same(given, token):
            raise Unauthorized

    def project(project: Annotated[str | None, Query(
            description="with --all-projects: a registered project's name")] = None) -> Project:
        return face.project(project)

    Auth = Depends(authorized)
    Proj = Annotated[Project, Depends(project)]

    @app.exception_handler(Unauthorized)
    async def _unauthorized(_: Request, __: Exception) -> Response:
        return JSONResponse({"error": {"message": "this needs dflow serve's token: send "
                                       "`Authorization: Bearer <token>` (the token is printed "
                                       "when the server starts)", "code": 1}},
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(DflowError)
    async def _refused(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, DflowError)
        return JSONResponse({"error": {"message": ops.error_text(exc),
                                       "code": int(exc.exit_code)}},
                            status_code=ops.http_status(exc))

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> Response:

        log = write_crash_log(exc)
        where = f"the traceback is in {log}" if log else "run again with --debug"
        return JSONResponse({"error": {"message": f"dflow hit an internal error "
                                       f"({type(exc).__name__}); {where}; please report it",
                                       "code": 3}}, status_code=500)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Awaitable[Response]],
                       ) -> Response:
        response = await call_next(request)
        # The token may sit in a page's URL: never send it on as a Referer, never frame.
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response

    # --- the API ----------------------------------------------------------------------------

    @app.get("/api/health", tags=["health"])
    def health() -> dict[str, str]:
        """Whether the server answers (no token needed)."""
        return {"status": "ok", "version": __version__}

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Auth])
    def openapi() -> dict[str, Any]:
        return app.openapi()

    @app.get("/api/runs", dependencies=[Auth], response_model=StatusReport, tags=["reads"])
    def list_runs(p: Proj) -> StatusReport:
        """The runs, as `dflow status --json` lists them."""
        return ops.list_runs(p)

    @app.get("/api/runs/{run}", dependencies=[Auth], response_model=RunDetail, tags=["reads"])
    def show_run(run: str, p: Proj) -> RunDetail:
        """One run in full, as `dflow show RUN --json` prints it."""
        return ops.show_run(p, run)

    @app.get("/api/runs/{run}/diff", dependencies=[Auth], response_model=Diff, tags=["reads"])
    def diff(run: str, p: Proj, step: int | None = None, stat: bool = False) -> Diff:
        """What the run (or one step) changed, as `dflow diff RUN [STEP] --json`."""
        return ops.diff(p, run, step, stat)

    @app.get("/api/runs/{run}/steps/{step}/logs", dependencies=[Auth],
             response_model=ops.StepLog, tags=["reads"])
    def step_logs(run: str, step: int, p: Proj, qa: bool = False,
                  attempt: int | None = None) -> ops.StepLog:
        """A step's transcript (redacted), as `dflow logs RUN STEP [--qa] [--attempt N]`."""
        return ops.step_log(p, run, step, qa, attempt)

    @app.get("/api/projects", dependencies=[Auth], response_model=list[ProjectSummary],
             tags=["reads"])
    def list_projects() -> list[ProjectSummary]:
        """The registered projects, as `dflow projects --json`."""
        return ops.projects()

    @app.get("/api/metrics", dependencies=[Auth], response_model=Report, tags=["reads"])
    def metrics(p: Proj, by: str = "model") -> Report:
        """Tokens, cost, durations and QA pass rate, as `dflow report --json`."""
        return ops.metrics(p, by)

    @app.post("/api/projects", dependencies=[Auth], tags=["actions"],
              response_class=StreamingResponse)
    def add_project(new: ops.NewProject) -> StreamingResponse:
        """Register a repository and set dflow up in it, as `dflow projects add`: one JSON
        line per setup step as it starts and ends (`{"step": ...}`), then `{"result":
        AddResult}` or `{"error": {"message", "code"}}`."""
        return StreamingResponse(_setup_lines(new), media_type="application/x-ndjson")

    @app.post("/api/runs", dependencies=[Auth], response_model=RunLine, status_code=201,
              tags=["actions"])
    def create_run(new: ops.NewRun, p: Proj) -> RunLine:
        """Start a run, as `dflow new NAME --task TASK [--engine E] [--no-plan]`."""
        return ops.create(p, new)

    @app.post("/api/runs/{run}/{verb}", dependencies=[Auth], response_model=ops.Acted,
              tags=["actions"])
    def act(run: str, verb: ops.RunVerb, p: Proj,
            options: ops.Options | None = None) -> ops.Acted:
        """`dflow plan|run|pause|resume|cancel|land|pr RUN`: jobs are requested, and a
        `dflow worker` does them."""
        return ops.act(p, run, verb, options)

    @app.post("/api/runs/{run}/steps/{step}/{verb}", dependencies=[Auth],
              response_model=ops.Acted, tags=["actions"])
    def act_on_step(run: str, step: int, verb: ops.StepVerb, p: Proj,
                    options: ops.Options | None = None) -> ops.Acted:
        """`dflow qa RUN STEP`, `dflow step approve|retry RUN STEP` (retry takes engine and
        model)."""
        return ops.act_on_step(p, run, step, verb, options)

    @app.get("/api/events", dependencies=[Auth], tags=["reads"],
             response_class=StreamingResponse)
    async def events(request: Request) -> StreamingResponse:
        """Server-Sent Events: each new event on the state ref (`event: dflow`, data: run,
        step, type, summary), whichever process or clone wrote it."""
        queue = hub.subscribe()

        async def stream() -> AsyncIterator[str]:
            try:
                yield ": dflow events\n\n"
                while not await request.is_disconnected():
                    try:
                        event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                    except TimeoutError:
                        yield ": keepalive\n\n"
                        continue
                    if event is None:
                        return
                    yield _sse(event)
            finally:
                hub.unsubscribe(queue)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"X-Accel-Buffering": "no"})

    # --- the pages --------------------------------------------------------------------------

    def q(request: Request) -> str:
        """The page's links keep `?token=` when the page was opened with it, and the project
        it shows (with --all-projects)."""
        kept = {k: request.query_params[k] for k in ("token", "project")
                if request.query_params.get(k)}
        return f"?{urlencode(kept)}" if kept else ""

    @app.get("/", dependencies=[Auth], response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request, p: Proj) -> HTMLResponse:
        return _page(pages.runs_page(ops.list_runs(p), q(request)))

    @app.get("/runs/{run}", dependencies=[Auth], response_class=HTMLResponse,
             include_in_schema=False)
    def run_page(request: Request, run: str, p: Proj) -> HTMLResponse:
        found = ops.show_run(p, run)
        try:
            changed = ops.diff(p, run).patch
        except DflowError as exc:
            changed = f"(no diff: {ops.error_text(exc)})"
        return _page(pages.run_page(found, changed, q(request)))

    @app.get("/runs/{run}/steps/{step}/logs", dependencies=[Auth],
             response_class=HTMLResponse, include_in_schema=False)
    def log_page(request: Request, run: str, step: int, p: Proj, qa: bool = False,
                 attempt: int | None = None) -> HTMLResponse:
        found = ops.step_log(p, run, step, qa, attempt)
        return _page(pages.log_page(run, found.name, found.text, q(request)))

    @app.get("/runs/{run}/steps/{step}/diff", dependencies=[Auth],
             response_class=HTMLResponse, include_in_schema=False)
    def step_diff_page(request: Request, run: str, step: int, p: Proj) -> HTMLResponse:
        return _page(pages.diff_page(run, step, ops.diff(p, run, step).patch, q(request)))

    @app.get("/projects", dependencies=[Auth], response_class=HTMLResponse,
             include_in_schema=False)
    def projects_page(request: Request) -> HTMLResponse:
        return _page(pages.projects_page(ops.projects(), q(request), face.all_projects))

    @app.get("/metrics", dependencies=[Auth], response_class=HTMLResponse,
             include_in_schema=False)
    def metrics_page(request: Request, p: Proj) -> HTMLResponse:
        return _page(pages.metrics_page(ops.metrics(p), q(request)))

    @app.get("/static/dflow.js", include_in_schema=False)
    def script() -> Response:
        return Response(pages.SCRIPT, media_type="text/javascript")

    @app.get("/static/dflow.css", include_in_schema=False)
    def style() -> Response:
        return Response(pages.STYLE, media_type="text/css")

    return app


def _page(html: str) -> HTMLResponse:
    return HTMLResponse(html, headers={
        "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                                   "connect-src 'self'; img-src 'self'; form-action 'self'; "
                                   "base-uri 'none'; frame-ancestors 'none'"})


def _setup_lines(new: ops.NewProject) -> Iterator[str]:
    """The setup runs in its own thread; its steps are sent as they happen."""
    lines: queue.Queue[str | None] = queue.Queue()

    def work() -> None:
        try:
            result = ops.add_project(new, lambda e: lines.put(json.dumps(
                {"step": e.model_dump(mode="json")})))
            lines.put(json.dumps({"result": result.model_dump(mode="json")}))
        except DflowError as exc:
            lines.put(json.dumps({"error": {"message": ops.error_text(exc),
                                            "code": int(exc.exit_code)}}))
        except Exception as exc:  # a bug: said, not hung on
            lines.put(json.dumps({"error": {"message": f"dflow hit an internal error "
                                            f"({type(exc).__name__}); please report it",
                                            "code": 3}}))
        finally:
            lines.put(None)

    threading.Thread(target=work, name="dflow-serve-setup", daemon=True).start()
    while (line := lines.get()) is not None:
        yield line + "\n"


def _sse(event: FeedEvent) -> str:
    # One JSON line: json.dumps escapes newlines, so agent text cannot end the SSE frame.
    return f"id: {event.id}\nevent: dflow\ndata: {event.model_dump_json()}\n\n"
