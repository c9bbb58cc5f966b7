"""The history of audits: each run of `guardrails audit`, the life of each finding (first seen,
last seen, fixed at, times reopened), suppressions recorded as decisions, and what changed from
one run of a scope to the next. Kept through SQLAlchemy in SQLite (a file, the default) or
PostgreSQL (a URL), with a schema created and changed by versioned Alembic migrations."""

from guardrails.history.store import HistoryStore, default_database, open_store  # noqa: F401
