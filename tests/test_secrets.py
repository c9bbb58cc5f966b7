"""Secrets in launch data: the quick line filter never hides a line a pattern would match."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails import secrets

FRAGMENTS = ["AKIA", "ASIA", "ABCDEFGHIJKLMNOP", "-----BEGIN ", "RSA ", "PRIVATE KEY-----", "ghp_", "github_pat_",
             "glpat-", "glrt-", "GR1348941", "xoxb-", "https://hooks.slack.com/services/T0/B0/x", "--token ",
             "--registration-token=", "aws_secret_access_key", "=", ": ", '"', "Password", "PaSS", "ſecret",
             "api-key", "ACCESS_KEY", "pwd", "TOKEN", "x" * 40, "0123456789abcdefghij", " ", "é", "K"]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), max_size=10).map("".join))
def test_a_line_any_pattern_matches_passes_the_quick_filter(text):
    for line in text.splitlines() or [text]:
        matched = any(p.search(line) for _, p in secrets.PATTERNS) or secrets.GENERIC.search(line)
        if matched:
            folded = line.casefold()
            assert any(trigger in folded for trigger in secrets._TRIGGERS), line


def test_secrets_are_still_found_and_masked():
    text = "#!/bin/sh\nexport DB_PASSWORD='s3cr3t-Xq9vLm2P'\ngitlab-runner register --registration-token GR1348941abcdefghijklmnopqrstu\necho hello\n"
    hits = secrets.find_secrets(text)
    assert [(h.kind, h.line) for h in hits] == [("DB_PASSWORD assignment", 2), ("GitLab runner registration token", 3)]
    assert all("*" in h.masked for h in hits)


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.one_of(st.sampled_from([*FRAGMENTS, "'", "`", ";", "\t", ":", "==", "a.b-c_", "ı", "İ"]),
                          st.text(max_size=6)), max_size=12).map("".join))
def test_the_assignment_scan_finds_what_the_generic_pattern_finds(line):
    expected = [(m.group("key"), m.group("secret"), m.start("secret"), m.end("secret"))
                for m in secrets.GENERIC.finditer(line)]
    assert list(secrets._generic_assignments(line)) == expected


def test_a_long_line_of_key_characters_is_scanned_in_linear_time():
    # With the pattern itself this took 17 s (quadratic in the run); a user data line of base64
    # is that long.
    line = "token " + "A" * 200_000 + " password=s3cr3t-Xq9vLm2P"
    hits = secrets.find_secrets(line)
    assert [h.kind for h in hits] == ["password assignment"]
