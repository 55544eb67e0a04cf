"""What svcsim's self-contained HTML pages share (``report.html``, ``comparison.html``,
``capacity.html``): the style sheet and the table of cells."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

__all__ = ["NOTE_CSS", "PAGE_CSS", "html_table"]

PAGE_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { padding: 3px 10px; border-bottom: 1px solid #eee; }
th { text-align: left; background: #f5f5f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.85em; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
"""
#: Small grey text for a page's explanations (``<p class=note>``).
NOTE_CSS = ".note { color: #555; font-size: 0.9em; }"


def _escaped(value: object) -> str:
    return html.escape(str(value))


def _after_first(column: int, value: object) -> bool:
    return column > 0


def html_table(
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    text: Callable[[object], str] = _escaped,
    numeric: Callable[[int, object], bool] = _after_first,
) -> str:
    """A ``<table>``: ``header`` escaped, each cell as ``text(value)`` (already HTML), and
    right-aligned (``td.num``) where ``numeric(column, value)``: by default every column but
    the first, for tables of display text whose first column names the row."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{text(v)}</td>' if numeric(i, v) else f"<td>{text(v)}</td>" for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"
