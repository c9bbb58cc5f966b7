"""The one search for a string several wildcard patterns share (guardrails/wildcards.py), in the two
languages that ask it: IAM's patterns and the federation judge's subject patterns and regions.

Each language's meaning is written here again as plain regular expressions, independently of the
module: a witness must match every pattern by them, and when the search says there is none, no
string a brute-force enumeration or a random draw builds matches them all."""

from __future__ import annotations

import itertools
import random
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.federation import SUBJECTS, _tokens
from guardrails.providers.aws.iam_patterns import ONE, PATTERNS, SEGMENT_ONE, SEGMENT_STAR, STAR
from guardrails.wildcards import FILLER

# What each wildcard means, as regular expressions: IAM's `*` and `?`, and the ones that stay in an
# ARN segment; the subject language's `*`, `?`, a name's `%` and `+` and a field's `&`.
IAM_MEANING = {STAR: ".*", ONE: ".", SEGMENT_STAR: "[^:]*", SEGMENT_ONE: "[^:]"}
SUBJECT_MEANING = {"*": ".*", "?": ".", "%": "[^/:{}]*", "+": "[^/:{}]", "&": "[^:]*"}
VARIABLE = "${aws:username}"  # an opaque token: equals itself only
SYMBOL = "\x02"


def iam_regex(pattern: tuple[str, ...]) -> str:
    return "".join(IAM_MEANING.get(t) or re.escape(SYMBOL if t == VARIABLE else t) for t in pattern)


def subject_regex(text: str) -> str:
    return "".join(SUBJECT_MEANING.get(c) or re.escape(c) for c in text)


def none_match(regexes: list[str], letters: str, seed: str) -> bool:
    """No string of `letters` up to four long, nor any of 300 random longer ones, matches every regex."""
    compiled = [re.compile(r, re.DOTALL) for r in regexes]
    candidates = ("".join(c) for n in range(5) for c in itertools.product(letters, repeat=n))
    draw = random.Random(seed)
    randoms = ("".join(draw.choice(letters) for _ in range(draw.randint(5, 12))) for _ in range(300))
    return not any(all(r.fullmatch(text) for r in compiled) for text in itertools.chain(candidates, randoms))


iam_token = st.sampled_from(["a", "b", ":", STAR, ONE, SEGMENT_STAR, SEGMENT_ONE, VARIABLE])
iam_patterns = st.lists(st.lists(iam_token, max_size=6).map(tuple), min_size=1, max_size=3)
subject_patterns = st.lists(st.tuples(st.text(alphabet="ab/:{*?%+&", max_size=6), st.booleans()),
                            min_size=1, max_size=3)


@settings(max_examples=150, deadline=None)
@given(patterns=iam_patterns)
def test_an_iam_witness_matches_every_pattern_and_none_means_none(patterns):
    # The search takes an opaque token as one symbol of its own: written here as SYMBOL.
    regexes = [iam_regex(p) for p in patterns]
    found = PATTERNS.witness(*patterns)
    if found is None:
        assert none_match(regexes, "ab:x" + SYMBOL, repr(patterns))
    else:
        for text in (found, found.replace(FILLER, "x")):  # a filler stands for any character but `:`
            text = text.replace(VARIABLE, SYMBOL)
            assert all(re.fullmatch(r, text, re.DOTALL) for r in regexes), (patterns, text)


@settings(max_examples=150, deadline=None)
@given(patterns=subject_patterns)
def test_a_subject_witness_matches_every_pattern_and_none_means_none(patterns):
    # A policy pattern knows only `*` and `?`: its other characters are literal.
    regexes = [subject_regex(text) if region else
               "".join({"*": ".*", "?": "."}.get(c) or re.escape(c) for c in text) for text, region in patterns]
    found = SUBJECTS.witness(*[_tokens(text, region) for text, region in patterns])
    if found is None:
        assert none_match(regexes, "ab/:{x", repr(patterns))
    else:
        for text in (found, found.replace(FILLER, "x")):  # a filler stands for any character
            assert all(re.fullmatch(r, text, re.DOTALL) for r in regexes), (patterns, text)


def test_a_plain_string_is_its_own_witness_or_none():
    star = _tokens("repo:*", False)
    assert SUBJECTS.witness(tuple("repo:acme/app"), star) == "repo:acme/app"
    assert SUBJECTS.witness(tuple("org:acme"), star) is None
    # A name wildcard stops at a separator; an opaque variable equals only itself.
    assert SUBJECTS.witness(_tokens("repo:%", True), tuple("repo:a/b")) is None
    assert PATTERNS.witness((SEGMENT_STAR, "x"), tuple(":x")) is None
    assert PATTERNS.witness((STAR, VARIABLE), ("a", VARIABLE)) == "a" + VARIABLE
