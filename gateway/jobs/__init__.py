"""Jobs: the same work ``xgate sync`` does, scheduled by procrastinate on PostgreSQL.

Invariant: a job carries no state of its own. Its arguments name *what* to work on (an
organization, a stream, a plan); the outbox, the stream cursors and the credit ledger remain
the only truth, so a job lost, retried, run twice or killed half-way is harmless and every
organization page still commits exactly once. A stream never runs twice at once (the job's
procrastinate ``lock`` plus a PostgreSQL advisory lock held while it runs); every job concerns
one organization, so one organization's failure never blocks another's jobs.

SQLite stays the embedded default with no worker: ``xgate sync`` runs the same bodies
(``gateway.jobs.bodies``) in-process. procrastinate's own tables live beside xgate's in the
same PostgreSQL schema, created by procrastinate's schema manager, outside the Alembic chain.
"""
