"""``venue report eod`` through typer's CliRunner: the normal run and every error case."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from reports.cli import app

runner = CliRunner()


def _written(tmp_path: Path, generated_day: Any, write: Any) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'venue.db'}"
    asyncio.run(write(url, generated_day))
    return url


def test_default_date_is_latest_day_with_data(
    tmp_path: Path, generated_day: Any, write: Any
) -> None:
    url = _written(tmp_path, generated_day, write)
    out = tmp_path / "out"
    result = runner.invoke(app, ["eod", "--db", url, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "eod-2026-01-05.html").is_file()
    assert (out / "eod-2026-01-05-summary.csv").is_file()
    assert "eod-2026-01-05.html" in result.output


def test_day_without_trading_gives_a_report_that_says_so(
    tmp_path: Path, generated_day: Any, write: Any
) -> None:
    # The instruments were listed the evening before: that day has events, no trades.
    url = _written(tmp_path, generated_day, write)
    out = tmp_path / "out"
    result = runner.invoke(app, ["eod", "--db", url, "--out", str(out), "--date", "2026-01-04"])
    assert result.exit_code == 0, result.output
    assert "no trading" in result.output
    html = (out / "eod-2026-01-04.html").read_text(encoding="utf-8")
    assert "No trading on 2026-01-04" in html
    assert "Plotly.newPlot" not in html  # no charts, so no bundle either
    assert (out / "eod-2026-01-04-trades.csv").read_text().count("\n") == 1  # header only


def test_date_without_data_is_a_one_line_error(
    tmp_path: Path, generated_day: Any, write: Any
) -> None:
    url = _written(tmp_path, generated_day, write)
    result = runner.invoke(
        app, ["eod", "--db", url, "--out", str(tmp_path), "--date", "2026-02-01"]
    )
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert "no data for 2026-02-01" in result.output


def test_an_out_that_is_a_file_is_a_one_line_error(
    tmp_path: Path, generated_day: Any, write: Any
) -> None:
    url = _written(tmp_path, generated_day, write)
    taken = tmp_path / "taken"
    taken.write_text("a file")
    result = runner.invoke(app, ["eod", "--db", url, "--out", str(taken)])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0, result.output
    assert f"cannot write the report to {taken}: File exists" in result.output
    assert taken.read_text() == "a file"


def test_empty_database_is_an_error(tmp_path: Path, empty_store: Any) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'venue.db'}"
    asyncio.run(empty_store(url))
    result = runner.invoke(app, ["eod", "--db", url, "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "holds no trading data" in result.output


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "database file not found"),
        (lambda p: p.write_bytes(b"this is not a database" * 100), "cannot read"),
        (lambda p: p.write_bytes(b""), "cannot read"),  # empty file: no venue tables
    ],
    ids=["missing", "garbage", "no-tables"],
)
def test_unreadable_database_is_a_one_line_error(tmp_path: Path, make: Any, message: str) -> None:
    path = tmp_path / "venue.db"
    make(path)
    result = runner.invoke(
        app, ["eod", "--db", f"sqlite+aiosqlite:///{path}", "--date", "2026-01-05"]
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: ")
    assert message in result.output
    assert result.output.strip().count("\n") == 0
    assert not (tmp_path / "reports_out").exists()


def test_unknown_timezone_is_an_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eod", "--db", "sqlite+aiosqlite:///x.db", "--tz", "Mars/Olympus"])
    assert result.exit_code == 1
    assert "unknown timezone" in result.output


def test_bad_date_is_a_usage_error() -> None:
    result = runner.invoke(app, ["eod", "--date", "05/01/2026"])
    assert result.exit_code == 2


@pytest.mark.parametrize("day", ["2263-01-01", "9999-12-31", "1600-01-01", "0001-01-01"])
def test_a_date_the_store_cannot_hold_is_a_one_line_error(
    tmp_path: Path, generated_day: Any, write: Any, day: str
) -> None:
    url = _written(tmp_path, generated_day, write)
    result = runner.invoke(app, ["eod", "--db", url, "--out", str(tmp_path), "--date", day])
    assert result.exit_code == 1
    assert result.output == (f"error: no trading day {day}: the venue's days run from "
                             "1970-01-01 to 2262-04-10\n")


def test_timezone_moves_the_day(tmp_path: Path, generated_day: Any, write: Any) -> None:
    # 09:00-09:40 UTC is 2026-01-05 in Tokyo too (18:00 JST); 17:30 UTC EndOfDay is the 6th.
    url = _written(tmp_path, generated_day, write)
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["eod", "--db", url, "--out", str(out), "--tz", "Asia/Tokyo", "--date", "2026-01-06"]
    )
    assert result.exit_code == 0, result.output
    assert "no trading" in result.output  # only the EndOfDay expiries fall on the 6th


def test_help() -> None:
    result = runner.invoke(app, ["eod", "--help"])
    assert result.exit_code == 0
    assert "--date" in result.output
