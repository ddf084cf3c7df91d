"""HTML pieces: escaped sortable tables, one plotly bundle for many figures."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from reports import render


def test_table_escapes_and_marks_numeric_columns() -> None:
    frame = pd.DataFrame({"who": ["<b>x</b>", "y&z"], "px": ["1.50", "-2"], "n": [3, 4]})
    html = render.table(frame, table_id="t1")
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "y&amp;z" in html
    assert '<table class="sortable" id="t1">' in html
    assert '<td class="num">1.50</td>' in html
    assert '<td class="num">3</td>' in html
    assert "<td>y&amp;z</td>" in html


def test_empty_table() -> None:
    assert "(none)" in render.table(pd.DataFrame({"a": []}), table_id="e")


def test_plotly_bundle_is_included_once() -> None:
    writer = render.FigureWriter()
    first = writer(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), "f1")
    second = writer(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), "f2")
    assert len(first) > 1_000_000  # the inlined plotly.js
    assert len(second) < 10_000
    assert 'id="f2"' in second


def test_page_has_sort_script_and_navigation() -> None:
    section = render.Section("a", "Alpha", [render.note("hello <world>")])
    page = render.page("T", ["meta"], [section])
    assert page.startswith("<!DOCTYPE html>")
    assert '<a href="#a">Alpha</a>' in page
    assert "hello &lt;world&gt;" in page
    assert 'querySelectorAll("table.sortable th")' in page
