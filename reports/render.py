"""HTML rendering of the end-of-day report: tables, plotly charts, one self-contained file.

plotly.js is inlined once, with the first chart (``include_plotlyjs=True``); every other
chart is a ``<div>`` plus a call into that bundle, so the file works offline and the
bundle is not repeated. Tables are plain HTML with a few lines of inline JavaScript that
sort a table when its header is clicked (numbers numerically, text alphabetically).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reports.aggregate import Candle, TopOfBook
from reports.day import NS_PER_SECOND, TradingDay
from venue.instruments import Instrument

_NUMBER = re.compile(r"-?\d+(\.\d+)?")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1b1f24}
h1{margin-bottom:4px}h2{margin-top:36px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.meta{color:#57606a}.note{background:#fff8c5;border:1px solid #d4a72c;padding:8px 12px;
border-radius:6px}nav a{margin-right:14px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #d0d7de;padding:3px 8px;white-space:nowrap}
th{background:#f6f8fa;cursor:pointer;user-select:none;position:sticky;top:0}
th.asc::after{content:" \\25B2"}th.desc::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.scroll{max-height:640px;overflow:auto;display:inline-block}
"""

_SORT_JS = """
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var asc = !th.classList.contains("asc");
    table.querySelectorAll("th").forEach(function (h) { h.classList.remove("asc", "desc"); });
    th.classList.add(asc ? "asc" : "desc");
    var num = /^-?\\d+(\\.\\d+)?$/;
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].textContent, y = b.cells[col].textContent, r;
      if (num.test(x) && num.test(y)) { r = parseFloat(x) - parseFloat(y); }
      else if (x === "" || y === "") { r = (x === "") - (y === ""); }
      else { r = x.localeCompare(y); }
      return asc ? r : -r;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""


@dataclass(slots=True)
class Section:
    anchor: str
    title: str
    body: list[str] = field(default_factory=list)


def table(frame: pd.DataFrame, *, table_id: str, caption: str = "") -> str:
    """A sortable HTML table of a DataFrame of strings/integers (values escaped)."""
    if frame.empty:
        return '<p class="meta">(none)</p>'
    columns = [str(c) for c in frame.columns]
    cells = frame.astype(str).to_numpy().tolist()
    numeric = [
        all(_NUMBER.fullmatch(row[i]) or row[i] == "" for row in cells) for i in range(len(columns))
    ]
    out = [f'<div class="scroll"><table class="sortable" id="{html.escape(table_id)}">']
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    out.append("<thead><tr>")
    out.extend(f"<th>{html.escape(c)}</th>" for c in columns)
    out.append("</tr></thead><tbody>")
    for row in cells:
        out.append("<tr>")
        for i, value in enumerate(row):
            cls = ' class="num"' if numeric[i] else ""
            out.append(f"<td{cls}>{html.escape(value)}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _label(day: TradingDay, ts_ns: int) -> str:
    """A naive local timestamp string: plotly shows it as is, whatever the viewer's zone."""
    return day.local_time(ts_ns).strftime("%Y-%m-%d %H:%M:%S.%f")


class FigureWriter:
    """Turns figures into HTML fragments; the first one carries the plotly.js bundle."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, fig: go.Figure, div_id: str) -> str:
        fragment: str = fig.to_html(
            full_html=False,
            include_plotlyjs=self.count == 0,
            div_id=div_id,
            config={"displaylogo": False, "responsive": True},
        )
        self.count += 1
        return fragment


def candle_figure(
    day: TradingDay,
    instrument: Instrument,
    candles: dict[int, Candle],
    interval_s: int,
    interval_label: str,
) -> go.Figure:
    """Price candles with volume bars below, sharing the time axis."""
    buckets = sorted(candles)
    step = interval_s * NS_PER_SECOND
    x = [_label(day, day.start_ns + b * step) for b in buckets]

    def px(ticks: int) -> float:  # floats only for drawing; tables show exact decimals
        return float(instrument.to_decimal(ticks))

    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[0.72, 0.28]
    )
    fig.add_trace(
        go.Candlestick(
            x=x,
            open=[px(candles[b].open) for b in buckets],
            high=[px(candles[b].high) for b in buckets],
            low=[px(candles[b].low) for b in buckets],
            close=[px(candles[b].close) for b in buckets],
            name="price",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(x=x, y=[candles[b].volume for b in buckets], name="volume", marker_color="#8c959f"),
        row=2,
        col=1,
    )
    fig.update_layout(
        title=f"{instrument.symbol}: {interval_label} candles ({day.tz})",
        height=520,
        showlegend=False,
        xaxis_rangeslider_visible=False,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
    )
    fig.update_yaxes(title_text="price", row=1, col=1, tickformat=f".{instrument.price_decimals}f")
    fig.update_yaxes(title_text="volume", row=2, col=1)
    return fig


def top_of_book_figure(
    day: TradingDay,
    instrument: Instrument,
    book: TopOfBook,
    end_ns: int,
    x_range: tuple[int, int] | None = None,
) -> go.Figure | None:
    """Best bid, best ask and spread over the day (step lines); None when never quoted.

    ``x_range`` (ns) sets the initial view, e.g. the trading span of the candle chart;
    the whole day stays a double-click (autoscale) away.
    """
    samples = book.samples
    if not any(bid is not None or ask is not None for _, bid, ask in samples):
        return None
    if samples[-1][0] < end_ns:
        samples = [*samples, (end_ns, samples[-1][1], samples[-1][2])]
    x = [_label(day, ts) for ts, _, _ in samples]

    def px(ticks: int | None) -> float | None:
        return None if ticks is None else float(instrument.to_decimal(ticks))

    spread = [
        px(ask - bid) if bid is not None and ask is not None else None for _, bid, ask in samples
    ]
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[0.7, 0.3]
    )
    for name, index, color in (("best bid", 1, "#1a7f37"), ("best ask", 2, "#cf222e")):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[px(s[index]) for s in samples],
                name=name,
                mode="lines",
                line={"shape": "hv", "color": color},
                connectgaps=False,
            ),
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=spread,
            name="spread",
            mode="lines",
            line={"shape": "hv", "color": "#0969da"},
            connectgaps=False,
        ),
        row=2,
        col=1,
    )
    fig.update_layout(
        title=f"{instrument.symbol}: top of book and spread",
        height=420,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "y": 1.08},
    )
    fig.update_yaxes(title_text="price", row=1, col=1, tickformat=f".{instrument.price_decimals}f")
    fig.update_yaxes(title_text="spread", row=2, col=1)
    if x_range is not None:
        fig.update_xaxes(range=[_label(day, x_range[0]), _label(day, x_range[1])])
    return fig


def page(title: str, meta: Sequence[str], sections: Iterable[Section]) -> str:
    """The whole HTML document."""
    sections = list(sections)
    nav = "".join(
        f'<a href="#{html.escape(s.anchor)}">{html.escape(s.title)}</a>' for s in sections
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        *(f'<p class="meta">{html.escape(line)}</p>' for line in meta),
        f"<nav>{nav}</nav>",
    ]
    for s in sections:
        parts.append(f'<h2 id="{html.escape(s.anchor)}">{html.escape(s.title)}</h2>')
        parts.extend(s.body)
    parts.append(f"<script>{_SORT_JS}</script></body></html>")
    return "\n".join(parts)


def note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def paragraph(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"
