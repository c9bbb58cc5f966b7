"""The first history schema: runs, the life of each finding, what each run saw, suppression decisions.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("scope", sa.String(512), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("finished_at", UTC_TIME),
        sa.Column("tool_version", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200)),
        sa.Column("sources", sa.JSON),
        sa.Column("summary", sa.JSON),
        sa.Column("changes", sa.JSON),
        sa.Column("gaps", sa.JSON),
        sa.Column("coverage_complete", sa.Boolean),
    )
    op.create_index("ix_runs_scope_status", "runs", ["scope", "status", "seq"])
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scope", sa.String(512), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("check_id", sa.String(100), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("confidence", sa.String(16), nullable=False),
        sa.Column("resource_id", sa.Text, nullable=False),
        sa.Column("resource_name", sa.Text),
        sa.Column("account", sa.String(200)),
        sa.Column("provider", sa.String(32)),
        sa.Column("message", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("first_seen", UTC_TIME, nullable=False),
        sa.Column("last_seen", UTC_TIME, nullable=False),
        sa.Column("fixed_at", UTC_TIME),
        sa.Column("reopened_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("first_run", sa.String(64), nullable=False),
        sa.Column("last_run", sa.String(64), nullable=False),
        sa.UniqueConstraint("scope", "fingerprint", name="uq_findings_scope_fingerprint"),
    )
    op.create_table(
        "run_findings",
        sa.Column("run_seq", sa.Integer, sa.ForeignKey("runs.seq", ondelete="CASCADE"), primary_key=True),
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("check_id", sa.String(100), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("account", sa.String(200)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("change", sa.String(24), nullable=False),
    )
    op.create_index("ix_run_findings_check", "run_findings", ["check_id"])
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scope", sa.String(512), nullable=False),
        sa.Column("check_id", sa.String(100), nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("expires", sa.String(10)),
        sa.Column("decided_by", sa.String(200)),
        sa.Column("first_recorded_at", UTC_TIME, nullable=False),
        sa.Column("first_run", sa.String(64), nullable=False),
        sa.Column("last_run", sa.String(64), nullable=False),
        sa.Column("withdrawn_at", UTC_TIME),
    )
    op.create_index("ix_decisions_scope", "decisions", ["scope"])


def downgrade() -> None:
    op.drop_table("decisions")
    op.drop_table("run_findings")
    op.drop_table("findings")
    op.drop_table("runs")
