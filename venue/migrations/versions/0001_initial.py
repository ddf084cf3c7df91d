"""Initial schema: instruments, command and event journals, orders, trades, snapshots,
FIX session state, outbound FIX messages, FIX session events.

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = 200  # owner / ClOrdID / session id width


def upgrade() -> None:
    op.create_table(
        "instruments",
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("tick_size", sa.String(40), nullable=False),
        sa.Column("lot_size", sa.BigInteger(), nullable=False),
        sa.Column("min_qty", sa.BigInteger(), nullable=False),
        sa.Column("max_qty", sa.BigInteger(), nullable=True),
        sa.Column("price_band_pct", sa.String(40), nullable=True),
        sa.Column("reference_price", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", name="pk_instruments"),
    )
    op.create_table(
        "commands",
        sa.Column("cmd_no", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("cmd_no", name="pk_commands"),
    )
    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("owner", sa.String(_ID), nullable=True),
        sa.Column("cl_ord_id", sa.String(_ID), nullable=True),
        sa.Column("symbol", sa.String(32), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_events"),
    )
    op.create_index("ix_events_owner_cl_ord_id", "events", ["owner", "cl_ord_id"])
    op.create_index("ix_events_order_id", "events", ["order_id"])
    op.create_index("ix_events_ts_ns", "events", ["ts_ns"])
    op.create_table(
        "orders",
        sa.Column("order_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("owner", sa.String(_ID), nullable=False),
        sa.Column("cl_ord_id", sa.String(_ID), nullable=False),
        sa.Column("account", sa.String(_ID), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("side", sa.String(1), nullable=False),
        sa.Column("ord_type", sa.String(1), nullable=False),
        sa.Column("tif", sa.String(1), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=True),
        sa.Column("stop_price", sa.BigInteger(), nullable=True),
        sa.Column("expire_ns", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(1), nullable=False),
        sa.Column("cum_qty", sa.BigInteger(), nullable=False),
        sa.Column("leaves_qty", sa.BigInteger(), nullable=False),
        sa.Column("cum_notional", sa.BigInteger(), nullable=False),
        sa.Column("entered_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name="pk_orders"),
    )
    op.create_index("ix_orders_owner_cl_ord_id", "orders", ["owner", "cl_ord_id"])
    op.create_index("ix_orders_symbol_status", "orders", ["symbol", "status"])
    op.create_table(
        "trades",
        sa.Column("trade_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.Column("aggressor", sa.String(1), nullable=False),
        sa.Column("buy_order_id", sa.BigInteger(), nullable=False),
        sa.Column("buy_owner", sa.String(_ID), nullable=False),
        sa.Column("buy_account", sa.String(_ID), nullable=False),
        sa.Column("buy_cl_ord_id", sa.String(_ID), nullable=False),
        sa.Column("sell_order_id", sa.BigInteger(), nullable=False),
        sa.Column("sell_owner", sa.String(_ID), nullable=False),
        sa.Column("sell_account", sa.String(_ID), nullable=False),
        sa.Column("sell_cl_ord_id", sa.String(_ID), nullable=False),
        sa.PrimaryKeyConstraint("trade_id", name="pk_trades"),
    )
    op.create_index("ix_trades_symbol_ts_ns", "trades", ["symbol", "ts_ns"])
    op.create_index("ix_trades_ts_ns", "trades", ["ts_ns"])
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cmd_no", sa.BigInteger(), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_snapshots"),
    )
    op.create_table(
        "fix_sessions",
        sa.Column("session_id", sa.String(_ID), nullable=False),
        sa.Column("next_sender_seq", sa.BigInteger(), nullable=False),
        sa.Column("next_target_seq", sa.BigInteger(), nullable=False),
        sa.Column("creation_time_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_fix_sessions"),
    )
    op.create_table(
        "fix_messages",
        sa.Column("session_id", sa.String(_ID), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", "seq", name="pk_fix_messages"),
    )
    op.create_table(
        "fix_session_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(_ID), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_fix_session_events"),
    )
    op.create_index(
        "ix_fix_session_events_session_id_ts_ns", "fix_session_events", ["session_id", "ts_ns"]
    )


def downgrade() -> None:
    for table in (
        "fix_session_events",
        "fix_messages",
        "fix_sessions",
        "snapshots",
        "trades",
        "orders",
        "events",
        "commands",
        "instruments",
    ):
        op.drop_table(table)
