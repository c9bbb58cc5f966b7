"""IAM wildcard patterns: `*` (any run of characters) and `?` (one character).

A pattern is compiled into a tuple of tokens: one-character literals, `STAR`, `ONE`, and opaque
tokens (a policy variable kept as a unit that equals no character). In an ARN the wildcards of the
segments before the resource part (partition, service, region, account) stay inside their segment
(`SEGMENT_STAR`, `SEGMENT_ONE`), as IAM matches them; in the resource part they match anything.

Both sides of a question may be patterns, so besides plain matching this module answers the two
set questions the evaluator needs:

- `intersects(a, b)`: is there a string that both match ("allowed on some resource of this kind"),
- `contains(outer, inner)`: does every string `inner` matches also match `outer`
  ("this deny covers everything that allow grants").

`contains` treats the inner pattern's wildcards as symbols only the outer pattern's wildcards can
absorb: that never claims a containment that does not hold, and misses none that real policies use.
The search for a string several patterns share, and the matching, are the core's
(guardrails/wildcards.py), told IAM's wildcards.
"""

from __future__ import annotations

import re
from functools import lru_cache

from guardrails.wildcards import FILLER, Alphabet, Wildcard

STAR = "<*>"
ONE = "<?>"
SEGMENT_STAR = "<:*>"
SEGMENT_ONE = "<:?>"
_STARS = (STAR, SEGMENT_STAR)
_WILDCARDS = (STAR, ONE, SEGMENT_STAR, SEGMENT_ONE)
_FILLER = FILLER  # stands for "any character" in a witness; never a literal of a policy

Pattern = tuple[str, ...]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


@lru_cache(maxsize=65536)
def compile_pattern(
    text: str, *, fold_case: bool = False, variables: str | None = None, arn: bool = False
) -> Pattern:
    """Tokenize `text`. `fold_case` lower-cases it (IAM actions are case-insensitive); `arn` keeps
    the wildcards of an ARN's first five segments inside their segment.

    `variables` says how to read policy variables such as `${aws:username}`: "star" (could be
    anything), "opaque" (matches nothing but itself) or None (plain text, as in policy version
    2008-10-17). `${*}`, `${?}` and `${$}` are IAM's escapes for the literal characters.
    """
    if fold_case:
        text = text.lower()
    tokens: list[str] = []
    position = 0
    # Colons still to pass before the resource part, where wildcards span anything.
    segments_left = 5 if arn and text.startswith("arn:") else 0
    while position < len(text):
        star, one = (SEGMENT_STAR, SEGMENT_ONE) if segments_left else (STAR, ONE)
        if variables is not None:
            variable = _VARIABLE.match(text, position)
            if variable:
                inner = variable.group(1)
                if inner in _ESCAPES:
                    tokens.append(_ESCAPES[inner])
                elif variables == "star":
                    tokens.append(star)
                else:
                    tokens.append(variable.group(0))
                position = variable.end()
                continue
        char = text[position]
        tokens.append(star if char == "*" else one if char == "?" else char)
        if char == ":" and segments_left:
            segments_left -= 1
        position += 1
    return _squeeze_stars(tokens)


def _squeeze_stars(tokens: list[str]) -> Pattern:
    squeezed: list[str] = []
    for token in tokens:
        if token in _STARS and squeezed and squeezed[-1] == token:
            continue
        squeezed.append(token)
    return tuple(squeezed)


def is_literal(pattern: Pattern) -> bool:
    return not any(token in _WILDCARDS for token in pattern)


def literal_prefix(pattern: Pattern) -> str:
    """The characters before the first wildcard."""
    prefix = []
    for token in pattern:
        if token in _WILDCARDS or len(token) != 1:
            break
        prefix.append(token)
    return "".join(prefix)


# IAM's wildcards; the search for a common string and the matching are the core's.
PATTERNS = Alphabet({STAR: Wildcard(many=True), ONE: Wildcard(many=False),
                     SEGMENT_STAR: Wildcard(many=True, excludes=frozenset(":")),
                     SEGMENT_ONE: Wildcard(many=False, excludes=frozenset(":"))})
_regex = PATTERNS.regex  # an opaque variable matches no concrete text


@lru_cache(maxsize=4096)
def any_regex(patterns: tuple[Pattern, ...]) -> re.Pattern[str]:
    """One regular expression matching what any of `patterns` matches."""
    if not patterns:
        return re.compile("(?!)")
    return re.compile("|".join(f"(?:{_regex(p).pattern})" for p in patterns), re.DOTALL)


@lru_cache(maxsize=65536)
def concrete(pattern: Pattern) -> str | None:
    """The text of a pattern without wildcards or variables, else None."""
    if all(len(token) == 1 for token in pattern):
        return "".join(pattern)
    return None


def matches(pattern: Pattern, text: str) -> bool:
    """Does the concrete `text` match `pattern`?"""
    return _regex(pattern).fullmatch(text) is not None


# What one token of the outer pattern can stand for, given one token of the inner pattern.
def _absorbs(outer: str, inner: str) -> bool:
    if outer == ONE:
        return inner not in _STARS
    if outer == SEGMENT_ONE:
        return inner == SEGMENT_ONE or (inner not in _WILDCARDS and inner != ":")
    return outer == inner


def _star_absorbs(outer: str, inner: str) -> bool:
    if outer == STAR:
        return True
    return inner in (SEGMENT_STAR, SEGMENT_ONE) or (inner not in _WILDCARDS and inner != ":")


@lru_cache(maxsize=262144)
def contains(outer: Pattern, inner: Pattern) -> bool:
    """Is every string matched by `inner` also matched by `outer`?"""
    text = concrete(inner)
    if text is not None:
        return matches(outer, text)
    seen: set[tuple[int, int]] = set()
    stack = [(0, 0)]
    while stack:
        i, j = stack.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(outer):
            if j == len(inner):
                return True
            continue
        token = outer[i]
        if token in _STARS:
            stack.append((i + 1, j))
            if j < len(inner) and _star_absorbs(token, inner[j]):
                stack.append((i, j + 1))
            continue
        if j < len(inner) and _absorbs(token, inner[j]):
            stack.append((i + 1, j + 1))
    return False


@lru_cache(maxsize=262144)
def intersects(first: Pattern, second: Pattern) -> bool:
    """Is there a string that both patterns match?"""
    text = concrete(second)
    if text is not None:
        return matches(first, text)
    text = concrete(first)
    if text is not None:
        return matches(second, text)
    if _arn_segments_differ(first, second):
        return False  # another service, region or account: no search needed
    return witness(first, second) is not None


def _arn_head(pattern: Pattern) -> list[str | None] | None:
    """The first five segments of an ARN pattern, each as text, or None for a segment holding a
    wildcard; None when the pattern does not start as an ARN with bounded segments."""
    segments: list[str | None] = []
    current: list[str] = []
    wild = False
    for token in pattern:
        if len(segments) == 5:
            break
        if token in (STAR, ONE):
            return None  # a wildcard that crosses segments
        if token == ":":
            segments.append(None if wild else "".join(current))
            current, wild = [], False
        elif token in (SEGMENT_STAR, SEGMENT_ONE) or len(token) != 1:
            wild = True
        else:
            current.append(token)
    if len(segments) < 5 or segments[0] != "arn":
        return None
    return segments


def _arn_segments_differ(first: Pattern, second: Pattern) -> bool:
    """Whether two ARN patterns name different literal partitions, services, regions or accounts."""
    a, b = _arn_head(first), _arn_head(second)
    if a is None or b is None:
        return False
    return any(x is not None and y is not None and x != y for x, y in zip(a, b))


def witness(*patterns: Pattern) -> str | None:
    """A shortest string that all `patterns` match, or None when they have none in common.

    Characters that any character could stand in for are written as `_FILLER`; use
    `render_witness` to turn them into readable text.
    """
    return PATTERNS.witness(*patterns)


def render_witness(text: str, filler: str = "x") -> str:
    return text.replace(_FILLER, filler)
