"""Engine snapshots stored in parts: one row per part of the text, each part written in a
transaction of its own, instead of the whole text in one row.

A snapshot of 1,000,000 live orders is about 124 MB of text. Written as one row, SQLite
held its write lock for the whole insert and commit, and the group commits of the journal
waited behind it: 430-630 ms with a 128 MB text (`benchmarks/snapshot.py --store`). Written
in parts of 1 MiB, a commit waits for one part at most.

``snapshots.parts`` is the number of parts, set by the transaction after the last one: a
row whose ``parts`` is NULL is a snapshot still being written (or cut off by a crash) and
is never loaded. Stored snapshots move over as one part each.

Revision ID: 0004_snapshot_parts
Revises: 0003_fix_message_runs
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_snapshot_parts"
down_revision: str | None = "0003_fix_message_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "snapshot_parts",
        sa.Column("snapshot_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("part", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", "part", name="pk_snapshot_parts"),
    )
    op.execute(
        "INSERT INTO snapshot_parts (snapshot_id, part, text) SELECT id, 0, payload FROM snapshots"
    )
    with op.batch_alter_table("snapshots") as batch:
        batch.add_column(sa.Column("parts", sa.Integer(), nullable=True))
        batch.drop_column("payload")
    op.execute("UPDATE snapshots SET parts = 1")


def downgrade() -> None:
    bind = op.get_bind()
    op.execute("DELETE FROM snapshots WHERE parts IS NULL")
    with op.batch_alter_table("snapshots") as batch:
        batch.add_column(sa.Column("payload", sa.Text(), nullable=True))
    ids = bind.execute(sa.text("SELECT id FROM snapshots")).scalars().all()
    for snapshot_id in ids:
        parts = bind.execute(
            sa.text("SELECT text FROM snapshot_parts WHERE snapshot_id = :i ORDER BY part"),
            {"i": snapshot_id},
        ).scalars()
        bind.execute(
            sa.text("UPDATE snapshots SET payload = :p WHERE id = :i"),
            {"p": "".join(parts), "i": snapshot_id},
        )
    with op.batch_alter_table("snapshots") as batch:
        batch.alter_column("payload", existing_type=sa.Text(), nullable=False)
        batch.drop_column("parts")
    op.drop_table("snapshot_parts")
