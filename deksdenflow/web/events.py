"""The event stream's hub: one thread follows the state ref (woken by the ref watcher the
Textual console uses, observe/refwatch.py, with a poll once a second as the safety net) and
hands each new event to every open stream's queue on the server's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from pathlib import Path

from ..context.project import Project
from ..errors import DflowError
from ..observe import refwatch
from ..observe.feed import EventFeed, FeedEvent

POLL_S = 1.0  # the most a change waits when the ref files cannot be watched
QUEUE_MAX = 1_000  # a stream this far behind is closed (its reader reconnects and re-reads)


class Hub:
    def __init__(self, open_project: Callable[[], Project], git_dir: Path) -> None:
        self.open_project = open_project
        self.git_dir = git_dir
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.streams: set[asyncio.Queue[FeedEvent | None]] = set()
        self.lock = threading.Lock()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        feed = EventFeed(self.open_project())  # what is there now is not news
        refwatch.follow(self.git_dir, self.stop, lambda _remote: self.wake.set(), lambda: None)
        threading.Thread(target=self._run, args=(feed,), name="dflow-serve-events",
                         daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.wake.set()

    def end_streams(self) -> None:
        """The server is stopping: every open stream ends now, so Ctrl-C does not wait out
        the graceful shutdown (and cancel the streams mid-write). Safe from a signal handler."""
        self.close()
        if self.loop is not None:
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._end_all)

    def _end_all(self) -> None:
        with self.lock:
            streams, self.streams = list(self.streams), set()
        for queue in streams:
            with contextlib.suppress(asyncio.QueueEmpty, asyncio.QueueFull):
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(None)

    def subscribe(self) -> asyncio.Queue[FeedEvent | None]:
        queue: asyncio.Queue[FeedEvent | None] = asyncio.Queue(QUEUE_MAX)
        with self.lock:
            self.streams.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[FeedEvent | None]) -> None:
        with self.lock:
            self.streams.discard(queue)

    def _run(self, feed: EventFeed) -> None:
        while not self.stop.is_set():
            self.wake.wait(POLL_S)
            self.wake.clear()
            try:
                found = feed.new_events()
            except DflowError:
                continue  # a ref being rewritten mid-read: the next look sees it whole
            if found and self.loop is not None:
                with contextlib.suppress(RuntimeError):  # the loop closed: the server stops
                    self.loop.call_soon_threadsafe(self._hand_out, found)

    def _hand_out(self, found: list[FeedEvent]) -> None:
        with self.lock:
            streams = list(self.streams)
        for queue in streams:
            try:
                for event in found:
                    queue.put_nowait(event)
            except asyncio.QueueFull:
                self.unsubscribe(queue)
                with contextlib.suppress(asyncio.QueueFull):
                    queue.get_nowait()
                    queue.put_nowait(None)  # tells the stream to end
