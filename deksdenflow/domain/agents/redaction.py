"""Redaction: every string that came from outside dflow passes here before it is kept or shown.

Patterns are matched on the text as written *and* on a copy in which JSON/C escape sequences
are decoded (`\\u0067` is `g`, at any depth of escaping) and escaped whitespace (`\\n`, `\\t`,
`\\u001b`, ...) becomes a space, so a token that follows an escaped newline inside a JSON-encoded
transcript line is found (the `n` of `\\n` would otherwise glue onto it as a word character), and
so is a token spelled with escaped letters; what is found there is masked in the text as
written. Secret *values* (configured variables, the engines' key variables, every exported
`*_TOKEN`/`*_KEY`/`*_SECRET`/`*_PASSWORD`) are masked
as written, JSON-escaped, URL-encoded and base64-encoded. See docs/decisions/0700.
"""

from __future__ import annotations

import base64
import bisect
import json
import os
import re
import sys
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping

MASK = "[REDACTED]"


class LazyPattern:
    """A regular expression compiled the first time it is used. Most commands never meet a
    token's trigger, and compiling the ~35 patterns below cost ~5 ms of every command's
    start-up (issue 16)."""

    __slots__ = ("_compiled", "_source", "flags")

    def __init__(self, source: str, flags: int = 0) -> None:
        self._source = source
        self._compiled: re.Pattern[str] | None = None
        # What `_triggered` asks: is it case-insensitive (inline `(?i)` or the flag)? A plain
        # int, as `_triggered` wants it (a RegexFlag is built on every `&`).
        self.flags = int(flags) | (int(re.I) if source.startswith("(?i)") else 0)

    @property
    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self._source, self.flags)
        return self._compiled

    @property
    def is_compiled(self) -> bool:
        return self._compiled is not None

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.compiled.finditer(text)

    def search(self, text: str) -> re.Match[str] | None:
        return self.compiled.search(text)

    def sub(self, repl: str | Callable[[re.Match[str]], str], text: str) -> str:
        return self.compiled.sub(repl, text)


# (pattern, kept prefix, triggers): keep 0 masks the whole match; 1 keeps group 1 (a header name,
# a `key=`) so the reader still sees what was there. A pattern runs only when one of its trigger
# literals is in the text (lower-cased text for the `(?i)` ones): a cheap `in` test keeps the
# pass at ~30 ms per MB of transcript instead of one regex scan per pattern.
_P = LazyPattern
_Row = tuple[LazyPattern, int, tuple[str, ...]]
TOKEN_PATTERNS: tuple[_Row, ...] = (
    (_P(r"\bgh[pousr]_[A-Za-z0-9]{30,255}"), 0, ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    (_P(r"\bgithub_pat_[A-Za-z0-9_]{40,255}"), 0, ("github_pat_",)),  # GitHub fine-grained
    (_P(r"\bglpat-[A-Za-z0-9_\-]{20,}"), 0, ("glpat-",)),  # GitLab personal access token
    (_P(r"\bgl(?:cbt|dt|ptt|rt|soat|ft|imt|agent|oas)-[A-Za-z0-9_\-]{20,}"), 0,
     ("glcbt-", "gldt-", "glptt-", "glrt-", "glsoat-", "glft-", "glimt-", "glagent-", "gloas-")),
    (_P(r"\bsk-ant-[A-Za-z0-9_\-]{20,}"), 0, ("sk-ant-",)),  # Anthropic
    (_P(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"), 0, ("sk-",)),  # OpenAI
    (_P(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"), 0, ("_live_", "_test_")),  # Stripe
    (_P(r"\bwhsec_[A-Za-z0-9]{24,}"), 0, ("whsec_",)),  # Stripe webhook secret
    (_P(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b"), 0,
     ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA")),  # AWS key ids
    (_P(r"\bAIza[0-9A-Za-z_\-]{35}"), 0, ("AIza",)),  # Google API key
    (_P(r"\bya29\.[0-9A-Za-z_\-]{20,}"), 0, ("ya29.",)),  # Google OAuth access token
    (_P(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"), 0, ("xox",)),  # Slack tokens
    (_P(r"\bxapp-\d-[A-Za-z0-9\-]{10,}"), 0, ("xapp-",)),  # Slack app-level token
    (_P(r"hooks\.slack\.com/services/[A-Za-z0-9/_\-]{20,}"), 0, ("hooks.slack.com",)),
    (_P(r"\bnpm_[A-Za-z0-9]{36}\b"), 0, ("npm_",)),  # npm
    (_P(r"\bpypi-[A-Za-z0-9_\-]{50,}"), 0, ("pypi-",)),  # PyPI
    (_P(r"\bhf_[A-Za-z0-9]{30,}"), 0, ("hf_",)),  # Hugging Face
    (_P(r"\bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"), 0, ("SG.",)),  # SendGrid
    (_P(r"\bdop_v1_[a-f0-9]{64}"), 0, ("dop_v1_",)),  # DigitalOcean
    (_P(r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"), 0, ("shpat_", "shpca_", "shppa_", "shpss_")),
    (_P(r"\bglsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"), 0, ("glsa_",)),  # Grafana service account
    (_P(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"), 0,
     ("eyJ",)),  # JWT
    (_P(r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?"
        r"(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)", re.S), 0,
     ("PRIVATE KEY",)),  # PEM private keys
    (_P(r"(?i)(authorization\s*[:=]\s*[\"']?(?:bearer|token|basic|bot)\s+)[^\s\"',]+"), 1,
     ("authorization",)),
    (_P(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/\-]{16,}=*"), 1, ("bearer",)),  # a bare bearer token
    (_P(r"\b([a-z][a-z0-9+.\-]{1,20}://[^\s:/@\"']+:)[^\s@/\"']+(?=@)"), 1, ("://",)),  # URL creds
    (_P(r"(?i)((?:aws_secret_access_key|aws_session_token)[\"']?\s*[:=]\s*[\"']?)"
        r"[A-Za-z0-9/+=]{16,}"), 1, ("aws_secret_access_key", "aws_session_token")),
)

# Secrets by the name they are assigned to: masked in logs and on the ref, but not a reason to
# refuse a commit (code assigns `api_key = os.environ[...]` all the time).
ASSIGNMENT_PATTERNS: tuple[_Row, ...] = (
    # key = value, "key": "value", key: value (YAML), for names that end in a word saying they
    # hold a secret. Anchored on that word (a leading `[name chars]*` made this one pattern
    # cost 0.5 s per MB); the part of the name before it stays in the text unmasked anyway.
    (_P(r"(?i)((?:password|passwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token"
        r"|private[_-]?key|access[_-]?key|_token)"
        r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;}]{8,}"), 1,
     ("password", "passwd", "secret", "key", "token")),
)

# Names of variables whose values are secret wherever they appear, besides the suffix rule.
DEFAULT_SECRET_ENV = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GITLAB_TOKEN",
    "GLAB_TOKEN",
    "CI_JOB_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "DFLOW_OPENAI_API_KEY",
)
SECRET_SUFFIXES = ("_TOKEN", "_KEY", "_SECRET", "_PASSWORD", "_PASS", "_PAT", "_CREDENTIALS")
MIN_SECRET_LEN = 8  # shorter values would mask ordinary words
# A run of backslashes and what it escapes: JSON encoded twice (a transcript line holding JSON)
# writes `\\\\n` for a newline.
_ESCAPE = LazyPattern(r"\\+(?:u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[nrtbfv0\"'/])?")
# An escape spelling a printable ASCII character: no JSON encoder writes these for letters, so
# the (slower) decoding pass runs only on text that has them.
_ESCAPED_PRINTABLE = LazyPattern(r"\\+(?:u00[2-7][0-9a-fA-F]|x[2-7][0-9a-fA-F]"
                                 r"|u(?:00ad|200[b-f]|206[0-4]|feff))")
# Besides C0/C1 controls: the invisible format characters (bidi embeddings, overrides and
# isolates, zero-width spaces and joiners, the soft hyphen, word joiner, BOM), which reorder
# or hide what a terminal shows (`U+202E`) and split a token so no pattern sees it.
_CONTROL = LazyPattern(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
                      r"|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]"
                      r"|[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
                      r"\u2066-\u206f\ufeff\ufff9-\ufffb]")


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return upper in DEFAULT_SECRET_ENV or upper.endswith(SECRET_SUFFIXES)


def secret_values(names: Iterable[str] = (), env: Mapping[str, str] | None = None) -> list[str]:
    """Values of the named, the default and every secret-looking exported variable."""
    env = os.environ if env is None else env
    wanted = set(names)
    values = {v for k, v in env.items() if v and (k in wanted or is_secret_name(k))}
    return sorted((v for v in values if len(v) >= MIN_SECRET_LEN), key=len, reverse=True)


# A token's fixed prefix (`ghp_`, `sk-proj-`, `github_pat_`, `xoxb-`): the body after it is
# as secret as the whole and is what an agent that strips the prefix prints.
_FIXED_PREFIX = re.compile(r"^(?:[A-Za-z][A-Za-z0-9]{1,9}[_\-]){1,2}")
MIN_BODY_LEN = 16  # a body shorter than this is not masked on its own


def encoded_forms(value: str) -> set[str]:
    """The forms a secret value takes in logs: as is, JSON-escaped, URL-encoded, base64,
    reversed, and its body without a fixed token prefix (split across lines and the other
    spellings are found by the views of `_all_spans`)."""
    forms = {value, json.dumps(value)[1:-1], urllib.parse.quote(value, safe=""),
             urllib.parse.quote_plus(value), value[::-1]}
    prefix = _FIXED_PREFIX.match(value)
    if prefix and len(value) - prefix.end() >= MIN_BODY_LEN:
        forms.add(value[prefix.end():])
    raw = value.encode()
    for shift in range(3):  # base64 of the value at any alignment inside a longer blob
        chunk = base64.b64encode(b"\0" * shift + raw).decode()
        # Drop the characters that depend on the padding bytes before and after the value.
        start = (shift * 4 + 2) // 3 if shift else 0
        body = chunk[start:].rstrip("=")
        forms.add(body[: len(body) - 2] if len(body) > 4 else body)
    return {f for f in forms if len(f) >= MIN_SECRET_LEN}


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known token shapes and the given secret values, in plain or escaped text."""
    forms = sorted({f for value in secrets if value for f in encoded_forms(value)},
                   key=len, reverse=True)
    for form in forms:
        text = text.replace(form, MASK)
    return _mask(text, _all_spans(text, (*TOKEN_PATTERNS, *ASSIGNMENT_PATTERNS), forms))


def _all_spans(text: str, patterns: tuple[_Row, ...],
               values: list[str] | None = None) -> list[tuple[int, int]]:
    rows = _triggered(text, patterns)
    spans = _spans(text, rows)
    base = text
    if "\\" in text:  # a token after an escaped newline: blank the escapes (same offsets)
        base = _ESCAPE.sub(_blank, text)
        if rows:
            spans += _spans(base, rows)
    for decoded, chain in _views(text, base, patterns):
        found = _spans(decoded, _triggered(decoded, patterns))
        found += [(at, at + len(v)) for v in values or () for at in _finds(decoded, v)]
        spans += [(_through(chain, start), _through(chain, end)) for start, end in found]
    return spans


def _through(chain: list[list[tuple[int, int]]], offset: int) -> int:
    """An offset in the last view of `chain`, in the text as written."""
    for marks in reversed(chain):
        offset = _in_text(marks, offset)
    return offset


# Other spellings of the same token (docs/decisions/1544-secrets-in-any-shape.md): percent-
# encoded (`ghp%5F...`), split by invisible characters, or split across lines (a newline or
# an escaped one between two token characters). Each is decoded into a view of its own,
# searched, and what is found there is masked in the text as written.
_PERCENT = LazyPattern(r"%[0-9A-Fa-f]{2}")
_INVISIBLE = LazyPattern(r"[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
                         r"\u2066-\u206f\ufeff]+")
_TOKEN_CHAR = r"[A-Za-z0-9_\-+/=.]"
_joins: dict[tuple[_Row, ...], LazyPattern] = {}


def _line_split(patterns: tuple[_Row, ...]) -> LazyPattern:
    """Line breaks (or escaped ones) between six token characters (part of a token; six
    lower-case letters end a word, not a token) and six more non-blanks, except before a token's
    trigger: that break starts the token (`one\nghp_...` must not become `oneghp_...`), and
    a whole token's last line must not take the next line's first word."""
    found = _joins.get(patterns)
    if found is None:
        exact = "|".join(re.escape(t) for row in patterns for t in row[2]
                         if not row[0].flags & _IGNORECASE)
        folded = "|".join(re.escape(t) for row in patterns for t in row[2]
                          if row[0].flags & _IGNORECASE)
        found = _joins[patterns] = LazyPattern(
            rf"(?<={_TOKEN_CHAR}{{6}})(?<![a-z]{{6}})(?:\r?\n *|\\+[nr])+(?!{exact or '(?!)'})"
            rf"(?!(?i:{folded or '(?!)'}))(?=\S{{6}})")
    return found


def _blank(found: re.Match[str]) -> str:
    """An escape run as spaces of its length; an escaped line break stays one (then spaces),
    so the line-split view can still join a token across it."""
    run = found.group(0)
    return ("\n" if run[-1:] in "nr" else " ") + " " * (len(run) - 1)


def _views(text: str, base: str, patterns: tuple[_Row, ...],
           ) -> Iterator[tuple[str, list[list[tuple[int, int]]]]]:
    """The text decoded step by step (escapes, percent escapes, invisible characters, line
    splits), each step on the one before, so spellings combine; with the marks of each.
    Without escaped letters to decode, the steps start from `base` (escapes blanked)."""
    view = text if _escapes_printable(text) else base
    chain: list[list[tuple[int, int]]] = []
    steps: list[tuple[Callable[[str], bool], LazyPattern, Callable[[re.Match[str]], str]]] = [
        (_escapes_printable, _ESCAPE, lambda m: _escaped_char(m.group(0))),
        (lambda v: "%" in v, _PERCENT, lambda m: _printable(int(m.group(0)[1:], 16))),
        (lambda v: True, _INVISIBLE, lambda m: ""),
        (lambda v: "\n" in v or "\\" in v, _line_split(patterns), lambda m: ""),
    ]
    for wanted, pattern, repl in steps:
        if not wanted(view) or not pattern.search(view):
            continue
        view, marks = _rewritten(view, pattern, repl)
        chain = [*chain, marks]
        yield view, chain


def _printable(code: int) -> str:
    char = chr(code)
    return char if char.isprintable() and not char.isspace() else " "


def _rewritten(text: str, pattern: LazyPattern, repl: Callable[[re.Match[str]], str],
               ) -> tuple[str, list[tuple[int, int]]]:
    """`text` with every match of `pattern` replaced, and the marks that pair offsets in the
    new text with offsets in `text` (after each replacement), as `_decoded` makes them."""
    parts, marks, pos, size = [], [(0, 0)], 0, 0
    for found in pattern.finditer(text):
        new = repl(found)
        parts += [text[pos:found.start()], new]
        size += found.start() - pos + len(new)
        pos = found.end()
        marks.append((size, pos))
    parts.append(text[pos:])
    return "".join(parts), marks


def _escapes_printable(text: str) -> bool:
    return ("\\u" in text or "\\x" in text) and bool(_ESCAPED_PRINTABLE.search(text))


def _decoded(text: str) -> tuple[str, list[tuple[int, int]]]:
    """`text` with every escape run decoded: `\\u0067` (at any depth of escaping) becomes `g`,
    so a token spelled with escaped letters is seen; escapes of whitespace and control
    characters become one space, so `\\n` never glues onto the token after it; an escaped
    invisible character (`\\u200b`) goes. The marks pair offsets in the decoded text with
    offsets in `text` (after each escape)."""
    return _rewritten(text, _ESCAPE, lambda m: _escaped_char(m.group(0)))


def _escaped_char(escape: str) -> str:
    code = escape.lstrip("\\")
    if code[:1] in ("u", "x") and len(code) > 1:
        char = chr(int(code[1:], 16))
        if _INVISIBLE.search(char):
            return ""
        if char in "\n\r":
            return "\n"  # a line break: the line-split view may join a token across it
        return char if char.isprintable() and not char.isspace() else " "
    if code in ("n", "r"):
        return "\n"
    return code if code in ("\"", "'", "/") else " "


def _in_text(marks: list[tuple[int, int]], offset: int) -> int:
    """Where `offset` of the decoded text lies in the original text."""
    at = bisect.bisect_right(marks, (offset, sys.maxsize)) - 1
    decoded, original = marks[at]
    return original + offset - decoded


def _finds(text: str, value: str) -> list[int]:
    found, at = [], text.find(value)
    while at >= 0:
        found.append(at)
        at = text.find(value, at + 1)
    return found


def _spans(text: str, rows: list[_Row]) -> list[tuple[int, int]]:
    spans = []
    for pattern, keep, _ in rows:
        for found in pattern.finditer(text):
            spans.append((found.end(1) if keep else found.start(), found.end()))
    return spans


_IGNORECASE = int(re.IGNORECASE)  # an int: `flags & re.I` built a RegexFlag per test
# Below this length one search for any trigger literal (an alternation, in C) answers "none"
# for most strings (ids, names, short summaries) ~20x faster than testing each row; on long
# text the per-row `in` tests are faster, so they alone run there.
_SCREEN_BELOW = 256
_screens: dict[tuple[_Row, ...], tuple[re.Pattern[str], re.Pattern[str]]] = {}


def _screen(patterns: tuple[_Row, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(any case-sensitive trigger, any trigger of a `(?i)` row) as two searches."""
    found = _screens.get(patterns)
    if found is None:
        def any_of(folded: bool) -> re.Pattern[str]:
            literals = [re.escape(t) for row in patterns for t in row[2]
                        if bool(row[0].flags & _IGNORECASE) is folded]
            return re.compile("|".join(literals) or "(?!)")

        found = _screens[patterns] = (any_of(False), any_of(True))
    return found


def _triggered(text: str, patterns: tuple[_Row, ...]) -> list[_Row]:
    """The patterns whose trigger literals occur in the text (blanking escapes adds none)."""
    lower = text.lower()
    if len(text) < _SCREEN_BELOW:
        exact, folded = _screen(patterns)
        if exact.search(text) is None and folded.search(lower) is None:
            return []
    return [row for row in patterns
            if any(t in (lower if row[0].flags & _IGNORECASE else text) for t in row[2])]


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    out, pos = [], 0
    for start, end in sorted(spans):
        if end <= pos:
            continue
        start = max(start, pos)
        out += [text[pos:start], MASK]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def strip_controls(text: str) -> str:
    """Terminal escape sequences, control and invisible format characters removed; newlines
    and tabs kept."""
    return _CONTROL.sub("", text)


def holds_secret(text: str, secrets: Iterable[str] = ()) -> bool:
    """True when `text` holds a known token shape or one of the secret values (as written):
    the test for file contents, where a bare `password = ...` assignment is ordinary code."""
    forms = [f for value in secrets if value for f in encoded_forms(value)]
    if any(form in text for form in forms):
        return True
    return bool(_all_spans(text, TOKEN_PATTERNS, forms))
