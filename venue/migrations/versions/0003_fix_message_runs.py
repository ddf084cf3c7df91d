"""Outbound FIX messages stored as runs: one row per run of consecutive MsgSeqNums that a
group commit stored for a session, instead of one row per message.

A batch of the closed-loop benchmark holds ~60 outbound messages over two sessions: 60 rows
(and 60 entries of the primary key's index) became two. Measured by replaying a recorded
closed-loop journal into SQLite in batches of 35 commands: 59.9 WAL pages per batch before,
54.7 after, and 12 % less CPU in the writer process.

The stored messages move over as runs of one message each.

Revision ID: 0003_fix_message_runs
Revises: 0002_fewer_write_indexes
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_fix_message_runs"
down_revision: str | None = "0002_fewer_write_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = 200


def upgrade() -> None:
    op.create_table(
        "fix_message_runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("session_id", sa.String(_ID), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("sizes", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_fix_message_runs"),
    )
    op.create_index(
        "ix_fix_message_runs_session_id_last_seq", "fix_message_runs", ["session_id", "last_seq"]
    )
    op.execute(
        "INSERT INTO fix_message_runs (session_id, first_seq, last_seq, sizes, raw) "
        "SELECT session_id, seq, seq, CAST(length(raw) AS TEXT), raw FROM fix_messages "
        "ORDER BY session_id, seq"
    )
    op.drop_table("fix_messages")


def downgrade() -> None:
    op.create_table(
        "fix_messages",
        sa.Column("session_id", sa.String(_ID), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", "seq", name="pk_fix_messages"),
    )
    bind = op.get_bind()
    runs = bind.execute(
        sa.text("SELECT session_id, first_seq, sizes, raw FROM fix_message_runs ORDER BY id")
    )
    messages: dict[tuple[str, int], bytes] = {}
    for session_id, first, sizes, raw in runs:
        data, pos = bytes(raw), 0
        for seq, size in enumerate(map(int, sizes.split(",")), start=first):
            messages[(session_id, seq)] = data[pos : pos + size]
            pos += size
    if messages:
        bind.execute(
            sa.text("INSERT INTO fix_messages (session_id, seq, raw) VALUES (:s, :n, :r)"),
            [{"s": s, "n": n, "r": r} for (s, n), r in messages.items()],
        )
    op.drop_index("ix_fix_message_runs_session_id_last_seq", table_name="fix_message_runs")
    op.drop_table("fix_message_runs")
