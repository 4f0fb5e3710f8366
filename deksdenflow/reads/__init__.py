"""The read side: what `status`, `show`, `events`, `project show` and `workers` show, read
from the state ref and the git dir's caches without pydantic, Typer or pygit2 where it can.

A floor of its own, above the services (it calls the reconciler's one function through
`workflow`) and below the composition root and the faces (`cli`, `console`, `web`, `mcp`),
which import no store module: they parse arguments, ask this package or a service, and
render (docs/decisions/1600-one-read-side-outside-the-store.md). The store owns the bytes
(the ref, the object reader, the cache files); this package owns which runs, which lines and
which cache entries a reader may use.

Nothing is imported here: a fast read loads only the modules it uses.
"""
