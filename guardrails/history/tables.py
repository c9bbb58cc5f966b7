"""The history database's tables, as SQLAlchemy Core metadata. The schema is created and changed
only by the versioned migrations beside this module (migrations/versions); this metadata mirrors
the latest of them and is what the queries are written against."""

from __future__ import annotations

from sqlalchemy import (JSON, Boolean, Column, DateTime, ForeignKey, Index, Integer, MetaData, String, Table, Text,
                        UniqueConstraint)

metadata = MetaData()

# One row per audit. `status` is "running" from the moment the audit starts until its results are
# recorded ("complete"), so a run that died halfway stays visible and is never diffed against.
runs = Table(
    "runs", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("scope", String(512), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("tool_version", String(32), nullable=False),
    Column("actor", String(200)),
    Column("sources", JSON),
    Column("summary", JSON),
    Column("changes", JSON),
    Column("gaps", JSON),
    Column("coverage_complete", Boolean),
    Index("ix_runs_scope_status", "scope", "status", "seq"),
)

# The life of each finding of a scope, by fingerprint (check and resource).
findings = Table(
    "findings", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", String(512), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("check_id", String(100), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("confidence", String(16), nullable=False),
    Column("resource_id", Text, nullable=False),
    Column("resource_name", Text),
    Column("account", String(200)),
    Column("provider", String(32)),
    Column("message", Text),
    Column("status", String(16), nullable=False),  # open, suppressed or fixed
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("fixed_at", DateTime(timezone=True)),
    Column("reopened_count", Integer, nullable=False, default=0),
    Column("first_run", String(64), nullable=False),
    Column("last_run", String(64), nullable=False),
    UniqueConstraint("scope", "fingerprint", name="uq_findings_scope_fingerprint"),
)

# What each run saw of each finding, and how that changed from the previous run: the trends.
run_findings = Table(
    "run_findings", metadata,
    Column("run_seq", Integer, ForeignKey("runs.seq", ondelete="CASCADE"), primary_key=True),
    Column("fingerprint", String(64), primary_key=True),
    Column("check_id", String(100), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("account", String(200)),
    Column("status", String(16), nullable=False),  # open, suppressed, fixed or unseen
    Column("change", String(24), nullable=False),
    Index("ix_run_findings_check", "check_id"),
)

# Suppressions as decisions: what was accepted, by whom, why and until when, from which run on.
decisions = Table(
    "decisions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", String(512), nullable=False),
    Column("check_id", String(100), nullable=False),
    Column("resource", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("expires", String(10)),
    Column("decided_by", String(200)),
    Column("first_recorded_at", DateTime(timezone=True), nullable=False),
    Column("first_run", String(64), nullable=False),
    Column("last_run", String(64), nullable=False),
    Column("withdrawn_at", DateTime(timezone=True)),
    Index("ix_decisions_scope", "scope"),
)
