"""What an agent prints and writes, read with a bounded buffer: the head and the tail are kept,
the middle is counted and dropped. `communicate()` kept all of it, so 2 GB of agent stdout
cost dflow 8.4 GB (docs/decisions/1543-agent-output-is-streamed.md).

Whatever is kept is at most `HEAD_CHARS + TAIL_CHARS` per stream, far above what any engine's
final answer needs (a plan is at most 1 MB) and what a transcript stores
(`[artifacts] max_bytes`, which keeps a head and a tail too).
"""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import threading
from pathlib import Path
from typing import IO

HEAD_CHARS = 4 << 20
TAIL_CHARS = 4 << 20
CHUNK_CHARS = 1 << 16


class Capped:
    """The first `head` and the last `tail` characters of a text given piece by piece."""

    def __init__(self, head: int = HEAD_CHARS, tail: int = TAIL_CHARS) -> None:
        self._head: list[str] = []
        self._head_size = 0
        self._tail: list[str] = []
        self._tail_size = 0
        self.dropped = 0
        self.head_cap, self.tail_cap = head, tail
        self._lock = threading.Lock()

    def add(self, text: str) -> None:
        with self._lock:
            room = self.head_cap - self._head_size
            if room > 0:
                self._head.append(text[:room])
                self._head_size += min(room, len(text))
                text = text[room:]
            if not text:
                return
            self._tail.append(text)
            self._tail_size += len(text)
            if self._tail_size > 2 * self.tail_cap:  # trim now and then, not on every piece
                self._trim()

    def _trim(self) -> None:
        joined = "".join(self._tail)
        keep = joined[-self.tail_cap:]
        self.dropped += len(joined) - len(keep)
        self._tail, self._tail_size = [keep], len(keep)

    def text(self) -> str:
        with self._lock:
            if self._tail_size > self.tail_cap:
                self._trim()
            head, tail = "".join(self._head), "".join(self._tail)
            if not self.dropped:
                return head + tail
            return f"{head}\n[... {self.dropped:,} characters cut ...]\n{tail}"


class Reader:
    """Feeds a process's stdin and reads its stdout and stderr into `Capped` buffers, each on
    a daemon thread: a pipe held open by a process that left the group cannot hang dflow."""

    def __init__(self, stdin: IO[str] | None, text: str | None,
                 stdout: IO[str] | None, stderr: IO[str] | None) -> None:
        self.out, self.err = Capped(), Capped()
        self._pipes = [pipe for pipe in (stdout, stderr) if pipe]
        self._readers = [self._start(self._pump, pipe, buf)
                         for pipe, buf in ((stdout, self.out), (stderr, self.err)) if pipe]
        if stdin is not None:
            self._start(self._feed, stdin, text or "")

    @staticmethod
    def _start(target: object, *args: object) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        return thread

    @staticmethod
    def _pump(pipe: IO[str], buf: Capped) -> None:
        # Whatever the pipe holds now (a text read of n characters would wait for all n),
        # decoded as the text-mode pipe would: UTF-8 with replacement, universal newlines.
        decoder = io.IncrementalNewlineDecoder(
            codecs.getincrementaldecoder("utf-8")(errors="replace"), translate=True)
        with contextlib.suppress(OSError, ValueError):
            fd = pipe.fileno()
            while piece := os.read(fd, CHUNK_CHARS):
                buf.add(decoder.decode(piece))
        buf.add(decoder.decode(b"", final=True))

    @staticmethod
    def _feed(pipe: IO[str], text: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # the agent did not read it all
            pipe.write(text)
        with contextlib.suppress(OSError, ValueError):
            pipe.close()

    def wait(self, timeout: float) -> bool:
        """True once both pipes are closed (every writer is gone); False after `timeout`."""
        for thread in self._readers:
            thread.join(timeout)
            if thread.is_alive():
                return False
        return True

    def texts(self) -> tuple[str, str]:
        """(stdout, stderr) as far as they were read; the pipes read to their end are closed
        (one still read, by an abandoned thread, is left to it)."""
        for pipe, thread in zip(self._pipes, self._readers, strict=True):
            if not thread.is_alive():
                with contextlib.suppress(OSError):
                    pipe.close()
        return self.out.text(), self.err.text()


def read_capped(path: Path, head: int = HEAD_CHARS, tail: int = TAIL_CHARS) -> str:
    """A file an agent wrote, read in pieces into a `Capped` buffer (UTF-8, bad bytes
    replaced): a 1 GB output file costs what its head and tail cost."""
    buf = Capped(head, tail)
    with path.open(encoding="utf-8", errors="replace") as src:
        while piece := src.read(CHUNK_CHARS):
            buf.add(piece)
    return buf.text()
