"""``venue report ...``: the reports sub-app (mounted by ``venue.cli`` as ``report``).

    venue report eod [--date YYYY-MM-DD] [--db URL] [--out DIR] [--tz ZONE]

Errors (no data for the date, unreadable database, unknown timezone) print one line on
stderr and exit with status 1.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from reports.day import DayError, check_day, zone

if TYPE_CHECKING:
    from reports.eod import ReportResult

DEFAULT_DB = "sqlite+aiosqlite:///var/venue.db"  # `venue run` default store
DEFAULT_OUT = Path("reports_out")

app = typer.Typer(help="End-of-day reports from the venue's store.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """End-of-day reports from the venue's store."""


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@app.command("eod")
def eod(
    day: Annotated[
        datetime | None,
        typer.Option(
            "--date",
            formats=["%Y-%m-%d"],
            help="Trading day to report (default: the latest day with data).",
            show_default=False,
        ),
    ] = None,
    db: Annotated[str, typer.Option("--db", help="SQLAlchemy URL of the venue's store.")] = (
        DEFAULT_DB
    ),
    out: Annotated[
        Path, typer.Option("--out", help="Directory for the HTML report and CSV files.")
    ] = DEFAULT_OUT,
    tz: Annotated[
        str, typer.Option("--tz", help="Timezone whose calendar day is the trading day.")
    ] = "UTC",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Build the end-of-day report of one trading day: eod-YYYY-MM-DD.html (self-contained,
    works offline) plus one CSV per table, in --out."""
    try:
        zone(tz)
        if day is not None:
            check_day(day.date())
    except DayError as exc:
        raise _fail(str(exc)) from None
    from reports.eod import ReportError  # pandas and plotly: imported when a report is built

    try:
        result = asyncio.run(_run(db, None if day is None else day.date(), out, tz, quiet))
    except ReportError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:  # --out not a writable directory
        raise _fail(f"cannot write the report to {out}: {exc.strerror or exc}") from None
    tag = " (no trading)" if result.no_trading else ""
    typer.echo(f"report: {result.html_path}{tag}")
    typer.echo(f"csv: {', '.join(p.name for p in result.csv_paths.values())}")


async def _run(db: str, day: date | None, out: Path, tz: str, quiet: bool) -> ReportResult:
    from reports.eod import build_report_async, latest_day

    if day is None:
        day = await latest_day(db, tz)
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=quiet or not console.is_terminal,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int | None) -> None:
            task = tasks.get(stage)
            if task is None:
                task = tasks[stage] = bar.add_task(f"{day} {stage}", total=total)
            bar.update(task, completed=done, total=total)

        return await build_report_async(db, day, out, tz, progress)
