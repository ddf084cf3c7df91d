"""A trading day made over FIX end to end, then the end-of-day report built from the store:
its numbers are checked against values computed here from the ExecutionReports the clients
received."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from reports.eod import build_report_async

pytestmark = pytest.mark.quickfix


async def test_report_of_a_day_traded_over_fix(harness, tmp_path) -> None:
    buyer = await harness.client("BUYER")
    seller = await harness.client("SELLER")
    fills: list[tuple[str, int, Decimal]] = []  # (side, qty, price) as the buyer saw them

    async def drain(client, count):
        return [await client.next_app() for _ in range(count)]

    # Three resting sells, bought in two sweeps; then the buyer sells some back.
    for n, (qty, price) in enumerate([(5, "10.00"), (7, "10.05"), (8, "10.10")]):
        seller.order(f"S{n}", "TEST", "2", qty, price)
        await drain(seller, 1)
    buyer.order("B1", "TEST", "1", 9, "10.05")  # 5 @ 10.00 + 4 @ 10.05
    buyer.order("B2", "TEST", "1", 6, "10.10")  # 3 @ 10.05 + 3 @ 10.10
    for er in await drain(buyer, 6):  # 2 acks, 4 fills
        if er[150] == "F":
            fills.append(("buy", int(er[32]), Decimal(er[31])))
    buyer.send("F", [(41, "B2"), (11, "B2X"), (55, "TEST"), (54, "1"),
                     (60, "20260101-00:00:00"), (38, "6")])  # already filled: too late
    assert (await buyer.next_app())[35] == "9"
    seller.order("S9", "TEST", "1", 4, "10.00")  # rests as a bid
    await drain(seller, 1)
    buyer.order("B3", "TEST", "2", 4, "10.00")  # buyer sells 4 @ 10.00 to the seller
    for er in await drain(buyer, 2):
        if er[150] == "F":
            fills.append(("sell", int(er[32]), Decimal(er[31])))
    await drain(seller, 4 + 1)  # the seller's fills of the sweeps and of S9

    prices = [p for _, _, p in fills]
    volume = sum(q for _, q, _ in fills)
    turnover = sum(q * p for _, q, p in fills)
    assert (len(fills), volume) == (5, 19)
    bought = [(q, p) for s, q, p in fills if s == "buy"]
    bought_qty = sum(q for q, _ in bought)
    avg_cost = sum(q * p for q, p in bought) / bought_qty
    realised = 4 * (Decimal("10.00") - avg_cost)  # average cost: the sale of 4 @ 10.00
    close = prices[-1]
    unrealised = (bought_qty - 4) * (close - avg_cost)

    await harness.venue.commit()
    url = harness.venue.options.store_url
    today = dt.datetime.now(dt.UTC).date()
    result = await build_report_async(url, today, tmp_path / "report")

    summary = result.summary.set_index("symbol").loc["TEST"]
    assert (summary["open"], summary["high"], summary["low"], summary["close"]) == (
        "10.00", "10.10", "10.00", "10.00"
    )
    assert int(summary["volume"]) == volume
    assert Decimal(summary["turnover"]) == turnover
    assert Decimal(summary["vwap"]).quantize(Decimal("0.0001")) == (turnover / volume).quantize(
        Decimal("0.0001")
    )
    assert int(summary["trades"]) == 5
    positions = result.tables["positions"]
    row = positions[positions["owner"] == "FIX.4.4:EXCH->BUYER"].iloc[0]
    assert int(row["position"]) == bought_qty - 4 == 11
    assert Decimal(row["realised_pnl"]) == realised.quantize(Decimal(row["realised_pnl"]))
    assert Decimal(row["unrealised_pnl"]) == unrealised.quantize(Decimal(row["unrealised_pnl"]))
    assert result.html_path.exists() and result.html_path.stat().st_size > 100_000
    assert set(result.csv_paths) >= {"summary", "positions", "trades"}


async def test_report_counts_each_sessions_logons_rejects_logouts_and_disconnects(
    harness, tmp_path
) -> None:
    buyer = await harness.client("BUYER")
    seller = await harness.client("SELLER")
    buyer.send("D", [(11, "NOSIDE"), (55, "TEST"), (60, "20260101-00:00:00"), (38, "5"),
                     (40, "2"), (44, "10.00")])  # no Side(54): session-level Reject
    reject = await buyer.next_admin("3")
    assert (reject[371], reject[373]) == ("54", "1")
    await seller.close()  # a Logout exchange
    harness.venue.acceptor.disconnect("FIX.4.4:EXCH->BUYER")  # dropped without a Logout
    await buyer.wait_logout()

    await harness.venue.commit()
    today = dt.datetime.now(dt.UTC).date()
    result = await build_report_async(harness.venue.options.store_url, today, tmp_path / "r")

    sessions = result.tables["sessions"].set_index("session_id")
    counts = ["logons", "logouts", "disconnects", "rejects", "other"]
    assert sessions.loc["FIX.4.4:EXCH->BUYER", counts].tolist() == [1, 0, 1, 1, 0]
    assert sessions.loc["FIX.4.4:EXCH->SELLER", counts].tolist() == [1, 1, 0, 0, 0]
    rejects = result.tables["rejects"]
    assert rejects[rejects["source"] == "FIX session"][["reason", "count"]].values.tolist() == [
        ["Required tag missing (tag 54)", 1]]
