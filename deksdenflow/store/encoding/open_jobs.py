"""The open jobs of a state view, parsed once per blob."""

from __future__ import annotations

import pygit2

from ...domain.runs.models import Job
from ..state import StateView
from . import codec
from .layout import OPEN_JOBS_DIR


class OpenJobs:
    """Parsed `jobs/open/` of any view, re-parsing only blobs not seen before (they are
    immutable, so a blob id names its content): reads stay cheap as the queue grows."""

    def __init__(self) -> None:
        self._cache: dict[str, Job] = {}

    def of(self, view: StateView) -> list[Job]:
        tree = view.subtree(OPEN_JOBS_DIR)
        if tree is None:
            self._cache.clear()
            return []
        fresh: dict[str, Job] = {}
        for entry in tree:
            if not isinstance(entry, pygit2.Blob):
                continue
            oid = str(entry.id)
            job = self._cache.get(oid)
            if job is None:
                job = codec.load_job(entry.data, f"{OPEN_JOBS_DIR}/{entry.name}")
            fresh[oid] = job
        self._cache = fresh
        return sorted(fresh.values(), key=lambda j: j.id)
