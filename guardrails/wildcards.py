"""Glob-like patterns as tuples of tokens, and the one question asked of several of them: is there a
string that every pattern matches, and which?

Policy languages write patterns with wildcards (`*` any run of characters, `?` one), and some
wildcards stay inside one part of the string (an IAM ARN's `*` before the resource part never
crosses a `:`). A reader turns its patterns into tokens (one-character literals, its wildcard
tokens, and opaque tokens such as a policy variable, which equal nothing but themselves) and
describes its wildcards as an `Alphabet`; the search and the matching are then the same for every
reader. The IAM evaluator (providers/aws/iam_patterns.py) and the federation judge
(guardrails/federation.py) both ask it.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

FILLER = "\x01"  # a character any wildcard stood for in a witness; never a literal of a pattern

Pattern = tuple[str, ...]


@dataclass(frozen=True)
class Wildcard:
    """What one wildcard token stands for: any run of characters (`many`) or exactly one, never one
    of `excludes`."""

    many: bool
    excludes: frozenset[str] = frozenset()


class Alphabet:
    """The wildcard tokens of one pattern language. Any other token is a literal: a one-character
    token is that character, a longer one is opaque (it equals only itself and matches no text)."""

    def __init__(self, wildcards: Mapping[str, Wildcard], cache_size: int = 65536) -> None:
        self.wildcards = dict(wildcards)
        self.stars = frozenset(token for token, wild in self.wildcards.items() if wild.many)
        self._excludes = {token: wild.excludes for token, wild in self.wildcards.items()}
        self.regex = lru_cache(maxsize=cache_size)(self._regex)  # a cache of its own per language

    def is_literal(self, pattern: Pattern) -> bool:
        """Whether the pattern holds no wildcard."""
        return not any(token in self.wildcards for token in pattern)

    def _regex(self, pattern: Pattern) -> re.Pattern[str]:
        """The pattern as a regular expression over concrete text (`regex`, cached)."""
        parts = []
        for token in pattern:
            wild = self.wildcards.get(token)
            if wild is not None:
                one = f"[^{''.join(re.escape(c) for c in sorted(wild.excludes))}]" if wild.excludes else "."
                parts.append(one + "*" if wild.many else one)
            elif len(token) == 1:
                parts.append(re.escape(token))
            else:
                parts.append("(?!)")  # an opaque token matches no concrete text
        return re.compile("".join(parts), re.DOTALL)

    def _allows(self, token: str, char: str) -> bool:
        """Whether a wildcard or literal token can stand for `char` (a literal, or FILLER)."""
        excludes = self._excludes.get(token)
        if excludes is None:
            return token == char
        return char not in excludes

    def witness(self, *patterns: Pattern) -> str | None:
        """A shortest string every pattern matches, or None when they have none in common.
        Characters that any wildcard could stand for are written as FILLER; an opaque token stands
        for itself. Among several shortest strings, the one the breadth-first search meets first."""
        for pattern in patterns:
            if all(len(token) == 1 for token in pattern) and self.is_literal(pattern):
                text = "".join(pattern)  # a plain string: does every other pattern match it?
                return text if all(self.regex(p).fullmatch(text) for p in patterns if p is not pattern) else None
        if len(patterns) == 2:
            return self._witness_of_two(*patterns)
        count = len(patterns)
        start = (0,) * count
        parents: dict[tuple[int, ...], tuple[tuple[int, ...], str] | None] = {start: None}
        queue: deque[tuple[int, ...]] = deque([start])
        while queue:
            state = queue.popleft()
            if all(state[k] == len(patterns[k]) for k in range(count)):
                return _spell(parents, state)
            for k in range(count):  # a star may stand for nothing: free moves, explored first
                if state[k] < len(patterns[k]) and patterns[k][state[k]] in self.stars:
                    following = state[:k] + (state[k] + 1,) + state[k + 1:]
                    if following not in parents:
                        parents[following] = (state, "")
                        queue.appendleft(following)
            if any(state[k] == len(patterns[k]) for k in range(count)):
                continue
            current = [patterns[k][state[k]] for k in range(count)]
            literals = {token for token in current if token not in self.wildcards}
            if len(literals) > 1:
                continue
            char = literals.pop() if literals else FILLER
            if char != FILLER and not all(self._allows(token, char) for token in current):
                continue
            following = tuple(state[k] if current[k] in self.stars else state[k] + 1 for k in range(count))
            if following not in parents:
                parents[following] = (state, char)
                queue.append(following)
        return None

    def _witness_of_two(self, first: Pattern, second: Pattern) -> str | None:
        """witness() for two patterns, the usual question, with the state as one integer."""
        n, m = len(first), len(second)
        width = m + 1
        star_a = [t in self.stars for t in first] + [False]
        star_b = [t in self.stars for t in second] + [False]
        wild_a = [t in self.wildcards for t in first]
        wild_b = [t in self.wildcards for t in second]
        end = n * width + m
        parents: dict[int, tuple[int, str] | None] = {0: None}
        queue: deque[int] = deque([0])
        while queue:
            state = queue.popleft()
            if state == end:
                return _spell(parents, state)
            i, j = divmod(state, width)
            if star_a[i] and state + width not in parents:
                parents[state + width] = (state, "")
                queue.appendleft(state + width)
            if star_b[j] and state + 1 not in parents:
                parents[state + 1] = (state, "")
                queue.appendleft(state + 1)
            if i == n or j == m:
                continue
            a, b = first[i], second[j]
            if wild_a[i]:
                if wild_b[j]:
                    char = FILLER  # a character no wildcard excludes
                else:
                    char = b
                    if not self._allows(a, char):
                        continue
            elif wild_b[j]:
                char = a
                if not self._allows(b, char):
                    continue
            elif a == b:
                char = a
            else:
                continue
            following = state + (0 if star_a[i] else width) + (0 if star_b[j] else 1)
            if following not in parents:
                parents[following] = (state, char)
                queue.append(following)
        return None


def _spell(parents: dict, state) -> str:
    chars = []
    while parents[state] is not None:
        state, char = parents[state]
        chars.append(char)
    return "".join(reversed(chars))
