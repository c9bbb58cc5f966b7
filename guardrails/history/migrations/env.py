"""Alembic's environment for the history database. The connection (already in a transaction that
holds the database's migration lock) is handed in by guardrails.history.store; this file only
runs the migrations on it."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, transactional_ddl=True, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
