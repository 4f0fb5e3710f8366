"""The agent's environment is an allowlist
(issue 23; docs/decisions/1532-the-agents-environment-is-an-allowlist.md).

An agent gets what any program needs (PATH, HOME, locale, terminal type, temp dirs, proxies and
CA bundles), its engine's own variables (a key, a config dir), and the names a person listed in
`[engines.NAME] env`; nothing else of dflow's environment. Tokens (GITHUB_TOKEN, GH_TOKEN),
cloud credentials (AWS_*, GOOGLE_APPLICATION_CREDENTIALS), SSH_AUTH_SOCK and dflow's own DFLOW_*
variables reach it only when listed. A name ending in `*` stands for every name it begins.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping

BASE = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LANGUAGE", "LC_*", "TZ",
    "TMPDIR", "TMP", "TEMP", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    # A network behind a proxy or a private CA: without these no agent reaches its API.
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
    "all_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    # Windows' own basics.
    "SYSTEMROOT", "SystemRoot", "COMSPEC", "PATHEXT", "WINDIR", "USERPROFILE", "APPDATA",
    "LOCALAPPDATA",
)


def allowed(environ: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """The variables of `environ` that BASE or `names` (exact, or `PREFIX*`) allow."""
    patterns = [*BASE, *names]
    exact = {p for p in patterns if "*" not in p}
    globs = [p for p in patterns if "*" in p]
    return {k: v for k, v in environ.items()
            if k in exact or any(fnmatch.fnmatchcase(k, g) for g in globs)}
