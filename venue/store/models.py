"""The venue's tables, as typed SQLAlchemy ORM models.

The store writes them through Core (``Model.__table__``) on the hot path; reports and
tools may use the ORM classes. The schema itself is owned by the Alembic migrations in
``venue/migrations``; a test checks that the migrations and these models agree.

Conventions: nanosecond timestamps, prices (ticks), quantities and notionals are
``BigInteger``; enums are stored as their string values (FIX values for FIX enums);
decimals (tick size, band) as strings; payloads as compact JSON text
(see :mod:`venue.store.codec`).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class InstrumentRow(Base):
    __tablename__ = "instruments"

    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    tick_size: Mapped[str] = mapped_column(String(40))
    lot_size: Mapped[int] = mapped_column(BigInteger)
    min_qty: Mapped[int] = mapped_column(BigInteger)
    max_qty: Mapped[int | None] = mapped_column(BigInteger)
    price_band_pct: Mapped[str | None] = mapped_column(String(40))
    reference_price: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)


class CommandRow(Base):
    """The command journal: every command the engine handled, gapless by ``cmd_no``."""

    __tablename__ = "commands"

    cmd_no: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts_ns: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)


class EventRow(Base):
    """The execution journal: every event, gapless by ``seq``.

    ``cl_ord_id`` is the ClOrdID the event answers (the order's for order events, the
    request's for rejections, cancels, cancel rejects and mass cancels; NULL for status
    reports and venue events), so ``(owner, cl_ord_id)`` answers "has this owner used
    this ClOrdID" for PossResend duplicate detection.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index(None, "owner", "cl_ord_id"),  # "has this owner used this ClOrdID"
        Index(None, "ts_ns"),  # the day's events, for reports
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts_ns: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[int | None] = mapped_column(BigInteger)
    owner: Mapped[str | None] = mapped_column(String(200))
    cl_ord_id: Mapped[str | None] = mapped_column(String(200))
    symbol: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)


class OrderRow(Base):
    """Current state of every order ever accepted (upserted from events).

    Only the primary key is indexed: each group commit updates the rows of the orders it
    touched, and every secondary index would add pages to each commit (see migration
    0002); queries by owner, symbol or status scan the table.
    """

    __tablename__ = "orders"

    order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    owner: Mapped[str] = mapped_column(String(200))
    cl_ord_id: Mapped[str] = mapped_column(String(200))
    account: Mapped[str] = mapped_column(String(200))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(1))
    ord_type: Mapped[str] = mapped_column(String(1))
    tif: Mapped[str] = mapped_column(String(1))
    qty: Mapped[int] = mapped_column(BigInteger)
    price: Mapped[int | None] = mapped_column(BigInteger)
    stop_price: Mapped[int | None] = mapped_column(BigInteger)
    expire_ns: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(1))
    cum_qty: Mapped[int] = mapped_column(BigInteger)
    leaves_qty: Mapped[int] = mapped_column(BigInteger)
    cum_notional: Mapped[int] = mapped_column(BigInteger)
    entered_ns: Mapped[int] = mapped_column(BigInteger)
    updated_ns: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)


class TradeRow(Base):
    __tablename__ = "trades"
    __table_args__ = (Index(None, "symbol", "ts_ns"), Index(None, "ts_ns"))

    trade_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    ts_ns: Mapped[int] = mapped_column(BigInteger)
    symbol: Mapped[str] = mapped_column(String(32))
    price: Mapped[int] = mapped_column(BigInteger)
    qty: Mapped[int] = mapped_column(BigInteger)
    aggressor: Mapped[str] = mapped_column(String(1))
    buy_order_id: Mapped[int] = mapped_column(BigInteger)
    buy_owner: Mapped[str] = mapped_column(String(200))
    buy_account: Mapped[str] = mapped_column(String(200))
    buy_cl_ord_id: Mapped[str] = mapped_column(String(200))
    sell_order_id: Mapped[int] = mapped_column(BigInteger)
    sell_owner: Mapped[str] = mapped_column(String(200))
    sell_account: Mapped[str] = mapped_column(String(200))
    sell_cl_ord_id: Mapped[str] = mapped_column(String(200))


class SnapshotRow(Base):
    """An engine snapshot taken after command ``cmd_no`` (last event ``event_seq``), its
    text in ``parts`` rows of ``snapshot_parts``. ``parts`` is NULL while the parts are
    being written: such a snapshot is incomplete and never loaded."""

    __tablename__ = "snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cmd_no: Mapped[int] = mapped_column(BigInteger)
    event_seq: Mapped[int] = mapped_column(BigInteger)
    created_ns: Mapped[int] = mapped_column(BigInteger)
    parts: Mapped[int | None] = mapped_column(Integer)


class SnapshotPartRow(Base):
    """Part ``part`` (from 0) of the text of snapshot ``snapshot_id``: the text is the
    parts joined in order."""

    __tablename__ = "snapshot_parts"

    snapshot_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    part: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    text: Mapped[str] = mapped_column(Text)


class FixSessionRow(Base):
    __tablename__ = "fix_sessions"

    session_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    next_sender_seq: Mapped[int] = mapped_column(BigInteger)
    next_target_seq: Mapped[int] = mapped_column(BigInteger)
    creation_time_ns: Mapped[int] = mapped_column(BigInteger)


class FixMessageRunRow(Base):
    """Outbound FIX messages, kept for ResendRequest: one row per run of consecutive
    MsgSeqNums that one group commit stored for a session, the messages concatenated in
    ``raw`` and their byte sizes in ``sizes`` (comma-separated), so that a commit writes a
    row or two per session instead of one per message. A MsgSeqNum stored again (the
    sender's number set back without a reset) is in a newer row: the highest ``id`` wins.
    """

    __tablename__ = "fix_message_runs"
    __table_args__ = (Index(None, "session_id", "last_seq"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    session_id: Mapped[str] = mapped_column(String(200))
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    sizes: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)


class FixSessionEventRow(Base):
    """Session lifecycle events (logon, logout, disconnect, reject ...) for reports."""

    __tablename__ = "fix_session_events"
    __table_args__ = (Index(None, "session_id", "ts_ns"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(200))
    ts_ns: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)


metadata = Base.metadata

instruments = InstrumentRow.__table__
commands = CommandRow.__table__
events = EventRow.__table__
orders = OrderRow.__table__
trades = TradeRow.__table__
snapshots = SnapshotRow.__table__
snapshot_parts = SnapshotPartRow.__table__
fix_sessions = FixSessionRow.__table__
fix_message_runs = FixMessageRunRow.__table__
fix_session_events = FixSessionEventRow.__table__
