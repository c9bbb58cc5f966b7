"""Secrets in launch data (user data, startup scripts, custom data): found, named, never printed."""

from __future__ import annotations

import base64
import binascii
import gzip
import math
import re
from dataclasses import dataclass
from typing import Iterator

# (kind, pattern); group "secret" is what gets masked.
PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("AWS access key id", re.compile(r"(?<![A-Z0-9])(?P<secret>(?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Z0-9])")),
    ("private key", re.compile(r"(?P<secret>-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----)")),
    ("GitHub token", re.compile(r"(?P<secret>(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,})")),
    ("GitHub fine-grained token", re.compile(r"(?P<secret>github_pat_[A-Za-z0-9_]{22,})")),
    ("GitLab personal access token", re.compile(r"(?P<secret>glpat-[A-Za-z0-9_\-]{20,})")),
    ("GitLab runner token", re.compile(r"(?P<secret>glrt-[A-Za-z0-9_\-]{20,})")),
    ("GitLab runner registration token", re.compile(r"(?P<secret>GR1348941[A-Za-z0-9_\-]{20,})")),
    ("Slack token", re.compile(r"(?P<secret>xox[abposr]-[A-Za-z0-9-]{10,})")),
    ("Slack webhook", re.compile(r"(?P<secret>https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+)")),
    ("runner registration token", re.compile(r"--(?:registration-)?token[= ]+[\"']?(?P<secret>[A-Za-z0-9_\-]{16,})")),
    ("AWS secret access key", re.compile(r"(?i)aws_secret_access_key[\"']?\s*[=:]\s*[\"']?(?P<secret>[A-Za-z0-9/+=]{40})")),
)
# A key that names a secret, assigned a value: what `_generic_assignments` finds. Searching with
# this pattern itself takes time quadratic in the length of a run of key characters (every start
# in the run scans to its end), which a line of base64 in user data makes minutes long; the scan
# below finds the same matches in one pass over the runs, and a test holds it to this pattern.
_KEY_CHARACTER = r"[A-Za-z0-9_.-]"
_SECRET_WORDS = r"password|passwd|pwd|token|secret|api[_-]?key|access[_-]?key"
_VALUE = r"[\"']?\s*[=:]\s*[\"']?(?P<secret>[^\s\"'`;&|]{8,})"
GENERIC = re.compile(rf"(?i)(?P<key>{_KEY_CHARACTER}*(?:{_SECRET_WORDS}){_KEY_CHARACTER}*){_VALUE}")
_KEY_RUN = re.compile(rf"(?i){_KEY_CHARACTER}+")
_SECRET_WORD = re.compile(rf"(?i){_SECRET_WORDS}")
_ASSIGNED = re.compile(rf"(?i){_VALUE}")
PLACEHOLDER = re.compile(r"^(\$\{?|\{\{|%\(|<|\$\(|xxx|changeme|example|your[_-])", re.IGNORECASE)


@dataclass(frozen=True)
class SecretHit:
    kind: str
    line: int
    masked: str

    def describe(self) -> str:
        return f"{self.kind} ({self.masked}) on line {self.line}"


def mask(secret: str) -> str:
    return secret[:4] + "*" * max(4, min(len(secret) - 4, 16))


def entropy(text: str) -> float:
    counts = {c: text.count(c) for c in set(text)}
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def decode_launch_data(data: str | bytes | None) -> str:
    """Text of user data as AWS returns it (base64, possibly gzip inside), or as given."""
    if not data:
        return ""
    raw = data.encode() if isinstance(data, str) else data
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        decoded = raw
    if decoded[:2] == b"\x1f\x8b":
        try:
            decoded = gzip.decompress(decoded)
        except (OSError, EOFError):
            pass
    return decoded.decode("utf-8", errors="replace")


# Every pattern above needs one of these in the line (case-folded): lines without any are skipped.
_TRIGGERS = ("akia", "asia", "private key", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "glrt-",
             "gr1348941", "xox", "hooks.slack.com", "token", "password", "passwd", "pwd", "secret", "api", "access")


def find_secrets(text: str) -> list[SecretHit]:
    hits: list[SecretHit] = []
    taken: set[tuple[int, int]] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        folded = line.casefold()  # as the case-insensitive patterns fold (long s, Kelvin sign)
        if not any(trigger in folded for trigger in _TRIGGERS):
            continue
        for kind, pattern in PATTERNS:
            for match in pattern.finditer(line):
                span = (number, match.start("secret"))
                if span not in taken:
                    taken.add(span)
                    hits.append(SecretHit(kind, number, mask(match.group("secret"))))
        for key, secret, start, end in _generic_assignments(line):
            if any((number, s) in taken for s in range(start - 2, end)):
                continue
            if PLACEHOLDER.match(secret) or entropy(secret) < 3.0:
                continue
            taken.add((number, start))
            hits.append(SecretHit(f"{key} assignment", number, mask(secret)))
    return hits


def _generic_assignments(line: str) -> Iterator[tuple[str, str, int, int]]:
    """GENERIC's matches in the line, as (key, secret, start and end of the secret).

    A match of GENERIC starts where a run of key characters starts (any later start in the run
    reaches the same run end), its key is the whole run (nothing in an assignment is a key
    character), and the next match is searched for after its secret."""
    at = 0
    while True:
        run = _KEY_RUN.search(line, at)
        if run is None:
            return
        assigned = _ASSIGNED.match(line, run.end()) if _SECRET_WORD.search(run.group()) else None
        if assigned is None:
            at = run.end()
            continue
        yield run.group(), assigned.group("secret"), assigned.start("secret"), assigned.end("secret")
        at = assigned.end()
