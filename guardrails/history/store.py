"""The history database: opening it (migrating it to the latest schema), recording audits, and
reading runs and trends back.

Concurrency: recording a run is one transaction that holds the scope's lock for its whole length
(PostgreSQL: a transaction-level advisory lock on the scope; SQLite: the database's write lock,
taken as the transaction begins), so two audits of one scope never interleave: the second waits,
then compares itself with the first. A process that dies inside the transaction leaves nothing of
it behind (the database rolls it back), and a run that died before it stays "running" and is never
taken as the previous run.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from guardrails import __version__
from guardrails.diff import Changes, Prior, compare, coverage_complete
from guardrails.errors import UserError
from guardrails.history.tables import decisions, findings, run_findings, runs
from guardrails.severity import SEVERITIES

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT = 120.0  # seconds an SQLite writer waits for another to finish
# The newest revision under migrations/versions (tests/test_history.py checks it is Alembic's head).
SCHEMA_REVISION = "0001"
MIGRATION_LOCK = 0x67726473  # PostgreSQL advisory lock key held while the schema is migrated


def default_database() -> Path:
    """history.sqlite in the user's data directory (XDG_DATA_HOME on Linux)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("pipeline-guardrails", appauthor=False)) / "history.sqlite"


def database_url(given: str | None) -> str:
    """A SQLAlchemy URL from what --db was given: a URL, or a path to an SQLite file."""
    if not given:
        path = default_database()
    elif "://" in given:
        scheme, rest = given.split("://", 1)
        if scheme in ("postgresql", "postgres"):
            return f"postgresql+psycopg://{rest}"  # psycopg 3, not SQLAlchemy's default psycopg2
        if scheme.startswith(("postgresql+", "sqlite")):
            return given
        raise UserError(f"--db: unsupported database {scheme!r} (give an SQLite file path or a postgresql:// URL)")
    else:
        path = Path(given).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--db: cannot create {path.parent} ({exc.strerror})") from None
    return f"sqlite:///{path}"


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT})

        @event.listens_for(engine, "connect")
        def _no_driver_transactions(dbapi_connection, _record) -> None:
            # SQLAlchemy, not the sqlite3 module, decides where transactions begin (below).
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA foreign_keys = ON")

        @event.listens_for(engine, "begin")
        def _write_lock_at_begin(connection) -> None:
            # The write lock from the first statement: two audits never both read the old state
            # and then both write their own view of it.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def open_store(given: str | None) -> "HistoryStore":
    """The history database named by --db (default: the SQLite file in the user's data
    directory), migrated to the latest schema. One-line UserError when it cannot be reached."""
    url = database_url(given)
    try:
        engine = _engine(url)
        with engine.begin() as connection:
            _migrate(connection)
    except ModuleNotFoundError as exc:
        raise UserError(f"--db: the database driver is not installed ({exc.name}); install "
                        f"pipeline-guardrails[postgresql]") from None
    except sa.exc.SQLAlchemyError as exc:
        raise UserError(f"--db: cannot open the history database: {one_line(exc)}") from None
    return HistoryStore(engine)


def _revision(connection: Connection) -> str | None:
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def _migrate(connection: Connection) -> None:
    """Bring the schema to the latest revision, under a lock so that two first audits do not both
    create it (PostgreSQL: an advisory lock; SQLite: the write lock every transaction takes)."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    if _revision(connection) == SCHEMA_REVISION:
        return  # the usual case, without loading Alembic and its scripts
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return " ".join(text.split())[:300]


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives back naive datetimes: they were written in UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def actor() -> str:
    """Who runs the audit: GUARDRAILS_ACTOR (a CI job's name, say), else the login name."""
    try:
        return os.environ.get("GUARDRAILS_ACTOR") or getpass.getuser()
    except (KeyError, OSError):  # no login name for this uid (a container, say)
        return f"uid {os.getuid()}"


@dataclass(frozen=True)
class Recorded:
    """What recording a run found: the changes, the previous complete run of the scope (or None)
    and its coverage."""

    changes: Changes
    previous: dict | None
    previous_complete: bool | None
    run_number: int


class HistoryStore:
    """One history database. Every method is a transaction of its own."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @contextmanager
    def _scope_locked(self, scope: str) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                key = int.from_bytes(hashlib.sha256(scope.encode()).digest()[:8], "big", signed=True)
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            yield connection

    def begin_run(self, run_id: str, scope: str, started_at: dt.datetime) -> None:
        """Say that an audit of `scope` started: it shows as running until it is recorded."""
        with self.engine.begin() as connection:
            connection.execute(runs.insert().values(id=run_id, scope=scope, status="running", started_at=started_at,
                                                    tool_version=__version__, actor=actor()))

    def record(self, run_id: str, scope: str, document: dict, suppressions: list, now: dt.datetime) -> Recorded:
        """Record a finished scan of `scope` (its findings document) in one transaction: the new
        state of each finding, what this run saw, the suppression decisions, and the changes from
        the previous complete run of the scope, which are returned."""
        with self._scope_locked(scope) as connection:
            previous = connection.execute(
                sa.select(runs).where(runs.c.scope == scope, runs.c.status == "complete")
                .order_by(runs.c.seq.desc()).limit(1)).mappings().first()
            known = {row.fingerprint: row for row in
                     connection.execute(sa.select(findings).where(findings.c.scope == scope)).mappings()}
            priors = {fp: Prior(status=row.status, brief=_brief_of(row), first_seen=_utc(row.first_seen),
                                reopened_count=row.reopened_count) for fp, row in known.items()}
            gaps = document["coverage"].get("gaps") or []
            changes = compare(priors, document["findings"], list(previous.gaps or []) if previous else [], gaps, now)
            current = {f["id"]: f for f in document["findings"]}
            self._update_findings(connection, scope, run_id, known, current, changes, now)
            seq = connection.execute(sa.select(runs.c.seq).where(runs.c.id == run_id)).scalar_one_or_none()
            if seq is None:  # begin_run was not called (or its row is gone): record the run whole here
                seq = connection.execute(runs.insert().values(
                    id=run_id, scope=scope, status="running", started_at=now, tool_version=__version__,
                    actor=actor())).inserted_primary_key[0]
            self._record_observations(connection, seq, current, changes)
            self._record_decisions(connection, scope, run_id, suppressions, now)
            summary = dict(document["summary"])
            counts = {name: changes.count(name) for name in changes.categories}
            counts["gaps_appeared"], counts["gaps_cleared"] = len(changes.gaps_appeared), len(changes.gaps_cleared)
            connection.execute(runs.update().where(runs.c.seq == seq).values(
                scope=scope, status="complete", finished_at=dt.datetime.now(dt.timezone.utc),
                sources=document["scan"]["sources"],
                summary=summary, changes=counts, gaps=gaps, coverage_complete=coverage_complete(document)))
            number = connection.execute(sa.select(sa.func.count()).select_from(runs).where(
                runs.c.scope == scope, runs.c.status == "complete")).scalar_one()
        return Recorded(changes, _run_brief(previous) if previous else None,
                        previous.coverage_complete if previous else None, number)

    @staticmethod
    def _update_findings(connection: Connection, scope: str, run_id: str, known: dict, current: dict,
                         changes: Changes, now: dt.datetime) -> None:
        for fingerprint, finding in current.items():
            resource = finding.get("resource") or {}
            values = {"check_id": finding["check_id"], "severity": finding["severity"],
                      "confidence": finding.get("confidence", "confirmed"), "resource_id": str(resource.get("id")),
                      "resource_name": resource.get("name"), "account": _text(resource.get("account")),
                      "provider": resource.get("provider"), "message": finding.get("message"),
                      "status": finding["status"], "last_seen": now, "last_run": run_id, "fixed_at": None}
            row = known.get(fingerprint)
            if row is None:
                connection.execute(findings.insert().values(scope=scope, fingerprint=fingerprint, first_seen=now,
                                                            first_run=run_id, reopened_count=0, **values))
                continue
            if row.status == "fixed":
                values["reopened_count"] = row.reopened_count + 1
            connection.execute(findings.update().where(findings.c.id == row.id).values(**values))
        for item in changes.categories["fixed"]:
            connection.execute(findings.update().where(findings.c.scope == scope,
                                                       findings.c.fingerprint == item["id"])
                               .values(status="fixed", fixed_at=now, last_run=run_id))

    @staticmethod
    def _record_observations(connection: Connection, seq: int, current: dict, changes: Changes) -> None:
        rows = []
        for name, items in changes.categories.items():
            for item in items:
                status = current[item["id"]]["status"] if item["id"] in current else (
                    "fixed" if name == "fixed" else "unseen")
                rows.append({"run_seq": seq, "fingerprint": item["id"], "check_id": item["check_id"],
                             "severity": item["severity"], "account": _text(item["resource"].get("account")),
                             "status": status, "change": name})
        if rows:
            connection.execute(run_findings.insert(), rows)

    @staticmethod
    def _record_decisions(connection: Connection, scope: str, run_id: str, suppressions: list,
                          now: dt.datetime) -> None:
        """Each suppression of the configuration is a decision: recorded when first met, kept while
        the configuration holds it, and withdrawn when it no longer does."""
        standing = {row.id: row for row in connection.execute(
            sa.select(decisions).where(decisions.c.scope == scope, decisions.c.withdrawn_at.is_(None))).mappings()}
        held = set()
        for suppression in suppressions:
            key = (suppression.check, suppression.resource, suppression.reason, suppression.expires,
                   getattr(suppression, "by", None))
            match = next((row_id for row_id, row in standing.items()
                          if (row.check_id, row.resource, row.reason, row.expires, row.decided_by) == key), None)
            if match is None:
                connection.execute(decisions.insert().values(
                    scope=scope, check_id=suppression.check, resource=suppression.resource, reason=suppression.reason,
                    expires=suppression.expires, decided_by=key[4], first_recorded_at=now, first_run=run_id,
                    last_run=run_id))
            else:
                held.add(match)
                connection.execute(decisions.update().where(decisions.c.id == match).values(last_run=run_id))
        for row_id in standing.keys() - held:
            connection.execute(decisions.update().where(decisions.c.id == row_id).values(withdrawn_at=now))

    # reading

    def runs(self, scope: str | None = None, limit: int = 20) -> list[dict]:
        """The latest runs, newest first (of one scope, or of all)."""
        query = sa.select(runs).order_by(runs.c.seq.desc()).limit(limit)
        if scope:
            query = query.where(runs.c.scope == scope)
        with self.engine.connect() as connection:
            return [_run_row(row) for row in connection.execute(query).mappings()]

    def trends(self, scope: str, by: str, limit: int = 10) -> tuple[list[dict], dict[str, list[int]]]:
        """Open findings per check (by="check"), per account (by="account") or per severity
        (by="severity") in each of the latest complete runs of `scope`: the runs, oldest first, and
        a count per run for each key."""
        column = {"check": run_findings.c.check_id, "account": run_findings.c.account,
                  "severity": run_findings.c.severity}[by]
        with self.engine.connect() as connection:
            latest = [_run_row(row) for row in connection.execute(
                sa.select(runs).where(runs.c.scope == scope, runs.c.status == "complete")
                .order_by(runs.c.seq.desc()).limit(limit)).mappings()][::-1]
            seqs = [run["seq"] for run in latest]
            counts: dict[str, list[int]] = {}
            if seqs:
                rows = connection.execute(
                    sa.select(run_findings.c.run_seq, column, sa.func.count())
                    .where(run_findings.c.run_seq.in_(seqs), run_findings.c.status == "open")
                    .group_by(run_findings.c.run_seq, column)).all()
                position = {seq: n for n, seq in enumerate(seqs)}
                for seq, key, count in rows:
                    counts.setdefault(str(key) if key is not None else "-", [0] * len(seqs))[position[seq]] = count
        return latest, dict(sorted(counts.items()))

    def severity_trend(self, scope: str, limit: int = 30) -> dict:
        """Open findings by severity in each of the latest complete runs of `scope`, oldest first
        (counted as `trends` counts them): what the HTML report's trend chart draws."""
        latest, counts = self.trends(scope, "severity", limit)
        return {"scope": scope, "runs": [
            {"id": run["id"], "started_at": _iso(run["started_at"]), "complete": bool(run["coverage_complete"]),
             "by_severity": {severity: counts.get(severity, [0] * len(latest))[n] for severity in SEVERITIES}}
            for n, run in enumerate(latest)]}

    def scopes(self) -> list[str]:
        with self.engine.connect() as connection:
            return list(connection.execute(sa.select(runs.c.scope).distinct().order_by(runs.c.scope)).scalars())

    def finding_states(self, scope: str) -> list[dict]:
        """The life of every finding of `scope` (first seen, last seen, fixed at, reopened count)."""
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(findings).where(findings.c.scope == scope)
                                      .order_by(findings.c.fingerprint)).mappings().all()
        return [{**dict(row), "first_seen": _utc(row.first_seen), "last_seen": _utc(row.last_seen),
                 "fixed_at": _utc(row.fixed_at)} for row in rows]

    def decisions(self, scope: str) -> list[dict]:
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(
                sa.select(decisions).where(decisions.c.scope == scope).order_by(decisions.c.id)).mappings()]

    def close(self) -> None:
        self.engine.dispose()


def _brief_of(row) -> dict:
    return {"id": row.fingerprint, "check_id": row.check_id, "severity": row.severity, "confidence": row.confidence,
            "title": "", "message": row.message or "",
            "resource": {"id": row.resource_id, "name": row.resource_name, "account": row.account,
                         "provider": row.provider},
            "suppression": None}


def _run_brief(row) -> dict:
    return {"id": row.id, "started_at": _iso(_utc(row.started_at))}


def _run_row(row) -> dict:
    return {**dict(row), "started_at": _utc(row.started_at), "finished_at": _utc(row.finished_at)}


def _text(value) -> str | None:
    return None if value is None else str(value)


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
